"""The realistic apps ``init`` is tried on, kept as ``.py.txt`` (never linted or collected)
under ``tests/migrate/init_apps/<name>`` and laid out as a real tree on demand."""

from __future__ import annotations

import shutil
from pathlib import Path

APPS = Path(__file__).resolve().parent / "init_apps"


def make_app(name: str, into: Path) -> Path:
    """A copy of app ``name`` under ``into`` with its ``.py.txt`` files named ``.py``."""
    source = APPS / name
    target = into / name
    for path in sorted(source.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(source)
        out = target / (str(rel)[: -len(".txt")] if rel.name.endswith(".py.txt") else rel)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes under ``root`` (to prove a second run changes nothing)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
