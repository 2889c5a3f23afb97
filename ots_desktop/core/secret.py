"""A wipeable buffer for secret bytes.

CPython gives no way to wipe an immutable ``bytes`` or ``str``, so secrets live in a
fixed-size ``bytearray`` that is zeroed when the buffer is closed. The buffer is never
resized: growing a ``bytearray`` moves its content and leaves the old copy behind in
freed memory. Memory locking (``mlock``) is attempted and its failure is tolerated.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hmac
import sys
from types import TracebackType
from typing import BinaryIO, NoReturn

from ots_desktop.core.errors import SecretTooLargeError

_READ_CHUNK = 64 * 1024


def _libc() -> ctypes.CDLL | None:
    if sys.platform == "win32":
        return None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _address(buf: bytearray) -> int:
    return ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))


def wipe(buf: bytearray | memoryview) -> None:
    """Overwrite a writable buffer with zeros in place."""
    view = memoryview(buf).cast("B")
    if view.readonly:
        raise TypeError("cannot wipe a read-only buffer")
    size = len(view)
    if size:
        ctypes.memset((ctypes.c_char * size).from_buffer(view), 0, size)


class SecretBuffer:
    """Secret bytes held in one fixed ``bytearray`` and zeroed on close.

    ``repr`` and ``str`` never show the content, pickling is refused, and ``==``
    compares in constant time. Use it as a context manager so the wipe cannot be
    forgotten.
    """

    __slots__ = ("__weakref__", "_buf", "_closed", "_locked")

    def __init__(self, data: bytes | bytearray | memoryview = b"", *, wipe_source: bool = False) -> None:
        self._buf = bytearray(len(data))
        self._buf[:] = data
        self._closed = False
        self._locked = self._lock()
        if wipe_source and isinstance(data, (bytearray, memoryview)):
            wipe(data)

    @classmethod
    def allocate(cls, size: int) -> SecretBuffer:
        """A zero-filled buffer of ``size`` bytes, to be filled through :meth:`writable`."""
        buf = cls()
        buf._buf = bytearray(size)
        buf._locked = buf._lock()
        return buf

    @classmethod
    def from_stream(cls, stream: BinaryIO, max_size: int) -> SecretBuffer:
        """Read a whole stream into a buffer, refusing more than ``max_size`` bytes.

        Chunks are read into scratch buffers that are wiped once copied, so no
        partial copy of the secret stays behind in this process's heap.
        """
        parts: list[tuple[bytearray, int]] = []
        total = 0
        try:
            while True:
                part = bytearray(_READ_CHUNK)
                parts.append((part, 0))
                n = stream.readinto(part)  # type: ignore[attr-defined]
                if not n:
                    break
                parts[-1] = (part, n)
                total += n
                if total > max_size:
                    raise SecretTooLargeError(max_size)
            out = cls.allocate(total)
            pos = 0
            for part, used in parts:
                out._buf[pos : pos + used] = memoryview(part)[:used]
                pos += used
            return out
        finally:
            for part, _ in parts:
                wipe(part)

    def _lock(self) -> bool:
        if _LIBC is None or not self._buf:
            return False
        try:
            return int(_LIBC.mlock(ctypes.c_void_p(_address(self._buf)), ctypes.c_size_t(len(self._buf)))) == 0
        except (AttributeError, OSError):
            return False

    def _unlock(self) -> None:
        if self._locked and _LIBC is not None:
            _LIBC.munlock(ctypes.c_void_p(_address(self._buf)), ctypes.c_size_t(len(self._buf)))
            self._locked = False

    @property
    def closed(self) -> bool:
        """True once the content has been wiped."""
        return self._closed

    @property
    def locked(self) -> bool:
        """True when the operating system agreed to keep the pages out of swap."""
        return self._locked

    def _check(self) -> None:
        if self._closed:
            raise ValueError("secret buffer is closed")

    def view(self) -> memoryview:
        """A read-only view of the content, valid until :meth:`close`."""
        self._check()
        return memoryview(self._buf).toreadonly()

    def writable(self) -> memoryview:
        """A writable view, for filling a buffer made by :meth:`allocate`."""
        self._check()
        return memoryview(self._buf)

    def reveal_text(self, encoding: str = "utf-8") -> str:
        """Decode the content to ``str`` for a widget or stdout.

        The returned ``str`` cannot be wiped; callers keep it only as long as needed.
        """
        self._check()
        return self._buf.decode(encoding)

    def reveal_text_escaped(self) -> tuple[str, bool]:
        """Decode as UTF-8, with invalid bytes shown as ``\\xNN``; the flag says whether any were.

        Nothing is lost: the text is shown, never dropped, and the caller says it was escaped.
        """
        self._check()
        try:
            return self._buf.decode("utf-8"), False
        except UnicodeDecodeError:
            return self._buf.decode("utf-8", "backslashreplace"), True

    def close(self) -> None:
        """Zero the content and release the memory lock. Safe to call twice."""
        if not self._closed:
            wipe(self._buf)
            self._unlock()
            self._closed = True

    def __enter__(self) -> SecretBuffer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Interpreter shutdown may have torn down ctypes already.
        with contextlib.suppress(Exception):
            self.close()

    def __len__(self) -> int:
        return len(self._buf)

    def __bool__(self) -> bool:
        return bool(self._buf) and not self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._buf)} bytes"
        return f"<SecretBuffer [redacted, {state}]>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretBuffer):
            other._check()
            other_bytes: bytes | bytearray | memoryview = other._buf
        elif isinstance(other, (bytes, bytearray, memoryview)):
            other_bytes = other
        else:
            return NotImplemented
        self._check()
        return hmac.compare_digest(self._buf, other_bytes)

    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a SecretBuffer cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("a SecretBuffer cannot be copied; slice its view() explicitly")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("a SecretBuffer cannot be copied")


def without_final_newline(secret: SecretBuffer) -> SecretBuffer:
    """``secret`` less one trailing ``\n`` or ``\r\n`` (what ``echo`` and terminals add).

    The input is closed; a new buffer is returned only when something was cut.
    """
    view = secret.view()
    end = len(view)
    if end and view[end - 1] == 0x0A:
        end -= 1
        if end and view[end - 1] == 0x0D:
            end -= 1
    if end == len(view):
        view.release()
        return secret
    trimmed = SecretBuffer(view[:end])
    view.release()
    secret.close()
    return trimmed
