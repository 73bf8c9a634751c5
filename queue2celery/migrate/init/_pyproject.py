"""``[tool.queue2celery.queues]`` and ``[tool.queue2celery.functions]`` written into the
project's ``pyproject.toml`` as text: everything else in the file (comments, order, line
endings) stays byte for byte as it was.

A mapping the user wrote to another task is kept: init only fills what is missing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from ...errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["merge_tables"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def merge_tables(
    text: str, tables: Mapping[str, Mapping[str, str]], where: str
) -> tuple[str, list[str]]:
    """``(new_text, kept)``: ``text`` with each ``[tool.queue2celery.<table>]`` holding at
    least the given entries; ``kept`` lists the user's own mappings that init left alone."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML ({exc}); fix it, then rerun init") from exc
    tool = data.get("tool", {})
    section = tool.get("queue2celery", {}) if isinstance(tool, dict) else {}
    if not isinstance(section, dict):
        raise ConfigError(f"[tool.queue2celery] in {where} must be a table; fix it, then rerun")
    newline = "\r\n" if "\r\n" in text else "\n"
    kept: list[str] = []
    for table, wanted in tables.items():
        if not wanted:
            continue
        existing = section.get(table, {})
        if not isinstance(existing, dict):
            raise ConfigError(f"[tool.queue2celery.{table}] in {where} must be a table")
        missing = {}
        for key, value in wanted.items():
            if key not in existing:
                missing[key] = value
            elif existing[key] != value:
                kept.append(f"{key} = {existing[key]} (init would map it to {value})")
        if missing:
            text = _add_entries(text, f"tool.queue2celery.{table}", missing, newline)
    return text, kept


def _add_entries(text: str, name: str, entries: Mapping[str, str], newline: str) -> str:
    """Add lines to the table (made at the end of the file if missing); nothing else moves."""
    body = "".join(f'"{key}" = "{entries[key]}"{newline}' for key in sorted(entries))
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _header(line) == name), None)
    if start is None:
        if text and not text.endswith(("\n", "\r")):
            text += newline
        gap = newline if text.strip() else ""
        return f"{text}{gap}[{name}]{newline}{body}"
    end = next(
        (i for i in range(start + 1, len(lines)) if _header(lines[i]) is not None), len(lines)
    )
    # New lines go after the table's last entry, before the blank lines that close it.
    tail = end
    while tail > start + 1 and not lines[tail - 1].strip():
        tail -= 1
    if tail > start + 1 and not lines[tail - 1].endswith(("\n", "\r")):
        lines[tail - 1] += newline
    return "".join([*lines[:tail], body, *lines[tail:]])


def _header(line: str) -> str | None:
    match = _HEADER.match(line.rstrip("\r\n"))
    if match is None:
        return None
    return re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', "")
