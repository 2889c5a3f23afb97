"""The server log's formatter: the standard line, with the time text made once per second.

``ots server`` logs one line per request (route template, status, time taken). The stock
formatter turns each record's time into text with ``time.localtime`` and ``strftime``; under
load that was a noticeable part of each request. This one keeps the text of the current
second and adds only the milliseconds, so a line reads exactly as before.
"""

from __future__ import annotations

import logging
import time

SERVER_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MSEC_FORMAT = "%s,%03d"  # logging.Formatter.default_msec_format


class ServerLogFormatter(logging.Formatter):
    """``logging.Formatter`` with SERVER_LOG_FORMAT and the local time of the last second seen cached."""

    def __init__(self) -> None:
        super().__init__(SERVER_LOG_FORMAT)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's local time as ``YYYY-MM-DD HH:MM:SS,mmm``, as the stock formatter writes it."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return MSEC_FORMAT % (self._second_text, record.msecs)
