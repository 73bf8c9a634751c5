"""The migration mapping: ``[tool.queue2celery.queues]`` and ``[tool.queue2celery.functions]``.

Both tables map a fully qualified name in the legacy code (a queue object, or a function
handed to ``BackgroundTasks.add_task``) to the fully qualified name of the Celery task that
replaces it. The table is read from the migrated project's ``pyproject.toml``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["MigrateConfig", "find_pyproject", "load_config", "proposed_tables"]

_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class MigrateConfig:
    """Which legacy queue/function maps to which Celery task (fully qualified names)."""

    queues: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    functions: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    source: Path | None = None
    # [tool.queue2celery.periodic]: a periodic function -> the existing Celery task to run
    periodic: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    # Payload classes adopt(types=...) carries: rewrite may send their instances.
    types: tuple[str, ...] = ()
    # check codes to leave out everywhere (``ignore = ["Q2C003"]``).
    ignore: tuple[str, ...] = ()

    @classmethod
    def from_mappings(
        cls,
        queues: Mapping[str, str] | None = None,
        functions: Mapping[str, str] | None = None,
        source: Path | None = None,
        periodic: Mapping[str, str] | None = None,
    ) -> MigrateConfig:
        """Build a validated config (every name dotted, every target importable by name)."""
        where = str(source) if source else "the mapping"
        checked_queues = _validated(queues or {}, "queues", where)
        checked_functions = _validated(functions or {}, "functions", where)
        checked_periodic = _validated(periodic or {}, "periodic", where)
        return cls(
            _frozen(checked_queues), _frozen(checked_functions), source, _frozen(checked_periodic)
        )

    @property
    def mapped_names(self) -> frozenset[str]:
        """Last parts of every mapped name: a file naming none of them has nothing to rewrite."""
        return frozenset(k.rsplit(".", 1)[-1] for k in (*self.queues, *self.functions))

    def __reduce__(self) -> tuple[Any, ...]:
        # MappingProxyType does not pickle; worker processes get plain dicts back.
        return (
            _rebuild,
            (
                dict(self.queues),
                dict(self.functions),
                self.source,
                dict(self.periodic),
                self.types,
                self.ignore,
            ),
        )


def _rebuild(
    queues: dict[str, str],
    functions: dict[str, str],
    source: Path | None,
    periodic: dict[str, str] | None = None,
    types: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
) -> MigrateConfig:
    return MigrateConfig(
        _frozen(queues), _frozen(functions), source, _frozen(periodic or {}), types, ignore
    )


def _names(tool: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = tool.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"[tool.queue2celery] {key} in {where} must be a list of strings, got {value!r}; "
            f'write it as {key} = ["..."]'
        )
    return tuple(value)


def _validated(table: Mapping[str, Any], name: str, where: str) -> dict[str, str]:
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"[tool.queue2celery.{name}] in {where} must be a table, got {table!r}; "
            f'write it as [tool.queue2celery.{name}] with "legacy.name" = "celery.task" lines'
        )
    out: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str) or not _DOTTED.match(value):
            raise ConfigError(
                f"[tool.queue2celery.{name}] {key!r} maps to {value!r} in {where}; the target "
                "must be the dotted, fully qualified name of a Celery task, e.g. "
                '"app.tasks.process_task"'
            )
        if not _DOTTED.match(str(key)):
            raise ConfigError(
                f"[tool.queue2celery.{name}] key {key!r} in {where} is not a fully qualified "
                'name; use the dotted path of the legacy object, e.g. "app.tasks.queue.task_queue"'
            )
        out[str(key)] = value
    return out


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (a file or a directory)."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path, config_file: Path | None = None) -> MigrateConfig:
    """Read the mapping from ``config_file`` or the nearest pyproject.toml above ``path``.

    No pyproject at all, or one without the tables, gives an empty mapping: scan still finds
    the unmapped candidates, rewrite then changes nothing.
    """
    source = config_file if config_file is not None else find_pyproject(path)
    if source is None:
        return MigrateConfig()
    shown = str(source)
    try:
        # Only a regular file is opened: a FIFO or a device would block or never end.
        if not source.is_file():
            raise ConfigError(
                f"config file {shown!r} is not a regular file; pass --config PATH of a "
                "pyproject.toml"
            )
        data = tomllib.loads(source.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {shown!r}: {exc.strerror or exc}; check its permissions"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {shown!r} is not UTF-8 (TOML must be; {exc.reason} at byte "
            f"{exc.start}); save it as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {shown!r} is not valid TOML ({exc}); fix it or pass --config"
        ) from exc
    tool_table = data.get("tool", {})
    if not isinstance(tool_table, Mapping):
        raise ConfigError(
            f"[tool] in {shown!r} must be a table, got {tool_table!r}; "
            "write it as [tool.queue2celery] sections"
        )
    tool = tool_table.get("queue2celery", {})
    if not isinstance(tool, Mapping):
        raise ConfigError(
            f"[tool.queue2celery] in {shown!r} must be a table, got {tool!r}; "
            "write it as a [tool.queue2celery] section"
        )
    config = MigrateConfig.from_mappings(
        tool.get("queues", {}),
        tool.get("functions", {}),
        source=source,
        periodic=tool.get("periodic", {}),
    )
    return replace(
        config,
        types=_names(tool, "types", str(source)),
        ignore=_names(tool, "ignore", str(source)),
    )


def proposed_tables(queues: Iterable[str], functions: Iterable[str]) -> str:
    """TOML text proposing a mapping for the unmapped queues and functions scan found."""
    lines: list[str] = []
    for table, names in (("queues", sorted(set(queues))), ("functions", sorted(set(functions)))):
        if not names:
            continue
        if lines:
            lines.append("")
        lines.append(f"[tool.queue2celery.{table}]")
        for name in names:
            task = name.rsplit(".", 1)[-1]
            lines.append(f'"{name}" = "CHANGE_ME.tasks.{task}"')
    return "\n".join(lines)
