"""``ots-desktop``: start the desktop app (window, tray, one event loop).

The window is painted first, from a handful of Qt modules; then come the settings,
the pages, the event loop and the tray, and last the wormhole stack (Twisted). A
second launch hands its files to the running app before any window appears.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from ots_desktop import __version__
from ots_desktop.core.errors import OtsError
from ots_desktop.core.paths import app_paths
from ots_desktop.ui.handoff import hand_over
from ots_desktop.ui.icons import app_icon
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.scroll_accessibility import install_scroll_area_interfaces

if TYPE_CHECKING:
    import asyncio

    from ots_desktop.core.paths import AppPaths
    from ots_desktop.ui.context import UiContext
    from ots_desktop.ui.services import Services
    from ots_desktop.ui.single_instance import SingleInstance

PAINT_WAIT_MS = 3000  # a window manager that never maps the window must not hold the start


def new_context(services: Services) -> UiContext:
    """The objects every page shares, for one installation."""
    from ots_desktop.ui.clipboard import SecureClipboard
    from ots_desktop.ui.context import EventBridge, Level, Notifier, UiContext
    from ots_desktop.ui.tasks import TaskRunner

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
    # For the cold-start benchmark and the process tests: quit at the first paint, or once fully started.
    parser.add_argument("--exit-after-paint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--exit-when-ready", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    args_in = sys.argv if argv is None else argv
    app = QApplication(args_in)
    install_scroll_area_interfaces()  # before any window: a screen reader must not crash the app
    args = _arguments(app.arguments()[1:])
    app.setApplicationName("ots-desktop")
    app.setApplicationDisplayName("ots-desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("dev.otsdesktop.ots-desktop")
    app.setWindowIcon(app_icon())
    benchmark = args.exit_after_paint or args.exit_when_ready
    try:
        paths = app_paths().ensure()
    except OtsError as exc:
        _cannot_start(None, exc)
        return int(exc.exit_code)
    handed = False if benchmark else hand_over(paths.state_dir, args.files)
    if handed is None:  # no POSIX socket to knock on: ask through Qt (it costs QtNetwork before the paint)
        from ots_desktop.ui.single_instance import SingleInstance

        handed = SingleInstance(paths.state_dir).forward(args.files)
    if handed:
        return 0
    window = MainWindow()
    if args.files or not args.hidden or not _tray_available():
        _show_and_paint(window)
    if args.exit_after_paint:
        return 0
    return _start_after_paint(app, window, paths, args)


def _start_after_paint(app: QApplication, window: MainWindow, paths: AppPaths, args: argparse.Namespace) -> int:
    """Everything the first paint did not need: hardening, settings, the event loop, the pages, the tray."""
    from ots_desktop.core.hardening import harden_process
    from ots_desktop.ui.single_instance import SingleInstance

    benchmark = args.exit_when_ready
    instance = SingleInstance(paths.state_dir)
    instance.listen()
    # Before any secret can exist (none can before the pages are built): no core dumps, no ptrace.
    harden_process()
    from ots_desktop.ui.services import Services

    try:
        services = Services(paths)
    except OtsError as exc:
        _cannot_start(window if window.isVisible() else None, exc)
        instance.close()
        return int(exc.exit_code)
    if services.needs_keyfile_passphrase and not benchmark and not _ask_keyfile_passphrase(services):
        instance.close()
        return 1
    from ots_desktop.ui.qtloop import start_loop

    loop = start_loop(app, install=False)
    return _run(app, loop, window, services, instance, args)


def _cannot_start(parent: MainWindow | None, exc: OtsError) -> None:
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.critical(parent, "ots-desktop cannot start", str(exc))


def _tray_available() -> bool:
    from PySide6.QtWidgets import QSystemTrayIcon

    return QSystemTrayIcon.isSystemTrayAvailable()


def _show_and_paint(window: MainWindow) -> None:
    """Show the window and let Qt paint it before anything slow is imported or built."""
    spin = QEventLoop()
    window.first_painted.connect(spin.quit)
    QTimer.singleShot(PAINT_WAIT_MS, spin.quit)
    window.show()
    if not window.painted:
        spin.exec()
    window.first_painted.disconnect(spin.quit)


def _run(app: QApplication, loop: asyncio.AbstractEventLoop, window: MainWindow, services: Services,
         instance: SingleInstance, args: argparse.Namespace) -> int:
    from ots_desktop import runtime
    from ots_desktop.ui import app_nap, system_events
    from ots_desktop.ui.tray import Tray

    ctx = new_context(services)
    window.populate(ctx)
    tray = Tray(ctx, window)
    if Tray.available():
        tray.show()
        window.keep_in_tray = True
        app.setQuitOnLastWindowClosed(False)
    instance.activated.connect(window.open_files)
    system_events.install(window)
    activity = app_nap.keep_timers_on_time()  # macOS: no App Nap delaying the clipboard clear or receipts
    if args.files:
        window.open_files(args.files)
    if not args.exit_when_ready:
        ctx.tasks.start(_open_audit(ctx, window))
    # The pages paint first; Twisted (most of what is left of the start) comes on the next turn.
    def start_twisted() -> None:
        runtime.install(loop)
        runtime.quiet_library_errors()  # a library's own error report is no traceback on the terminal

    QTimer.singleShot(0, start_twisted)
    if args.exit_when_ready:
        QTimer.singleShot(0, window.quit_app)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_forever()
    finally:
        window.receive_page.shutdown()
        ctx.clipboard.clear_if_ours()
        ctx.tasks.cancel_all()
        tray.hide()
        if activity is not None:
            activity.end()
        instance.close()
        if runtime.installed_loop() is loop:
            runtime.shutdown(loop)  # type: ignore[arg-type]
        ctx.events.close()
        services.close()
        # Waits for work still on the loop's worker threads (a keychain query, an export): a Qt
        # worker thread destroyed while it runs aborts the process.
        loop.close()
    return 0


def _ask_keyfile_passphrase(services: Services) -> bool:
    """Ask for the key file's passphrase (keystore = "file"); False if the user cancels."""
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

    from ots_desktop.core.secret import SecretBuffer
    from ots_desktop.ui.masked_edit import MaskedLineEdit

    dialog = QDialog()
    dialog.setWindowTitle("ots-desktop")
    label = QLabel("&Passphrase of the audit key file:", dialog)
    field = MaskedLineEdit(dialog)  # bullets only on the accessibility bus, like every secret field
    field.setAccessibleName("Passphrase of the audit key file")
    label.setBuddy(field)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    for widget in (label, field, buttons):
        layout.addWidget(widget)
    field.setFocus()
    if dialog.exec() != QDialog.DialogCode.Accepted:
        field.clear()
        return False
    text = field.text()
    field.clear()
    services.set_keyfile_passphrase(SecretBuffer(bytearray(text.encode("utf-8")), wipe_source=True))
    del text
    return True


async def _open_audit(ctx: UiContext, window: MainWindow) -> None:
    """Open the audit log now, so a keychain or tampering problem shows at start, not at the first share."""
    from ots_desktop.ui.tasks import describe_error

    try:
        log = await ctx.services.audit()
        log.require_usable()
    except OtsError as exc:
        text = (f"{describe_error(exc)} Sharing and receiving stay off until the audit log can open and "
                "verifies: nothing happens off the record.")
        window.banner.error(text)
