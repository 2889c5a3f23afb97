"""The server log's formatter writes exactly what the stock formatter with the same format writes."""

from __future__ import annotations

import logging

from ots_desktop.server.log_format import SERVER_LOG_FORMAT, ServerLogFormatter


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("ots_desktop.server.access", logging.INFO, __file__, 1, "POST %s %d %.1fms",
                               ("/api/v1/secrets", 201, 3.25), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


def test_lines_match_the_stock_formatter_within_and_across_seconds() -> None:
    stock, cached = logging.Formatter(SERVER_LOG_FORMAT), ServerLogFormatter()
    # Within one second, across a second, a minute and a day, and back in time (a clock set back).
    for created in (1_800_000_000.0, 1_800_000_000.123, 1_800_000_000.999, 1_800_000_001.0, 1_800_000_059.5,
                    1_800_000_060.25, 1_800_086_399.75, 1_800_086_400.5, 1_799_999_999.5, 1_800_000_000.5):
        assert cached.format(_record(created)) == stock.format(_record(created))


def test_an_explicit_date_format_is_honoured() -> None:
    record = _record(1_800_000_000.5)
    assert ServerLogFormatter().formatTime(record, "%Y") == logging.Formatter().formatTime(record, "%Y")
