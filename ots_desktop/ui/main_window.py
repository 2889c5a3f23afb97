"""The main window: Send, Receive, Activity and Settings, one tab each.

The window is cheap to build and is painted first; its pages (and the modules behind
them) come in ``populate`` once it is on screen. Closing the window keeps the app in
the tray (when there is one); Quit ends it, clearing the clipboard if it still holds a
secret we put there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from ots_desktop import __version__
from ots_desktop.ui.icons import app_icon
from ots_desktop.ui.page_tabs import PageTabs

if TYPE_CHECKING:
    from PySide6.QtGui import QCloseEvent, QPaintEvent, QShowEvent
    from PySide6.QtWidgets import QMessageBox

    from ots_desktop.ui.activity.page import ActivityPage
    from ots_desktop.ui.banner import Banner
    from ots_desktop.ui.context import UiContext
    from ots_desktop.ui.receive.page import ReceivePage
    from ots_desktop.ui.send.page import SendPage
    from ots_desktop.ui.settings_page import SettingsPage

TAB_TITLES = ("&Send", "&Receive", "&Activity", "Se&ttings")
# Every Tab stop shows where the keyboard is. Most styles draw it; these they can leave unmarked (a
# default button looks the same with and without focus; so, in some styles, do the tab bar, tool buttons,
# check boxes, radio buttons, combo boxes, and a table without a current cell).
FOCUS_STYLE = ("QPushButton:focus { border: 2px solid palette(highlight); border-radius: 3px; padding: 3px 10px; }"
               " QToolButton:focus { border: 2px solid palette(highlight); border-radius: 3px; }"
               " QTabBar:focus { border: 2px solid palette(highlight); }"
               " QCheckBox, QRadioButton { border: 1px solid transparent; border-radius: 2px; }"
               " QCheckBox:focus, QRadioButton:focus { border: 1px solid palette(highlight); }"
               " QComboBox:focus { border: 2px solid palette(highlight); border-radius: 3px; padding: 1px 6px; }"
               " QTableView:focus { border: 2px solid palette(highlight); }")
ABOUT = (
    "<p><b>ots-desktop {version}</b>: hand a secret to one person, once.</p>"
    "<p>Send by a wormhole code read aloud, or by a one-time link that burns when it is opened. Every share, "
    "receive and failure is kept in a signed audit log on this computer; plaintext never touches the disk.</p>"
    "<p>Keys: Ctrl+1 to Ctrl+4 for the tabs, Ctrl+Enter shares, Ctrl+Shift+V and Ctrl+Shift+L share the "
    "clipboard by code or by link, Ctrl+F searches the log, Ctrl+E exports it, Ctrl+Q quits.</p>"
    "<p>The user guide, the command line and the threat model are in the <tt>docs/</tt> folder of the source "
    "(guide.md, cli.md, security.md). MIT licence.</p>"
)


class MainWindow(QMainWindow):
    """The app's one window."""

    first_painted = Signal()
    quit_requested = Signal()

    banner: Banner
    send_page: SendPage
    receive_page: ReceivePage
    activity_page: ActivityPage
    settings_page: SettingsPage

    def __init__(self, ctx: UiContext | None = None) -> None:
        super().__init__()
        self.ctx: UiContext | None = None
        self.setWindowTitle("ots-desktop")
        self.setWindowIcon(app_icon())
        self.tabs = PageTabs(self)
        self.tabs.setDocumentMode(True)
        for title in TAB_TITLES:
            # No Qt namespace here: its ninety-odd enums cost more than painting the window.
            self.tabs.addTab(QLabel("<p align=center><br>Starting\u2026</p>", self.tabs), title)
        body = QWidget(self)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.addWidget(self.tabs, 1)
        self.setCentralWidget(body)
        self.statusBar().showMessage(f"ots-desktop {__version__}")
        self.resize(760, 640)  # clamped to the screen in showEvent
        self.keep_in_tray = False
        self.quitting = False  # Quit was chosen (and confirmed): Qt's close of each window must not ask again
        self.painted = False
        self._tray_hint_shown = False
        self._palette_busy = False
        self.quit_box: QMessageBox | None = None  # the "links still waiting" question, while it is asked
        if ctx is not None:
            self.populate(ctx)

    def populate(self, ctx: UiContext) -> None:
        """Build the four pages in place of the "Starting" placeholders (once the window is painted)."""
        from ots_desktop.ui.a11y import name_controls
        from ots_desktop.ui.activity.page import ActivityPage
        from ots_desktop.ui.banner import Banner
        from ots_desktop.ui.receive.page import ReceivePage
        from ots_desktop.ui.send.page import SendPage
        from ots_desktop.ui.settings_page import SettingsPage

        self.banner = Banner(self)
        self._layout.insertWidget(0, self.banner)
        self.send_page = SendPage(ctx)
        self.receive_page = ReceivePage(ctx)
        self.activity_page = ActivityPage(ctx)
        self.settings_page = SettingsPage(ctx)
        # Saved settings apply at once: the Send page's defaults (and whether links can be chosen).
        self.settings_page.saved.connect(self.send_page.options.apply_defaults)
        current = self.tabs.currentIndex()
        self.tabs.setUpdatesEnabled(False)
        pages = (self.send_page, self.receive_page, self.activity_page, self.settings_page)
        for index, (page, title) in enumerate(zip(pages, TAB_TITLES, strict=True)):
            placeholder = self.tabs.widget(index)
            self.tabs.removeTab(index)
            self.tabs.insert_page(index, page, title)
            if placeholder is not None:
                placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.tabs.setUpdatesEnabled(True)
        self._apply_palette()
        name_controls(self)
        self._shortcuts()
        self.ctx = ctx  # set last: until now the shortcuts and Quit know the pages are not there
        ctx.events.event.connect(ctx.notifier.on_event)

    def _shortcuts(self) -> None:
        from PySide6.QtGui import QKeySequence, QShortcut

        for index in range(4):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self)
            shortcut.activated.connect(lambda i=index: self.tabs.setCurrentIndex(i))
        # Ctrl+2 is "receive now": the cursor goes straight to the code field.
        self.tabs.currentChanged.connect(self._tab_shown)
        QShortcut(QKeySequence("F1"), self).activated.connect(self.show_about)
        QShortcut(QKeySequence("Ctrl+Shift+V"), self).activated.connect(lambda: self.share_clipboard("wormhole"))
        QShortcut(QKeySequence("Ctrl+Shift+L"), self).activated.connect(lambda: self.share_clipboard("link"))
        QShortcut(QKeySequence(QKeySequence.StandardKey.Quit), self).activated.connect(self.quit_app)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self).activated.connect(self.close)

    def _tab_shown(self, index: int) -> None:
        if self.ctx is not None and self.tabs.widget(index) is self.receive_page:
            self.receive_page.focus_code()

    def show_about(self) -> None:
        """Help and About (F1): the version, where the guide is, and the licence."""
        from PySide6.QtWidgets import QMessageBox

        from ots_desktop.ui.key_names import native

        QMessageBox.about(self, "About ots-desktop", native(ABOUT.format(version=__version__)))

    # -- actions the tray and the single-instance socket call ---------------------------

    def bring_to_front(self) -> None:
        """Show, raise and focus the window."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def show_receive(self) -> None:
        """Open the Receive tab with the code field focused."""
        self.bring_to_front()
        self.tabs.setCurrentWidget(self.receive_page)
        self.receive_page.focus_code()

    def show_request(self) -> None:
        """Open the Receive tab with the "Request a secret" form."""
        self.bring_to_front()
        self.tabs.setCurrentWidget(self.receive_page)
        self.receive_page.requests.open_form()

    def open_files(self, files: list[str]) -> None:
        """Queue files given on the command line (or by a second launch) for sending."""
        paths = [Path(f) for f in files if f]
        self.bring_to_front()
        if paths and self.ctx is not None:
            self.tabs.setCurrentWidget(self.send_page)
            self.send_page.add_paths(paths)

    def share_clipboard(self, via: str) -> None:
        """Share the clipboard's text as a link or a code, with the default options.

        The secret leaves the clipboard (and PRIMARY, if it is there too) at once; the link or the
        code takes its place, with the password-manager hints and the clear timer.
        """
        from datetime import datetime

        from ots_desktop.core.policy import TEXT_MAX_BYTES
        from ots_desktop.ui.context import Level

        if self.ctx is None:
            return
        secret = self.ctx.clipboard.take_text()
        if secret is None:
            self.ctx.notifier.notify("Nothing to share", "The clipboard holds no text.", Level.WARNING)
            return
        if len(secret) > TEXT_MAX_BYTES:
            secret.close()
            self.ctx.notifier.notify("Too large", "The clipboard held more than 1 MiB of text (it was cleared); send "
                                     "it as a file.", Level.WARNING)
            return
        self.bring_to_front()
        self.tabs.setCurrentWidget(self.send_page)
        # A label, so the card, the notifications and the audit log can tell one quick share from another.
        label = f"Clipboard, {datetime.now().astimezone():%H:%M}"
        self.send_page.share_text(secret, via, on_ready=self.ctx.clipboard.copy, label=label)

    def quit_app(self) -> bool:
        """End the app (the tray's Quit, Ctrl+Q); False when the user chose to keep it running.

        With links or requests still waiting (their receipts and answers pause while the app is
        closed) or transfers by code not finished (quitting cancels them), asks first.
        """
        if self.quitting:
            return True
        from ots_desktop.ui.quit_question import quit_question

        question = ""
        if self.ctx is not None:
            question = quit_question(self.send_page.live_links(), self.receive_page.requests.live_requests(),
                                     self.send_page.live_codes())
        if question and not self._confirm_quit(question):
            return False
        self.quitting = True
        self.quit_requested.emit()
        # Qt asks every window to close before it quits; a window that stays in the tray would veto it.
        self.keep_in_tray = False
        app = QApplication.instance()
        if app is not None:
            app.quit()
        return True

    def _confirm_quit(self, question: str) -> bool:
        from PySide6.QtWidgets import QMessageBox

        self.quit_box = QMessageBox(QMessageBox.Icon.Question, "Quit ots-desktop?", question,
                                    QMessageBox.StandardButton.Cancel, self)
        quit_button = self.quit_box.addButton("&Quit", QMessageBox.ButtonRole.AcceptRole)
        self.quit_box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.quit_box.exec()
        chosen = self.quit_box.clickedButton() is quit_button
        self.quit_box.deleteLater()
        self.quit_box = None
        return chosen

    # -- window events ---------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing hides the window when the tray keeps the app; otherwise it quits."""
        if self.keep_in_tray:
            event.ignore()
            self.hide()
            if not self._tray_hint_shown and self.ctx is not None:
                self._tray_hint_shown = True
                self.ctx.notifier.notify("ots-desktop is still running",
                                         "It stays in the tray; choose Quit from its menu to end it.")
            return
        if self.quit_app():
            event.accept()
        else:
            event.ignore()

    def event(self, event: QEvent) -> bool:
        """A new desktop palette (dark mode, a high-contrast theme): derive the readable one again.

        Qt 6 hands ``ApplicationPaletteChange`` to ``event()`` only; ``changeEvent`` sees just the
        ``PaletteChange`` that follows, which the window's own palette changes cause too.
        """
        handled = super().event(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange and self.ctx is not None:
            self._apply_palette()
        return handled

    def _apply_palette(self) -> None:
        """The desktop's palette with readable placeholder text and borders (ui/contrast.py), and the styles.

        Set on the application (dialogs too): a window's own palette does not reach children under a style sheet.
        """
        from ots_desktop.ui.contrast import border_style, readable_palette

        if self._palette_busy:
            return
        self._palette_busy = True
        try:
            palette = readable_palette(QApplication.palette())
            QApplication.setPalette(palette)
            self.setStyleSheet(border_style(palette) + FOCUS_STYLE)
        finally:
            self._palette_busy = False

    def showEvent(self, event: QShowEvent) -> None:
        """The first time: never larger than the screen's free area (a scale factor of 2 made it 1520x1280)."""
        super().showEvent(event)
        screen = self.screen()
        if screen is not None and not getattr(self, "_fitted", False):
            self._fitted = True
            free = screen.availableGeometry()
            frame = self.frameGeometry().size() - self.size()  # the title bar and borders around the window
            width = min(self.width(), free.width() - frame.width())
            height = min(self.height(), free.height() - frame.height())
            if (width, height) != (self.width(), self.height()):
                self.resize(width, height)
                self.move(free.topLeft())

    def paintEvent(self, event: QPaintEvent) -> None:
        """Announce the first paint (the cold-start benchmark waits for it)."""
        super().paintEvent(event)
        if not self.painted:
            self.painted = True
            self.first_painted.emit()

