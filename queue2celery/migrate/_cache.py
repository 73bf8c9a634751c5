"""Per-file facts kept between runs, in ``.q2c_cache/`` next to the project's
pyproject.toml (like ruff's ``.ruff_cache``; no pyproject, no cache). ``check`` runs in
pre-commit on a tree where few files changed, and the analysis is what costs. A scan
entry is used only for the same file (path, size, modification time in ns), the same module
name, the same filter and the same version of queue2celery; a periodic entry only for the
same content (its hash), module name and collector format. Anything unreadable is ignored
and recomputed."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._facts import FileFacts

CACHE_DIR = ".q2c_cache"
_FORMAT = 3  # 2: facts from the ast collector; 3: periodic facts too
PERIODIC_FORMAT = 1  # bump when the periodic collector's facts change

Key = tuple[Any, ...]


def _version() -> str:
    """This code's fingerprint: the name, size and modification time of each module of the
    migrate package (the analysis), so that an upgrade, or an edit of an editable install,
    never reuses facts an older analysis made. A stat per module, no read:
    ``importlib.metadata`` would walk every distribution on ``sys.path`` (tens of ms a run)."""
    here = Path(__file__).parent
    seen = []
    try:
        with os.scandir(here) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    st = entry.stat()
                    seen.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    except OSError:
        return "0"
    return hashlib.blake2b("\n".join(sorted(seen)).encode(), digest_size=16).hexdigest()


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The collector paused while a pickle of many small objects is built or read: it would
    run many times for nothing (none of them is garbage), a third of the load's time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def content_key(data: bytes, module: str, is_package: bool) -> Key:
    """The key of a periodic entry: what the collector's facts depend on."""
    digest = hashlib.blake2b(data, digest_size=16).digest()
    return (PERIODIC_FORMAT, digest, module, is_package)


class FactsCache:
    """Loaded once per scan, written once at the end (atomically, never half-written)."""

    def __init__(self, base: Path) -> None:
        self.path = base / CACHE_DIR / f"facts-{_FORMAT}.pickle"
        self.version = _version()
        self.entries: dict[str, tuple[Key, FileFacts]] = {}
        self.periodic: dict[str, tuple[Key, Any]] = {}
        self.dirty = False
        try:
            with open(self.path, "rb") as handle, _no_gc():
                loaded = pickle.load(handle)
            if isinstance(loaded, dict) and loaded.get("version") == self.version:
                self.entries = loaded["entries"]
                self.periodic = loaded["periodic"]
        except Exception:  # a missing or broken cache is an empty one
            self.entries, self.periodic = {}, {}

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

    def get_periodic(self, path: str, key: Key) -> Any:
        """The periodic pass's ModuleFacts of ``path`` for this ``key``, or None."""
        entry = self.periodic.get(path)
        if entry is None or entry[0] != key:
            return None
        return entry[1]

    def put_periodic(self, path: str, key: Key, facts: Any) -> None:
        if getattr(facts, "error", None) is None:
            self.periodic[path] = (key, facts)
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
            with os.fdopen(fd, "wb") as handle, _no_gc():
                pickle.dump(
                    {"version": self.version, "entries": self.entries, "periodic": self.periodic},
                    handle,
                )
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only tree scans fine, only without the cache
