"""``[tool.queue2celery.queues]``, ``[tool.queue2celery.functions]`` and the ``types`` list
written into the project's ``pyproject.toml`` as text: everything else in the file (comments,
order, line endings) stays byte for byte as it was.

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

__all__ = ["merge_tables", "merge_types"]

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


def merge_types(text: str, types: list[str], where: str) -> str:
    """``text`` whose ``[tool.queue2celery] types`` lists at least ``types`` (dotted class
    names): added to the user's list, or a ``types = [...]`` line of its own."""
    data = tomllib.loads(text)
    section = data.get("tool", {}).get("queue2celery", {})
    existing = section.get("types", []) if isinstance(section, dict) else []
    if not isinstance(existing, list):
        raise ConfigError(f"[tool.queue2celery] types in {where} must be a list of class names")
    missing = [t for t in types if t not in existing]
    if not missing:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _header(line) == "tool.queue2celery"), None)
    if start is None:
        # Before the first [tool.queue2celery.*] table (TOML allows it after, people expect it
        # before), else at the end of the file.
        sub = "tool.queue2celery."
        at = next((i for i, ln in enumerate(lines) if (_header(ln) or "").startswith(sub)), None)
        while at is not None and at > 0 and lines[at - 1].lstrip().startswith("#"):
            at -= 1  # the comments above a table are about it: the new table goes above them
        block = f"[tool.queue2celery]{newline}{_types_line(missing, newline)}{newline}"
        if at is None:
            if text and not text.endswith(("\n", "\r")):
                text += newline
            gap = newline if text.strip() else ""
            return f"{text}{gap}{block}".rstrip("\r\n") + newline
        return "".join([*lines[:at], block, *lines[at:]])
    end = next(
        (i for i in range(start + 1, len(lines)) if _header(lines[i]) is not None), len(lines)
    )
    key = next(
        (i for i in range(start + 1, end) if re.match(r"\s*\"?types\"?\s*=", lines[i])), None
    )
    if key is None:
        tail = end
        while tail > start + 1 and not lines[tail - 1].strip():
            tail -= 1
        if tail > start + 1 and not lines[tail - 1].endswith(("\n", "\r")):
            lines[tail - 1] += newline
        return "".join([*lines[:tail], _types_line(missing, newline), *lines[tail:]])
    # The user's list: the new names go before its closing bracket.
    for i in range(key, end):
        close = _closing_bracket(lines, key, i)
        if close is None:
            continue
        line = lines[i]
        if not line[:close].strip() and i > key:
            return _insert_before_closing(lines, key, i, missing, newline)
        before = line[:close].rstrip()
        sep = "" if before.endswith(("[", ",")) else ","
        added = ", ".join(f'"{t}"' for t in missing)
        space = " " if before.endswith(",") or sep else ""
        lines[i] = f"{before}{sep}{space}{added}{line[close:]}"
        return "".join(lines)
    raise ConfigError(f"[tool.queue2celery] types in {where}: cannot find the end of the list")


def _types_line(types: list[str], newline: str) -> str:
    return "types = [" + ", ".join(f'"{t}"' for t in types) + "]" + newline


def _closing_bracket(lines: list[str], key: int, at: int) -> int | None:
    """The column of the ``]`` closing the list opened on line ``key``, if on line ``at``."""
    depth, quote = 0, ""
    for i in range(key, at + 1):
        line = lines[i]
        start = line.index("=") + 1 if i == key else 0
        for col in range(start, len(line)):
            ch = line[col]
            if quote:
                if ch == quote and line[col - 1] != "\\":
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "#":
                break
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    return col if i == at else None
    return None


def _insert_before_closing(
    lines: list[str], key: int, close: int, missing: list[str], newline: str
) -> str:
    """A multi-line list closed by ``]`` on a line of its own: one line per new name, in the
    layout of the entry above (its indent), after a comma it may lack."""
    above = close - 1
    while above > key and not lines[above].split("#", 1)[0].strip():
        above -= 1
    content = lines[above].rstrip("\r\n")
    code = content.split(" #", 1)[0].rstrip()
    if not code.endswith((",", "[")):
        lines[above] = f"{code},{content[len(code) :]}{newline}"
    entry = lines[above]
    indent = entry[: len(entry) - len(entry.lstrip())] if above > key else "    "
    added = [f'{indent}"{t}",{newline}' for t in missing]
    return "".join([*lines[:close], *added, *lines[close:]])
