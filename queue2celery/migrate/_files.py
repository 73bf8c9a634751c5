"""Files: which ones to look at, their module names, reading them and writing them safely."""

from __future__ import annotations

import ast
import functools
import os
import re
import stat
import tempfile
import warnings
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

# A site is always a call spelled `<dotted name>.put(`, `.put_nowait(` or `.add_task(`: a
# file without one cannot hold a site, so it is never parsed (the parse is what costs).
_CALL_TEXT = re.compile(rb"\.\s*(put_nowait|put|add_task)\s*\(")
# The dotted name right before the call, read backwards from the match on its line (a
# forward pattern for it backtracks at every identifier of the file: 100x slower).
_RECEIVER = re.compile(rb"([A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*)[ \t]*$")
ENQUEUE_METHODS = frozenset({"put", "put_nowait", "add_task"})
_SELF = frozenset({b"self", b"cls"})
# A handler registration is always `<name>.handler` (a decorator, or called), or a call of
# `.add_handler(` / `.register_handler(`. The regex only runs on files that say "handler"
# (a substring test at C speed), so the common file pays one more memory scan.
_HANDLER_TEXT = re.compile(rb"\.\s*(?:add_|register_)?handler\b")
HANDLER_METHODS = frozenset({"handler", "add_handler", "register_handler"})
# Work started per request (create_task, Thread(...).start(), executor.submit,
# run_in_executor): sites too, and where a queue's consumer is started.
_SPAWN_TEXT = re.compile(rb"(?:create_task|ensure_future|run_in_executor|\.submit|Thread)\s*\(")
SPAWN_ATTRS = frozenset({"create_task", "ensure_future", "run_in_executor", "submit"})


@dataclass(frozen=True)
class SourceFile:
    """One Python file under the scanned root."""

    path: Path
    rel: str  # relative to the root, forward slashes
    module: str  # dotted module name from the package layout ("" when unknown)
    is_package: bool  # an __init__.py: relative imports start from the module itself


def may_hold_site(data: bytes, mapped: frozenset[str] = frozenset()) -> bool:
    """The cheap text pre-filter: can this file contain an enqueue site at all?

    ``self.x.put(...)`` can only be a site when the class builds a queue (the word ``Queue``
    is then in the file: Queue, PriorityQueue, SimpleQueue, TaskQueue) or ``x`` is mapped.
    ``mapped`` holds the last parts of the mapped names. A file that may register a
    handler (``.handler``, ``.add_handler``, ``.register_handler``) is kept too.
    """
    if b"handler" in data and _HANDLER_TEXT.search(data):
        return True
    if _SPAWN_TEXT.search(data):
        return True
    has_queue_word: bool | None = None
    for match in _CALL_TEXT.finditer(data):
        line = data[data.rfind(b"\n", 0, match.start()) + 1 : match.start()]
        receiver = _RECEIVER.search(line)
        if receiver is None and not line.strip():
            return True  # `.put(` starts the line: the receiver is on the line above
        if receiver is None or _in_comment(line, receiver.start()):
            continue  # `f().put(`, `x[0].put(`, a comment: never a site
        chain = [part.strip() for part in receiver.group(1).split(b".")]
        if chain[0] not in _SELF or match.group(1) == b"add_task":
            return True
        if chain[-1].decode("ascii", "replace") in mapped:
            return True
        if has_queue_word is None:
            has_queue_word = b"Queue" in data
        if has_queue_word:
            return True
    return False


