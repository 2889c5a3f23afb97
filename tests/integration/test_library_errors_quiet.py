"""A protocol library's own error report, raised inside the reactor, is no traceback on the terminal.

Seen once on Ctrl+C: autobahn failed on a websocket frame that arrived while the mailbox connection
closed, and Twisted printed its traceback under "ots: cancelled" (Twisted prints such reports on stderr
until a log observer starts). The CLI and the app start one (``runtime.quiet_library_errors``) that
keeps them in a debug log; ``ots server`` does not, and its log keeps them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.support.wormhole_cli import REPO_ROOT

PROGRAM = textwrap.dedent("""
    import asyncio, sys
    from ots_desktop import runtime

    async def main():
        from twisted.internet import reactor
        from twisted.logger import Logger

        def protocol_bug():
            try:
                None.append(b"frame")
            except AttributeError:
                Logger().failure("Unhandled Error")  # what Twisted's reactor does with a protocol's exception

        reactor.callLater(0, protocol_bug)
        await asyncio.sleep(0.3)
        import warnings
        warnings.warn("a Python warning still shows", UserWarning, stacklevel=1)
        print("main ended")
        return 0

    runtime.run_main(main, quiet_library=sys.argv[1] == "quiet")
""")


@pytest.mark.parametrize("mode", ["quiet", "server"])
def test_a_library_error_in_the_reactor_prints_no_traceback(mode: str) -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "main ended" in done.stdout
    assert "a Python warning still shows" in done.stderr  # only Twisted's reports are kept off the terminal
    if mode == "quiet":
        assert "Traceback" not in done.stderr and "AttributeError" not in done.stderr, done.stderr
    else:  # the control: without the observer Twisted prints it, so the check above can fail
        assert "Traceback" in done.stderr and "AttributeError" in done.stderr, done.stderr
