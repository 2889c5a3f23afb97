"""Starting shares: one card per recipient (and per file), each share run on the app's loop.

A text secret for several recipients is copied into one buffer per share; every
buffer is wiped when its share ends. Links are made one after another on the relay;
each gets its card as soon as it exists. When not a single link could be made, the
secret goes back into the field it came from, so nothing typed is lost.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from ots_desktop.channels.link_types import SentLink
from ots_desktop.channels.wormhole import SendHooks
from ots_desktop.core.errors import OtsError
from ots_desktop.core.messages import sentence
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.times import parse_rfc3339
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.send.card_list import CardList
from ots_desktop.ui.send.choices import LINK, WORMHOLE, LinkChoices, WormholeChoices
from ots_desktop.ui.send.file_queue import Queued
from ots_desktop.ui.send.link_card import LinkShareCard
from ots_desktop.ui.send.wormhole_card import WormholeShareCard
from ots_desktop.ui.tasks import describe_error

if TYPE_CHECKING:
    from ots_desktop.channels.link import LinkChannel

    # QtTextToSpeech loads Qt Multimedia: only when a code is first spoken.
    from ots_desktop.ui.send.speech import Speaker

OnLink = Callable[[SentLink], None]
LinkJob = Callable[[OnLink], Awaitable[list[SentLink]]]
TEXT_TITLE = "Text secret"
MAX_RESTORED = 500  # live links listed again at start (newest first)


def card_title(what: str, recipient: str | None) -> str:
    """``prod DB password for sam``."""
    return f"{what} for {recipient}" if recipient else what


def bundle_name(label: str | None) -> str:
    """The zip's name for a bundle: the label made safe for a file name, or ``files.zip``."""
    base = re.sub(r"[^\w.() -]+", "-", label or "").strip(" .-")[:60]
    return f"{base or 'files'}.zip"


def _each(recipients: tuple[str, ...]) -> list[str | None]:
    return list(recipients) if recipients else [None]


@dataclass
class _LinkRun:
    """How one batch of links is going."""

    made: int = 0
    restored: bool = False
    on_ready: Callable[[str], None] | None = None  # given the first link made


