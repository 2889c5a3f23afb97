""""Do not keep this": the password hint each system's clipboard managers read, under its real name there.

- Linux: KDE's ``x-kde-passwordManagerHint`` (Klipper, CopyQ and others honour it).
- Windows: the registered clipboard formats of the clipboard history and cloud clipboard. Qt passes a
  format to Windows under its own name only when written as ``application/x-qt-windows-mime;value="..."``.
- macOS: the ``org.nspasteboard.ConcealedType`` pasteboard type (nspasteboard.org), which clipboard
  managers and Universal Clipboard honour. Qt would put any other MIME name on the pasteboard as
  ``com.trolltech.anymime.<name>``, which nothing reads, so a converter gives it its real type.
"""

from __future__ import annotations

import sys
from typing import Any

CONCEALED_UTI = "org.nspasteboard.ConcealedType"
_KDE = {"x-kde-passwordManagerHint": b"secret"}
_WINDOWS_FORMATS = {
    "ExcludeClipboardContentFromMonitorProcessing": b"\x01\x00\x00\x00",
    "CanIncludeInClipboardHistory": b"\x00\x00\x00\x00",
    "CanUploadToCloudClipboard": b"\x00\x00\x00\x00",
}
_converters: list[Any] = []  # the one converter, once made (Qt keeps a pointer to it)


def windows_mime(format_name: str) -> str:
    """The MIME name under which Qt hands ``format_name`` to the Windows clipboard as it is."""
    return f'application/x-qt-windows-mime;value="{format_name}"'


def hint_types(platform: str = sys.platform) -> dict[str, bytes]:
    """MIME name -> value of each hint to add to a copied secret on ``platform``."""
    if platform == "win32":
        return {windows_mime(name): value for name, value in _WINDOWS_FORMATS.items()}
    if platform == "darwin":
        return {CONCEALED_UTI: b""}
    return dict(_KDE)


def pasteboard_type(mime: str) -> str | None:
    """The macOS pasteboard type the converter gives ``mime`` (None: not one of ours)."""
    return CONCEALED_UTI if mime == CONCEALED_UTI else None


def install_pasteboard_converter(platform: str = sys.platform) -> bool:
    """On macOS, teach Qt to put the concealed hint on the pasteboard under its real type; True if in place.

    Qt (6.5 and later) registers a ``QUtiMimeConverter`` when one is made, and keeps it for the app's life.
    """
    if platform != "darwin":
        return False
    if _converters:
        return True
    from PySide6 import QtCore, QtGui

    base = getattr(QtGui, "QUtiMimeConverter", None)
    if base is None:  # an older Qt: the hint travels as com.trolltech.anymime.* (see docs/platforms.md)
        return False

    class ConcealedConverter(base):  # type: ignore[misc, valid-type]
        def mimeForUti(self, uti: str) -> str:
            return CONCEALED_UTI if uti == CONCEALED_UTI else ""

        def utiForMime(self, mime: str) -> str:
            return pasteboard_type(mime) or ""

        def convertFromMime(self, mime: str, data: Any, uti: str) -> list[Any]:
            return [QtCore.QByteArray(b"")] if mime == CONCEALED_UTI else []

        def convertToMime(self, mime: str, data: list[Any], uti: str) -> Any:
            return QtCore.QByteArray(b"")

    _converters.append(ConcealedConverter())
    return True
