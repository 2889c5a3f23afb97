"""Windows and macOS code paths, exercised here through the modules that hold them.

Nothing in this run is Windows or macOS: where a test stands in for a part of those systems (a
Credential Manager error, a Windows event loop without signal handlers, the console's device names),
it says so.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import socket
import ssl
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from ots_desktop.cli import terminal
from ots_desktop.core import private_files
from ots_desktop.core.audit import keystore
from ots_desktop.core.audit.forward_targets import parse_syslog_url
from ots_desktop.core.config import Config, load_config, save_config
from ots_desktop.core.errors import ExitCode, InputError
from ots_desktop.runtime import wake_for_signals
from ots_desktop.server.app import _install_signal_handlers
from ots_desktop.server.stores import check_store_url
from ots_desktop.server.wormhole_services import ServerError
from tests.support.tls import ThrowawayPKI, make_pki


def test_every_file_is_opened_binary_where_the_system_has_text_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows' O_BINARY (0x8000), defined here for the test: the module reads it at import.
    monkeypatch.setattr(os, "O_BINARY", 0x8000, raising=False)
    try:
        reloaded = importlib.reload(private_files)
        assert reloaded.flags() & 0x8000
        assert reloaded.flags(exclusive=True) & os.O_EXCL
    finally:
        monkeypatch.undo()
        importlib.reload(private_files)
    assert private_files.flags() & private_files.NOFOLLOW == private_files.NOFOLLOW


def test_text_files_keep_lf_line_ends_and_are_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(path, Config(relay_url="https://relay.example.com", clipboard_clear_s=45))
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.count(b"\n") >= 2
    assert load_config(path, environ={}).relay_url == "https://relay.example.com"
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("*.tmp"))


def test_a_new_file_never_follows_a_planted_link(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_bytes(b"keep")
    link = tmp_path / "planted"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        private_files.create_new(link)
    with pytest.raises(OSError):
        private_files.write_text(link, "overwrite")
    assert target.read_bytes() == b"keep"


def test_terminal_questions_use_the_console_names_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stand-ins for the console: on Windows CONIN$ and CONOUT$ are device names; here they are a FIFO
    # and a file in the current folder, so the Windows branch runs with real reads and writes.
    monkeypatch.chdir(tmp_path)
    assert terminal.console_names("win32") == ("CONIN$", "CONOUT$")
    assert terminal.console_names("linux") == ("/dev/tty", "/dev/tty")
    assert not terminal.have_terminal("win32")
    (tmp_path / "CONIN$").write_text("")
    assert terminal.have_terminal("win32")
    (tmp_path / "CONIN$").unlink()
    os.mkfifo(tmp_path / "CONIN$")
    (tmp_path / "CONOUT$").write_text("")
    answers = iter([b"Yes\n", b"nope\n"])

    def type_answer() -> None:
        with open(tmp_path / "CONIN$", "wb") as console:
            console.write(next(answers))

    for expected in (True, False):
        typist = threading.Thread(target=type_answer)
        typist.start()
        assert terminal.ask_yes_no("Compare the words?", platform="win32") is expected
        typist.join(timeout=10)
    assert (tmp_path / "CONOUT$").read_text().endswith("Compare the words? [y/N] ")


class _CredentialError(Exception):
    """Stand-in for pywintypes.error (not installable here): (winerror, funcname, strerror)."""

    def __init__(self, winerror: int, funcname: str, strerror: str) -> None:
        super().__init__(winerror, funcname, strerror)
        self.winerror, self.funcname, self.strerror = winerror, funcname, strerror


def test_a_credential_manager_error_is_a_keychain_error_with_exit_4() -> None:
    error = keystore.refused("write", _CredentialError(1312, "CredWrite", "A specified logon session does not exist"))
    assert isinstance(error, keystore.KeychainError)
    assert error.exit_code == ExitCode.KEYCHAIN == 4
    assert "CredWrite failed with Windows error 1312: A specified logon session does not exist" in error.message


def test_a_keychain_store_turns_any_backend_error_into_a_keychain_error() -> None:
    # A stand-in that raises what the Windows backend raises. Not a keyring.backend.KeyringBackend subclass:
    # keyring registers every subclass, and this one would then be chosen as the keychain of later tests.
    class FailingBackend:
        def get_password(self, service: str, username: str) -> str | None:
            raise _CredentialError(1168, "CredRead", "Element not found")

        def set_password(self, service: str, username: str, password: str) -> None:
            raise _CredentialError(5, "CredWrite", "Access is denied")

        def delete_password(self, service: str, username: str) -> None:
            raise _CredentialError(5, "CredDelete", "Access is denied")

    store = keystore.KeychainStore("scope", backend=FailingBackend())  # type: ignore[arg-type]
    for call in (lambda: store.get("k"), lambda: store.set("k", "v"), lambda: store.delete("k")):
        with pytest.raises(keystore.KeychainError, match="Windows error"):
            call()


def test_windows_credentials_are_kept_on_this_machine() -> None:
    class WinVaultKeyring:  # stand-in with the real backend's module and name (it cannot load here)
        persist = "enterprise"

    WinVaultKeyring.__module__ = "keyring.backends.Windows"
    backend = keystore.local_only(WinVaultKeyring())  # type: ignore[arg-type]
    assert backend.persist == "local machine"  # type: ignore[attr-defined]


def test_unix_sockets_are_refused_clearly_on_windows() -> None:
    assert parse_syslog_url("unix:///dev/log", platform="linux").path == "/dev/log"
    with pytest.raises(InputError, match="Windows does not offer"):
        parse_syslog_url("unix:///dev/log", platform="win32")
    assert check_store_url("unix:///run/redis.sock?db=0", platform="linux")
    with pytest.raises(ServerError, match="Windows does not offer"):
        check_store_url("unix:///run/redis.sock?db=0", platform="win32")


def test_reuse_port_is_refused_where_the_system_has_no_so_reuseport(monkeypatch: pytest.MonkeyPatch) -> None:
    from ots_desktop.cli.main import cli

    monkeypatch.delattr(socket, "SO_REUSEPORT", raising=False)  # as on Windows
    result = CliRunner().invoke(cli, ["server", "--reuse-port", "--no-wormhole"])
    assert result.exit_code == 2
    assert "no SO_REUSEPORT" in result.output


def test_signals_reach_a_loop_without_signal_handlers() -> None:
    class WindowsLikeLoop(asyncio.SelectorEventLoop):  # Windows loops raise this from add_signal_handler
        def add_signal_handler(self, *args: object, **kwargs: object) -> None:
            raise NotImplementedError

    loop = WindowsLikeLoop()
    got: list[int] = []
    try:
        before = signal.getsignal(signal.SIGUSR1)
        undo = _install_signal_handlers(loop, got.append, (signal.SIGUSR1,))
        assert len(undo) == 1

        async def wait() -> None:
            os.kill(os.getpid(), signal.SIGUSR1)
            async with asyncio.timeout(10):
                while not got:
                    await asyncio.sleep(0.01)

        loop.run_until_complete(wait())
        assert got == [signal.SIGUSR1]
        for step in undo:
            step()
        assert signal.getsignal(signal.SIGUSR1) == before
    finally:
        loop.close()


def test_a_windows_selector_loop_keeps_waking_for_ctrl_c() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert wake_for_signals(loop, platform="linux") is None
        stop = wake_for_signals(loop, platform="win32", period_s=0.01)
        assert stop is not None
        wakes: list[float] = []
        original = loop._selector.select  # type: ignore[attr-defined]

        def counting(timeout: float | None = None) -> object:
            wakes.append(-1.0 if timeout is None else timeout)
            return original(timeout)

        loop._selector.select = counting  # type: ignore[attr-defined]
        loop.run_until_complete(asyncio.sleep(0.3))
        # Without the wake-ups the idle loop would sleep in one select() for the whole 0.3 s.
        assert len(wakes) >= 5 and all(0 <= t <= 0.02 for t in wakes[1:-1])
        stop()
    finally:
        loop.close()


def test_the_password_hint_goes_under_each_systems_own_name() -> None:
    from ots_desktop.ui import clipboard_hints

    assert clipboard_hints.hint_types("linux") == {"x-kde-passwordManagerHint": b"secret"}
    windows = clipboard_hints.hint_types("win32")
    assert windows['application/x-qt-windows-mime;value="ExcludeClipboardContentFromMonitorProcessing"'] == \
        b"\x01\x00\x00\x00"
    assert windows['application/x-qt-windows-mime;value="CanIncludeInClipboardHistory"'] == b"\x00" * 4
    assert windows['application/x-qt-windows-mime;value="CanUploadToCloudClipboard"'] == b"\x00" * 4
    assert clipboard_hints.hint_types("darwin") == {"org.nspasteboard.ConcealedType": b""}
    assert clipboard_hints.pasteboard_type("org.nspasteboard.ConcealedType") == "org.nspasteboard.ConcealedType"
    assert clipboard_hints.pasteboard_type("text/plain") is None
    assert clipboard_hints.install_pasteboard_converter("linux") is False


def test_one_data_directory_is_one_keychain_scope_however_it_is_spelled(tmp_path: Path) -> None:
    real = tmp_path / "real" / "data"
    real.mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "real")  # as /tmp is /private/tmp on macOS
    alias = tmp_path / "alias" / "data"
    assert keystore.scope_for(alias, "darwin") == keystore.scope_for(real, "darwin")
    assert keystore.scope_for(alias, "win32") == keystore.scope_for(real, "win32")
    assert keystore.scope_for(tmp_path / "Real" / "DATA", "win32") == keystore.scope_for(real, "win32")
    # Linux keeps the path as given (case matters there, and existing entries keep their scope).
    assert keystore.scope_for(alias, "linux") != keystore.scope_for(real, "linux")
    assert keystore.scope_for(real) == keystore.scope_for(real, "linux")


def _handshake(context: object, pki: ThrowawayPKI) -> str:
    """A TLS handshake with a local server whose certificate ``pki``'s CA signed: "ok" or the refusal."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(pki.server_cert, pki.server_key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1"):  # type: ignore[attr-defined]
                return "ok"
    except ssl.SSLCertVerificationError as exc:
        return f"refused: {exc.verify_message}"
    finally:
        thread.join(timeout=10)
        listener.close()


