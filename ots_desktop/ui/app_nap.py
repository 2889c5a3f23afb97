"""macOS App Nap: keep the app's timers on time while it sits in the menu bar.

A Mac naps an app whose windows are hidden: its timers are delayed and coalesced, by minutes.
For ots that would delay the clipboard clear of a copied secret and the receipts of links
waiting to be opened. The app therefore declares an activity (``NSProcessInfo
beginActivityWithOptions:reason:``) for as long as it runs: "user initiated, allowing idle system
sleep", so it is not napped, but the Mac still sleeps when idle. Through the Objective-C runtime with
ctypes, so no PyObjC is needed. Other systems have no App Nap: nothing is done there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any, Protocol

NS_ACTIVITY_IDLE_SYSTEM_SLEEP_DISABLED = 1 << 20
NS_ACTIVITY_USER_INITIATED = 0x00FFFFFF | NS_ACTIVITY_IDLE_SYSTEM_SLEEP_DISABLED
# NSActivityUserInitiatedAllowingIdleSystemSleep
OPTIONS = NS_ACTIVITY_USER_INITIATED & ~NS_ACTIVITY_IDLE_SYSTEM_SLEEP_DISABLED
REASON = b"ots-desktop: clearing the clipboard and following one-time links on time"


class Runtime(Protocol):
    """What is needed of the Objective-C runtime."""

    def cls(self, name: str) -> int: ...
    def send(self, receiver: int, selector: str, *args: Any) -> int: ...


class ObjcRuntime:
    """libobjc through ctypes: ``send`` builds the exact prototype of each call (arm64 needs it)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        lib.objc_getClass.restype = ctypes.c_void_p
        lib.objc_getClass.argtypes = [ctypes.c_char_p]
        lib.sel_registerName.restype = ctypes.c_void_p
        lib.sel_registerName.argtypes = [ctypes.c_char_p]
        self._msg_send = int(ctypes.cast(lib.objc_msgSend, ctypes.c_void_p).value or 0)

    def cls(self, name: str) -> int:
        return int(self._lib.objc_getClass(name.encode()) or 0)

    def send(self, receiver: int, selector: str, *args: Any) -> int:
        # Each argument is a ctypes value; its type gives the prototype (variadic calls break on arm64).
        prototype = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, *(type(a) for a in args))
        call = prototype(self._msg_send)
        return int(call(receiver, self._lib.sel_registerName(selector.encode()), *args) or 0)


def _runtime() -> Runtime | None:
    path = ctypes.util.find_library("objc")
    if path is None:
        return None
    try:
        return ObjcRuntime(ctypes.CDLL(path))
    except (OSError, AttributeError):
        return None


class Activity:
    """A declared activity; :meth:`end` lets the system nap the app again."""

    def __init__(self, runtime: Runtime, info: int, token: int) -> None:
        self._runtime, self._info, self._token = runtime, info, token

    def end(self) -> None:
        if self._token:
            self._runtime.send(self._info, "endActivity:", ctypes.c_void_p(self._token))
            self._runtime.send(self._token, "release")
            self._token = 0


def keep_timers_on_time(platform: str = sys.platform, runtime: Runtime | None = None) -> Activity | None:
    """On macOS, declare the activity (see the module's note); None elsewhere or when it cannot be declared."""
    if platform != "darwin":
        return None
    runtime = runtime or _runtime()
    if runtime is None:
        return None
    info = runtime.send(runtime.cls("NSProcessInfo"), "processInfo")
    reason = runtime.send(runtime.cls("NSString"), "stringWithUTF8String:", ctypes.c_char_p(REASON))
    token = runtime.send(info, "beginActivityWithOptions:reason:", ctypes.c_uint64(OPTIONS), ctypes.c_void_p(reason))
    if not token:
        return None
    runtime.send(token, "retain")  # the returned object is autoreleased; the activity lasts while it lives
    return Activity(runtime, info, token)