def calls_enqueue(data: bytes, mapped: frozenset[str] = frozenset()) -> bool:
    """Second, exact filter for files the text filter kept: ``ast`` sees real calls only,
    not the ones in docstrings or comments. A file ``ast`` cannot parse is kept (the
    analysis reports why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return tree_calls_enqueue(tree, data, mapped)


def tree_calls_enqueue(tree: ast.Module, data: bytes, mapped: frozenset[str]) -> bool:
    """:func:`calls_enqueue` on a tree already parsed."""
    has_queue_word = b"Queue" in data
    for node in ast.walk(tree):
        if _registers_handler(node) or _spawns(node):
            return True
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ENQUEUE_METHODS
        ):
            continue
        chain = _dotted(node.func.value)
        if chain is None:
            continue
        if chain[0] in ("self", "cls") and node.func.attr != "add_task":
            if not has_queue_word and chain[-1] not in mapped:
                continue
        return True
    return False


def _spawns(node: ast.AST) -> bool:
    """Work started and let go: a statement ``asyncio.create_task(...)``,
    ``Thread(target=...).start()``, ``executor.submit(...)``, ``loop.run_in_executor(...)``,
    ``tasks.add(asyncio.create_task(...))``, or such a start kept in a plain local
    (``t = asyncio.create_task(...)``); a handle kept on an object is managed, not a site."""
    if isinstance(node, ast.Assign):
        return (
            len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and (_starts_task(node.value) or _thread(node.value))
        )
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    call = node.value
    func = call.func
    if not isinstance(func, ast.Attribute):
        return _starts_task(call)
    if func.attr in ("submit", "run_in_executor") or _starts_task(call):
        return True
    if func.attr == "start" and isinstance(func.value, ast.Call):
        return _thread(func.value)
    if func.attr in ("add", "append") and len(call.args) == 1:
        return isinstance(call.args[0], ast.Call) and _starts_task(call.args[0])
    return False


def _starts_task(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("create_task", "ensure_future")


def _thread(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "Thread" and any(k.arg == "target" for k in call.keywords)


def _registers_handler(node: ast.AST) -> bool:
    """``@x.handler``, ``@x.handler(...)``, ``x.handler(f)``, ``x.add_handler(...)``,
    ``x.register_handler(...)`` on a dotted name (``self.handler(event)`` calls a stored
    callback, it registers nothing, and is left out)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return any(_handler_attribute(d) for d in node.decorator_list)
    if isinstance(node, ast.Call) and _handler_attribute(node.func):
        chain = _dotted(node.func.value) if isinstance(node.func, ast.Attribute) else None
        return chain is not None and chain not in (["self"], ["cls"])
    return False


def _handler_attribute(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Call):
        expr = expr.func
    return (
        isinstance(expr, ast.Attribute)
        and expr.attr in HANDLER_METHODS
        and _dotted(expr.value) is not None
    )


