"""Files: which ones to look at, their module names, reading them and writing them safely."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "site-packages",
        "build",
        "dist",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
)
BOM = b"\xef\xbb\xbf"

# A site is always a call spelled `.put(`, `.put_nowait(` or `.add_task(`: a file without
# one of these cannot hold a site, so it is never parsed (the parse is what costs).
_CALL_TEXT = re.compile(rb"\.\s*(?:put|put_nowait|add_task)\s*\(")


@dataclass(frozen=True)
class SourceFile:
    """One Python file under the scanned root."""

    path: Path
    rel: str  # relative to the root, forward slashes
    module: str  # dotted module name from the package layout ("" when unknown)
    is_package: bool  # an __init__.py: relative imports start from the module itself


def may_hold_site(data: bytes) -> bool:
    """The cheap text pre-filter: can this file contain an enqueue call at all?"""
    return _CALL_TEXT.search(data) is not None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def iter_python_files(root: Path) -> tuple[Path, list[Path]]:
    """``(base, files)``: every ``.py`` file under ``root`` (or ``root`` itself if a file).

    Skipped folders are pruned, except when ``root`` itself is one (scanning a site-packages
    on purpose works). Symlinks are never followed: one leading out of the tree could make a
    rewrite write outside it, one inside it would visit a file twice.
    """
    root = Path(os.path.abspath(root))
    if root.is_file():
        return root.parent, [root]
    real_root = root.resolve()
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS
            and not (here / d).is_symlink()
            and not (here / d / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = here / name
            if path.is_symlink() or not _inside(path, real_root):
                continue
            found.append(path)
    return root, found


def describe(path: Path, base: Path, cache: dict[Path, list[str]] | None = None) -> SourceFile:
    """The relative path and module name of ``path`` (walking up while ``__init__.py`` exists)."""
    rel = path.relative_to(base).as_posix()
    is_package = path.name == "__init__.py"
    parts = list(_package_parts(path.parent, {} if cache is None else cache))
    if not is_package:
        parts.append(path.stem)
    module = ".".join(parts) if parts and all(p.isidentifier() for p in parts) else ""
    return SourceFile(path, rel, module, is_package)


def _package_parts(folder: Path, cache: dict[Path, list[str]]) -> list[str]:
    known = cache.get(folder)
    if known is not None:
        return known
    if folder == folder.parent or not (folder / "__init__.py").is_file():
        parts: list[str] = []
    else:
        parts = [*_package_parts(folder.parent, cache), folder.name]
    cache[folder] = parts
    return parts


def split_bom(data: bytes) -> tuple[bytes, bytes]:
    """``(bom, rest)``: libcst does not keep a BOM, so it is taken off and put back."""
    if data.startswith(BOM):
        return BOM, data[len(BOM) :]
    return b"", data


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, keeping its permission bits."""
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".q2c-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