def test_macos_and_windows_verify_with_the_systems_own_trust_store(tmp_path: Path) -> None:
    import truststore

    from ots_desktop.core.tls_trust import verifying_context

    pki = make_pki(tmp_path)
    for platform in ("darwin", "win32"):
        context = verifying_context(platform=platform)
        assert isinstance(context, truststore.SSLContext)
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2
        # truststore runs here too (on OpenSSL's system paths): a CA the system does not know is refused.
        assert _handshake(context, pki).startswith("refused")
    linux = verifying_context(platform="linux")
    assert not isinstance(linux, truststore.SSLContext)
    assert linux.minimum_version == ssl.TLSVersion.TLSv1_2
    # A CA file given with --ca-file is the only trust, on every system.
    assert _handshake(verifying_context(pki.ca_cert, platform="darwin"), pki) == "ok"
    assert _handshake(verifying_context(pki.ca_cert, platform="linux"), pki) == "ok"


def test_an_ots_home_on_a_windows_network_share_is_refused_clearly() -> None:
    from ots_desktop.core.errors import ConfigError
    from ots_desktop.core.paths import app_paths

    for unc in (r"\\fileserver\homes\alice\ots", "//fileserver/homes/alice/ots"):
        with pytest.raises(ConfigError, match="network share") as caught:
            app_paths({"OTS_HOME": unc}, platform="win32")
        assert caught.value.field == "OTS_HOME"
    local = app_paths({"OTS_HOME": r"C:\Users\alice\ots"}, platform="win32")
    assert local.data_dir.name == "data"