class Sharing(QObject):
    """Starts shares for the Send page and puts their cards on its list."""

    started = Signal(str)  # the channel
    link_jobs_changed = Signal(int)  # batches of links still being made

    def __init__(self, ctx: UiContext, cards: CardList, speaker: Callable[[], Speaker | None],
                 report: Callable[[str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.cards = cards
        self._speaker = speaker
        self._report = report
        self.link_jobs = 0

    # -- by wormhole code ---------------------------------------------------------------

    def wormhole_text(self, secret: SecretBuffer, choices: WormholeChoices,
                      on_ready: Callable[[str], None] | None = None) -> None:
        """One code per recipient for a text secret; ``secret`` is closed once copied.

        ``on_ready`` is given the (first) code once the mailbox has given it.
        """
        channel = self.ctx.services.wormhole(code_length=choices.code_length)
        with secret:
            for recipient in _each(choices.recipients):
                view = secret.view()
                kept = SecretBuffer(view)  # held by the card for Retry; each try sends a copy of it
                view.release()

                def send(hooks: SendHooks, kept: SecretBuffer = kept, recipient: str | None = recipient,
                         ) -> Awaitable[str]:
                    view = kept.view()
                    copy = SecretBuffer(view)
                    view.release()
                    return channel.send_text(copy, hooks, label=choices.label, recipient=recipient)

                title = card_title(choices.label or TEXT_TITLE, recipient)
                self._start_wormhole(title, send, choices.verify, kept=kept, on_ready=on_ready)
                on_ready = None
        self.started.emit(WORMHOLE)

    def wormhole_paths(self, items: list[Queued], choices: WormholeChoices) -> None:
        """One code per file or folder and per recipient."""
        channel = self.ctx.services.wormhole(code_length=choices.code_length)
        for item in items:
            name = item.path.name + ("/" if item.is_folder else "")
            for recipient in _each(choices.recipients):

                def send_path(hooks: SendHooks, path: Path = item.path, recipient: str | None = recipient,
                              ) -> Awaitable[str]:
                    return channel.send_path(path, hooks, label=choices.label, recipient=recipient)

                what = f"{choices.label} ({name})" if choices.label else name
                self._start_wormhole(card_title(what, recipient), send_path, choices.verify, with_progress=True)
        self.started.emit(WORMHOLE)

    def _start_wormhole(self, title: str, send: Callable[[SendHooks], Awaitable[str]], verify: bool, *,
                        kept: SecretBuffer | None = None, on_ready: Callable[[str], None] | None = None,
                        with_progress: bool = False) -> None:
        """A card for one share, started; its Retry starts the same share on a new card."""
        card = WormholeShareCard(self.ctx, title, verify=verify, speaker=self._speaker())
        self.cards.add(card)
        if on_ready is not None:
            card.code_ready.connect(on_ready)
        again = functools.partial(self._start_wormhole, title, send, verify, kept=kept, with_progress=with_progress)
        card.retry_requested.connect(again)
        card.start(send, with_progress=with_progress, retry=True, kept=kept)

    # -- by one-time link ---------------------------------------------------------------

    def link_text(self, channel: LinkChannel, relay_url: str, secret: SecretBuffer,
                  passphrase: SecretBuffer | None, choices: LinkChoices,
                  restore: Callable[[SecretBuffer], bool] | None = None,
                  on_ready: Callable[[str], None] | None = None) -> None:
        """One link per recipient for a text secret. ``secret`` and ``passphrase`` are wiped at the end.

        ``on_ready`` is given the first link made.
        """
        backup = None
        if restore is not None:
            view = secret.view()
            backup = SecretBuffer(view)
            view.release()

        def job(on_link: OnLink) -> Awaitable[list[SentLink]]:
            return channel.send_text(secret, relay_url, choices.policy, recipients=_each(choices.recipients),
                                     passphrase=passphrase, label=choices.label, on_link=on_link)

        self._run_links([(choices.label or TEXT_TITLE, job)], passphrase, backup, restore, on_ready)

    def link_files(self, channel: LinkChannel, relay_url: str, paths: list[Path], passphrase: SecretBuffer | None,
                   choices: LinkChoices) -> None:
        """One link per file and per recipient. ``passphrase`` is wiped at the end."""
        jobs: list[tuple[str, LinkJob]] = []
        for path in paths:

            def job(on_link: OnLink, path: Path = path) -> Awaitable[list[SentLink]]:
                return channel.send_file(path, relay_url, choices.policy, recipients=_each(choices.recipients),
                                         passphrase=passphrase, label=choices.label, on_link=on_link)

            jobs.append((f"{choices.label} ({path.name})" if choices.label else path.name, job))
        self._run_links(jobs, passphrase, None, None)

    def link_bundle(self, channel: LinkChannel, relay_url: str, paths: list[Path], passphrase: SecretBuffer | None,
                    choices: LinkChoices) -> None:
        """One link per recipient for all ``paths`` as one zip. ``passphrase`` is wiped at the end."""
        name = bundle_name(choices.label)

        def job(on_link: OnLink) -> Awaitable[list[SentLink]]:
            return channel.send_bundle(paths, name, relay_url, choices.policy, recipients=_each(choices.recipients),
                                       passphrase=passphrase, label=choices.label, on_link=on_link)

        self._run_links([(f"{choices.label} ({name})" if choices.label else name, job)], passphrase, None, None)

    def _run_links(self, jobs: list[tuple[str, LinkJob]], passphrase: SecretBuffer | None,
                   backup: SecretBuffer | None, restore: Callable[[SecretBuffer], bool] | None,
                   on_ready: Callable[[str], None] | None = None) -> None:
        run = _LinkRun(on_ready=on_ready)
        self._link_jobs(+1)

        async def make() -> None:
            try:
                for what, job in jobs:
                    await job(functools.partial(self._link_card, run, what))
            except Exception:
                if not run.made and backup is not None and restore is not None:
                    run.restored = restore(backup)
                raise
            finally:
                if passphrase is not None:
                    passphrase.close()
                if backup is not None:
                    backup.close()
                self._link_jobs(-1)

        def failed(text: str) -> None:
            tail = " Nothing was shared; the secret is back in the field." if run.restored else ""
            self._report(sentence(text) + tail)

        self.ctx.tasks.start(make(), on_error=failed)
        self.started.emit(LINK)

    def _link_card(self, run: _LinkRun, what: str, sent: SentLink) -> None:
        run.made += 1
        card = LinkShareCard(self.ctx, sent, card_title(what, sent.recipient))
        self.cards.add(card)
        ready, run.on_ready = run.on_ready, None
        if ready is not None:
            ready(sent.link)
        card.start_watch()

    def restore_links(self) -> int:
        """A card for each live link made here before (from the local shares file), following its receipt.

        Links that ended or expired are left out; so is the link itself, which is never kept.
        Returns how many were restored.
        """
        try:
            records = self.ctx.services.shares().list(limit=MAX_RESTORED)
        except OtsError as exc:
            self._report(sentence(describe_error(exc)))
            return 0
        now = datetime.now(UTC)
        live = []
        for record in records:
            try:
                expired = parse_rfc3339(record.expires_at) <= now
            except ValueError:
                expired = False
            if record.seen.state is None and not expired:
                live.append(record)
        for record in reversed(live):  # oldest first: the newest ends on top
            sent = SentLink(share_id=record.share_id, link="", expires_at=record.expires_at,
                            max_views=record.max_views, needs_passphrase=False, recipient=record.recipient)
            card = LinkShareCard(self.ctx, sent, card_title(record.label or TEXT_TITLE, record.recipient))
            self.cards.add(card)
            card.start_watch()
        return len(live)

    def _link_jobs(self, delta: int) -> None:
        self.link_jobs += delta
        self.link_jobs_changed.emit(self.link_jobs)
