"""Equivalence harness: scan's ``ast`` collector against the libcst one it replaced.

Runs both on every file given (folders are walked for ``.py`` and ``.py.txt``) and prints
each file whose :class:`FileFacts` differ, field by field, then a summary line::

    .venv/bin/python bench/_ast_equivalence.py tests queue2celery .venv/lib/python3.11/site-packages

The libcst collector is kept for this harness only (``bench/_legacy_collector.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from queue2celery.migrate._ast_analyze import analyze as ast_analyze
from queue2celery.migrate._files import split_bom, too_deeply_nested


def _legacy():  # type: ignore[no-untyped-def]
    from _legacy_collector import analyze  # type: ignore[import-not-found]

    return analyze


def _files(roots: list[str]) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        path = Path(root)
        if path.is_file():
            out.append(path)
            continue
        for folder, _dirs, names in os.walk(path):
            for name in sorted(names):
                if name.endswith((".py", ".py.txt")):
                    out.append(Path(folder) / name)
    return out


def _module(path: Path) -> tuple[str, bool]:
    name = path.name.removesuffix(".txt").removesuffix(".py")
    parts = [name] if name != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").exists() and folder != folder.parent:
        parts.insert(0, folder.name)
        folder = folder.parent
    module = ".".join(parts) if all(p.isidentifier() for p in parts) else ""
    return module, name == "__init__"


def compare(path: str) -> tuple[str, str, list[str], float, float]:
    """(path, status, differences, libcst seconds, ast seconds)."""
    file = Path(path)
    try:
        _, data = split_bom(file.read_bytes())
    except OSError as exc:
        return path, "unreadable", [str(exc)], 0.0, 0.0
    module, is_package = _module(file)
    if too_deeply_nested(data) is not None:
        return path, "nested", [], 0.0, 0.0
    t0 = time.perf_counter()
    try:
        old = _legacy()(data, module, is_package)
    except Exception as exc:  # libcst rejects it: only ast's verdict is left
        old = f"{type(exc).__name__}"
    t1 = time.perf_counter()
    try:
        new = ast_analyze(data, module, is_package)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        new = f"{type(exc).__name__}"
    t2 = time.perf_counter()
    if isinstance(old, str) or isinstance(new, str):
        if isinstance(old, str) and isinstance(new, str):
            return path, "both-fail", [], t1 - t0, t2 - t1
        return (
            path,
            "one-fails",
            [
                f"libcst: {old if isinstance(old, str) else 'ok'}; "
                f"ast: {new if isinstance(new, str) else 'ok'}"
            ],
            t1 - t0,
            t2 - t1,
        )
    diffs = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            if isinstance(a, (tuple, frozenset)) and isinstance(b, (tuple, frozenset)):
                only_a = [x for x in a if x not in b]
                only_b = [x for x in b if x not in a]
                diffs.append(f"  {f.name}: libcst-only={only_a!r:.1500} ast-only={only_b!r:.1500}")
                if not only_a and not only_b:
                    diffs.append("    (same items, other order)")
            else:
                diffs.append(f"  {f.name}: libcst={a!r:.300} ast={b!r:.300}")
    return path, "differ" if diffs else "same", diffs, t1 - t0, t2 - t1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+")
    parser.add_argument("-j", "--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    files = [str(f) for f in _files(args.roots)]
    counts: dict[str, int] = {}
    slow = fast = 0.0
    with ProcessPoolExecutor(args.jobs) as pool:
        for path, status, diffs, t_old, t_new in pool.map(compare, files, chunksize=16):
            counts[status] = counts.get(status, 0) + 1
            slow += t_old
            fast += t_new
            if diffs:
                print(f"{status}: {path}")
                print("\n".join(diffs))
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"{len(files)} files: {summary}; libcst {slow:.1f}s, ast {fast:.1f}s (CPU)")
    return 0 if not counts.get("differ") and not counts.get("one-fails") else 1


if __name__ == "__main__":
    sys.exit(main())