def test_without_the_speech_extra_the_app_has_no_speak_button_and_no_error() -> None:
    # A process where QtTextToSpeech cannot be imported, as with the desktop extra alone (no PySide6-Addons).
    import subprocess
    import sys

    script = ("import sys\nsys.modules['PySide6.QtTextToSpeech'] = None\n"
              "from PySide6.QtWidgets import QApplication\napp = QApplication([])\n"
              "from ots_desktop.ui.send.speech import QTextToSpeech, Speaker\n"
              "print(QTextToSpeech is None, Speaker().available, Speaker('mock').available)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().split() == ["True", "False", "False"]


def test_shortcuts_in_text_are_written_the_macos_way_on_macos() -> None:
    from ots_desktop.ui.key_names import native

    tip = "Search every column (Ctrl+F); Ctrl+Shift+V shares; Ctrl+1 to Ctrl+4; Ctrl+Enter; F1"
    assert native(tip, "linux") == tip
    assert native(tip, "win32") == tip
    assert native(tip, "darwin") == ("Search every column (\u2318F); \u21e7\u2318V shares; \u23181 to \u23184; "
                                     "\u2318\u21a9; F1")
    assert native("Alt+Shift+Ctrl+Meta+Q", "darwin") == "\u2303\u2325\u21e7\u2318Q"  # Apple's fixed order
    assert native("Control key, Ctrl alone, Shift+", "darwin") == "Control key, Ctrl alone, Shift+"


def test_app_nap_is_held_off_with_a_user_initiated_activity_on_macos() -> None:
    import ctypes
    import ctypes.util

    from ots_desktop.ui import app_nap

    class Recorder:  # stands in for the Objective-C runtime (there is none here): records each message
        def __init__(self) -> None:
            self.sent: list[tuple[str, tuple[object, ...]]] = []

        def cls(self, name: str) -> int:
            return {"NSProcessInfo": 11, "NSString": 12}[name]

        def send(self, receiver: int, selector: str, *args: object) -> int:
            values = tuple(a.value if isinstance(a, ctypes._SimpleCData) else a for a in args)
            self.sent.append((selector, (receiver, *values)))
            return {"processInfo": 21, "stringWithUTF8String:": 22, "beginActivityWithOptions:reason:": 23}.get(
                selector, 0)

    assert app_nap.keep_timers_on_time("linux", Recorder()) is None
    runtime = Recorder()
    activity = app_nap.keep_timers_on_time("darwin", runtime)
    assert activity is not None
    assert runtime.sent[:4] == [("processInfo", (11,)), ("stringWithUTF8String:", (12, app_nap.REASON)),
                                ("beginActivityWithOptions:reason:", (21, app_nap.OPTIONS, 22)), ("retain", (23,))]
    # User initiated, but the Mac may still sleep when idle (NSActivityUserInitiatedAllowingIdleSystemSleep).
    assert app_nap.OPTIONS == 0x00EFFFFF
    activity.end()
    activity.end()  # once only
    assert runtime.sent[4:] == [("endActivity:", (21, 23)), ("release", (23,))]
    if ctypes.util.find_library("objc") is None:  # no Objective-C runtime on this machine: nothing to declare
        assert app_nap.keep_timers_on_time("darwin") is None
