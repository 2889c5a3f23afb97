"""One running app per user and installation: a second launch hands over and exits.

The first instance listens on a local socket named after its state directory, open
to this user only. A later launch connects (``handoff.hand_over`` on POSIX, ``forward``
elsewhere), sends ``show`` (and any files it was given to send), and quits; the first
instance raises its window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from ots_desktop.ui.handoff import socket_name

CONNECT_TIMEOUT_MS = 1000
MAX_MESSAGE = 64 * 1024


class SingleInstance(QObject):
    """Claim the instance socket, or forward to the app that holds it."""

    activated = Signal(list)  # file paths (str) the other launch was given

    def __init__(self, state_dir: Path) -> None:
        super().__init__()
        self.name = socket_name(state_dir)
        self._server: QLocalServer | None = None
        self._clients: list[QLocalSocket] = []

    def forward(self, files: list[str]) -> bool:
        """True if another instance is running and took the request (this launch should exit)."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        import json

        socket.write(json.dumps({"command": "show", "files": files}).encode("utf-8") + b"\n")
        socket.flush()
        socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        return True

    def listen(self) -> bool:
        """Become the running instance; False if the socket cannot be claimed."""
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A crashed instance leaves its socket file behind; nobody answered on it.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._clients.append(socket)
            socket.readyRead.connect(self._drain)
            socket.disconnected.connect(self._drain)

    def _drain(self) -> None:
        for socket in list(self._clients):
            while socket.canReadLine():
                self._handle(bytes(socket.readLine(MAX_MESSAGE).data()))
            gone = socket.state() != QLocalSocket.LocalSocketState.ConnectedState
            if gone or socket.bytesAvailable() > MAX_MESSAGE:
                self._clients.remove(socket)
                socket.abort()
                socket.deleteLater()

    def _handle(self, line: bytes) -> None:
        import json

        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("command") != "show":
            return
        files = [f for f in message.get("files", []) if isinstance(f, str)]
        self.activated.emit(files)

    def close(self) -> None:
        """Stop listening."""
        for socket in self._clients:
            socket.abort()
        self._clients.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
