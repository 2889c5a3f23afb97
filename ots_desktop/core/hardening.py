"""Process hardening applied at start-up by the CLI and the GUI."""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass

_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


@dataclass(frozen=True)
class HardeningReport:
    """What could be switched off on this platform."""

    core_dumps_disabled: bool
    not_dumpable: bool


def harden_process() -> HardeningReport:
    """Turn off core dumps so a crash cannot write secret memory to disk.

    Best effort: each step that the platform does not offer is skipped and reported.
    ``PR_SET_DUMPABLE`` 0 also stops other processes of the same user from attaching
    a debugger or reading ``/proc/<pid>/mem``.
    """
    core_off = False
    if sys.platform != "win32":  # Windows writes no core files of its own; crash dumps are the WER settings'
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            core_off = True
        except (ImportError, ValueError, OSError):
            pass
    not_dumpable = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)  # the process image: libc is in it, no ldconfig run
            not_dumpable = libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
        except (OSError, AttributeError):
            pass
    return HardeningReport(core_dumps_disabled=core_off, not_dumpable=not_dumpable)


def is_dumpable() -> bool | None:
    """Whether this process may dump core (Linux only; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # the process image: libc is in it, no ldconfig run
    return bool(libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0))
