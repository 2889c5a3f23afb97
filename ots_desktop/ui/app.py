"""``ots-desktop``: start the desktop app (window, tray, one event loop)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

from ots_desktop import __version__, runtime
from ots_desktop.core.errors import OtsError
from ots_desktop.core.hardening import harden_process
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.clipboard import SecureClipboard
from ots_desktop.ui.context import EventBridge, Level, Notifier, UiContext
from ots_desktop.ui.icons import app_icon
from ots_desktop.ui.qtloop import start_loop
from ots_desktop.ui.services import Services
from ots_desktop.ui.single_instance import SingleInstance
from ots_desktop.ui.tasks import TaskRunner, describe_error


def new_context(services: Services) -> UiContext:
    """The objects every page shares, for one installation."""
    notifier = Notifier()

    def report(text: str) -> None:
        notifier.notify("ots-desktop", text, Level.ERROR)

    return UiContext(services=services, events=EventBridge(services), notifier=notifier,
                     clipboard=SecureClipboard(services.config.clipboard_clear_s), tasks=TaskRunner(report))


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ots-desktop", description="Hand a secret to one person, once.")
    parser.add_argument("files", nargs="*", help="files to queue for sending")
    parser.add_argument("--version", action="version", version=f"ots-desktop {__version__}")
    parser.add_argument("--hidden", action="store_true", help="start in the tray without showing the window")
    parser.add_argument("--exit-after-paint", action="store_true", help=argparse.SUPPRESS)  # cold-start benchmark
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    harden_process()
    args_in = sys.argv if argv is None else argv
    app = QApplication(args_in)
    args = _arguments(app.arguments()[1:])
    app.setApplicationName("ots-desktop")
    app.setApplicationDisplayName("ots-desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("dev.otsdesktop.ots-desktop")
    app.setWindowIcon(app_icon())
    try:
        services = Services()
    except OtsError as exc:
        QMessageBox.critical(None, "ots-desktop cannot start", str(exc))
        return int(exc.exit_code)
    instance = SingleInstance(services.paths.state_dir)
    if not args.exit_after_paint and instance.forward(args.files):
        return 0
    instance.listen()
    if services.needs_keyfile_passphrase and not args.exit_after_paint and not _ask_keyfile_passphrase(services):
        return 1
    loop = start_loop(app, install=False)
    return _run(app, loop, services, instance, args)


def _run(app: QApplication, loop: object, services: Services, instance: SingleInstance,
         args: argparse.Namespace) -> int:
    from ots_desktop.ui.main_window import MainWindow
    from ots_desktop.ui.tray import Tray

    ctx = new_context(services)
    window = MainWindow(ctx)
    tray = Tray(ctx, window)
    if Tray.available():
        tray.show()
        window.keep_in_tray = True
        app.setQuitOnLastWindowClosed(False)
    instance.activated.connect(window.open_files)
    if args.exit_after_paint:
        window.first_painted.connect(lambda: QTimer.singleShot(0, window.quit_app))
    else:
        ctx.tasks.start(_open_audit(ctx, window))
    if args.files:
        window.open_files(args.files)
    elif not args.hidden or not window.keep_in_tray:
        window.show()
    if args.exit_after_paint:
        pass  # the benchmark ends at the first paint; nothing needs the reactor
    elif window.isVisible():
        window.first_painted.connect(lambda: runtime.install(loop))  # type: ignore[arg-type]
    else:
        runtime.install(loop)  # type: ignore[arg-type]
    try:
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_forever()  # type: ignore[attr-defined]
    finally:
        window.receive_page.shutdown()
        ctx.clipboard.clear_if_ours()
        ctx.tasks.cancel_all()
        tray.hide()
        instance.close()
        if runtime.installed_loop() is loop:
            runtime.shutdown(loop)  # type: ignore[arg-type]
        ctx.events.close()
        services.close()
    return 0


def _ask_keyfile_passphrase(services: Services) -> bool:
    """Ask for the key file's passphrase (keystore = "file"); False if the user cancels."""
    dialog = QInputDialog()
    dialog.setWindowTitle("ots-desktop")
    dialog.setLabelText("Passphrase of the audit key file:")
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    dialog.setInputMethodHints(Qt.InputMethodHint.ImhSensitiveData | Qt.InputMethodHint.ImhNoPredictiveText)
    if dialog.exec() != QInputDialog.DialogCode.Accepted:
        return False
    text = dialog.textValue()
    dialog.setTextValue("")
    services.set_keyfile_passphrase(SecretBuffer(bytearray(text.encode("utf-8")), wipe_source=True))
    del text
    return True


async def _open_audit(ctx: UiContext, window: object) -> None:
    """Open the audit log now, so a keychain or tampering problem shows at start, not at the first share."""
    banner = getattr(window, "banner", None)
    try:
        log = await ctx.services.audit()
        log.require_usable()
    except OtsError as exc:
        text = (f"{describe_error(exc)} Sharing and receiving stay off until the audit log can open and "
                "verifies: nothing happens off the record.")
        if banner is not None:
            banner.error(text)