def too_deeply_nested(data: bytes) -> str | None:
    """Why libcst must not see this file, or None. libcst's native parser overflows the C
    stack (the process dies) on nesting that CPython itself refuses, so CPython asks first.
    Other syntax errors are left to libcst: it parses newer syntax than this interpreter."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data)
    except RecursionError:
        return "too deeply nested to parse (RecursionError)"
    except MemoryError:
        return "too deeply nested to parse (MemoryError)"
    except SyntaxError as exc:
        if "too many nested" in str(exc) or "too complex" in str(exc):
            return f"too deeply nested to parse ({exc.msg})"
    except ValueError:
        pass
    return None


def _dotted(expr: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.insert(0, expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    return [expr.id, *parts]


def _in_comment(line: bytes, at: int) -> bool:
    # A `#` earlier on the line with no quote before it starts a comment; with a quote it
    # may sit in a string, so the match is kept (the filter must never lose a site).
    before = line[:at]
    hash_at = before.find(b"#")
    return hash_at >= 0 and b"'" not in before[:hash_at] and b'"' not in before[:hash_at]


def mentions(data: bytes, words: frozenset[str]) -> bool:
    """Whether any of ``words`` occurs in ``data`` as a whole identifier."""
    return bool(words) and _words_pattern(words).search(data) is not None


@functools.lru_cache(maxsize=8)
def _words_pattern(words: frozenset[str]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(w.encode()) for w in sorted(words))
    return re.compile(rb"\b(?:" + alternatives + rb")\b")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


class Unreadable(type(Path())):  # type: ignore[misc]
    """An entry under the root that must not be opened: reading it raises a clear OSError.

    Listed among the files so that scan and rewrite report it under ``errors`` (as they do
    for any file they cannot read), instead of a traceback or a silent skip.
    """

    reason = "cannot be read"

    def read_bytes(self) -> bytes:
        raise OSError(0, self.reason)


def _unreadable(path: Path, reason: str) -> Path:
    entry = Unreadable(path)
    entry.reason = reason
    return entry


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _skipped_dir(here: Path, name: str) -> bool:
    if name in SKIPPED_DIRS:
        return True
    folder = here / name
    return folder.is_symlink() or (folder / "pyvenv.cfg").exists()


def iter_python_files(root: Path) -> tuple[Path, list[Path]]:
    """``(base, files)``: every ``.py`` file under ``root`` (or ``root`` itself if a file).

    Skipped folders are pruned, except when ``root`` itself is one (scanning a site-packages
    on purpose works). Symlinks are never followed: one leading out of the tree could make a
    rewrite write outside it, one inside it would visit a file twice. Only regular files are
    ever opened: a ``.py`` FIFO, socket or device, and a folder that cannot be listed, come
    back as :class:`Unreadable` entries, which scan and rewrite list under ``errors``.
    """
    root = Path(os.path.abspath(root))
    try:
        if root.is_file():
            return root.parent, [root]
    except OSError as exc:
        return root.parent, [_unreadable(root, f"cannot be read: {exc.strerror or exc}")]
    real_root = root.resolve()
    found: list[Path] = []

    def unlisted(exc: OSError) -> None:
        path = Path(exc.filename) if exc.filename else root
        found.append(_unreadable(path, f"folder cannot be listed: {exc.strerror or exc}"))

    for folder, dirs, files in os.walk(root, onerror=unlisted, followlinks=False):
        here = Path(folder)
        # Symlinked folders are pruned and symlinked files skipped, so a file is inside the
        # root when its folder is: one realpath per folder (not per file), which still
        # catches a folder swapped for a symlink while the walk runs.
        inside = _inside(here, real_root)
        kept = []
        for d in sorted(dirs):
            try:
                if not _skipped_dir(here, d):
                    kept.append(d)
            except OSError as exc:
                found.append(_unreadable(here / d, f"folder cannot be read: {exc.strerror or exc}"))
        dirs[:] = kept
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = here / name
            try:
                mode = path.lstat().st_mode
            except OSError as exc:
                found.append(_unreadable(path, f"cannot be read: {exc.strerror or exc}"))
                continue
            if stat.S_ISLNK(mode) or not inside:
                continue
            if not stat.S_ISREG(mode):
                found.append(_unreadable(path, f"is {_kind(mode)}, not a regular file: skipped"))
                continue
            found.append(path)
    return root, found


def describe(path: Path, base: Path, cache: dict[Path, list[str]] | None = None) -> SourceFile:
    """The relative path and module name of ``path`` (walking up while ``__init__.py`` exists)."""
    text, prefix = str(path), os.path.join(str(base), "")
    if text.startswith(prefix):  # the common case, without pathlib's parsing
        rel = text[len(prefix) :].replace(os.sep, "/")
    else:
        rel = path.relative_to(base).as_posix()
    is_package = path.name == "__init__.py"
    parts = list(_package_parts(path.parent, {} if cache is None else cache))
    if not is_package:
        parts.append(path.stem)
    module = ".".join(parts) if parts and all(p.isidentifier() for p in parts) else ""
    if isinstance(path, Unreadable):
        module = ""  # never looked up by module name, so never opened
    return SourceFile(path, rel, module, is_package)


def _package_parts(folder: Path, cache: dict[Path, list[str]]) -> list[str]:
    known = cache.get(folder)
    if known is not None:
        return known
    try:
        top = folder == folder.parent or not (folder / "__init__.py").is_file()
    except OSError:
        top = True  # a folder we may not look into: the module name stops here
    if top:
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
