"""Per-file facts kept between runs, in ``.q2c_cache/`` next to the project's
pyproject.toml (like ruff's ``.ruff_cache``; no pyproject, no cache). ``check`` runs in
pre-commit on a tree where few files changed, and the analysis is what costs. An
entry is used only for the same file (path, size, modification time in ns), the same module
name, the same filter and the same version of queue2celery; anything unreadable is ignored
and recomputed."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from ._facts import FileFacts

CACHE_DIR = ".q2c_cache"
_FORMAT = 2  # 2: facts from the ast collector

Key = tuple[Any, ...]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("queue2celery")
    except Exception:  # not installed as a distribution: still cacheable
        return "0"


class FactsCache:
    """Loaded once per scan, written once at the end (atomically, never half-written)."""

    def __init__(self, base: Path) -> None:
        self.path = base / CACHE_DIR / f"facts-{_FORMAT}.pickle"
        self.version = _version()
        self.entries: dict[str, tuple[Key, FileFacts]] = {}
        self.dirty = False
        try:
            with open(self.path, "rb") as handle:
                loaded = pickle.load(handle)
            if isinstance(loaded, dict) and loaded.get("version") == self.version:
                self.entries = loaded["entries"]
        except Exception:  # a missing or broken cache is an empty one
            self.entries = {}

    def key(self, path: Path, module: str, mapped: frozenset[str] | None) -> Key | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns, module, None if mapped is None else sorted(mapped))

    def get(self, path: str, key: Key | None) -> FileFacts | None:
        entry = self.entries.get(path)
        if key is None or entry is None or entry[0] != key:
            return None
        return entry[1]

    def put(self, path: str, key: Key | None, facts: FileFacts) -> None:
        if key is not None and facts.error is None:
            self.entries[path] = (key, facts)
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(exist_ok=True)
            ignore = self.path.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                pickle.dump({"version": self.version, "entries": self.entries}, handle)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only tree scans fine, only without the cache
