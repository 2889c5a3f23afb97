"""The save dialog of an audit export: a file name and a format (CSV, or JSONL with checkpoints)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

CSV_FILTER = "CSV spreadsheet (*.csv)"
JSONL_FILTER = "JSON Lines, verifiable offline (*.jsonl)"
_FORMAT_OF_FILTER = {CSV_FILTER: "csv", JSONL_FILTER: "jsonl"}


def default_export_name(fmt: str = "jsonl") -> str:
    """A dated file name such as ``ots-audit-2025-01-31.jsonl``."""
    return f"ots-audit-{datetime.now().strftime('%Y-%m-%d')}.{fmt}"


def target_of(chosen: str, selected_filter: str) -> tuple[Path, str]:
    """The path and format for what the dialog returned; a name without a known suffix gets the filter's."""
    path = Path(chosen)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "jsonl"):
        return path, suffix
    fmt = _FORMAT_OF_FILTER.get(selected_filter, "jsonl")
    return path.with_name(f"{path.name}.{fmt}"), fmt


def ask_export_target(parent: QWidget, folder: Path) -> tuple[Path, str] | None:
    """Ask where to export; None when the user cancels."""
    chosen, selected = QFileDialog.getSaveFileName(
        parent, "Export the audit log", str(folder / default_export_name()), f"{JSONL_FILTER};;{CSV_FILTER}",
        JSONL_FILTER)
    if not chosen:
        return None
    return target_of(chosen, selected)
