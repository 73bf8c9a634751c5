"""What ``init`` reads from the project, statically: every module's syntax tree, the Celery
apps it already has and the tasks already written on them.

Only ``ast`` (never an import of the project): a tree that does not parse is reported and the
rest goes on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._files import SourceFile, Unreadable, split_bom
from ..scan import collect_files

__all__ = ["CeleryApp", "ExistingTask", "Module", "Project", "load_project"]

_APP_FACTORIES = frozenset({"Celery", "make_celery_app"})
_TASK_DECORATORS = frozenset({"task", "shared_task"})


@dataclass(frozen=True)
class Module:
    """One parsed module of the project."""

    name: str
    path: Path
    rel: str
    tree: ast.Module
    source: str
    is_package: bool

    def imports(self) -> dict[str, str]:
        """Local name -> fully qualified name, for the module-level imports (read once: the
        dispatch and payload readers ask for every call they look at)."""
        cached = self.__dict__.get("_imports")
        if cached is not None:
            return cached
        found: dict[str, str] = {}
        for node in self.tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    found[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom):
                base = absolute_module(self.name, self.is_package, node.module, node.level)
                for alias in node.names:
                    if alias.name != "*":
                        found[alias.asname or alias.name] = f"{base}.{alias.name}".lstrip(".")
        object.__setattr__(self, "_imports", found)  # frozen: cached beside the fields
        return found

    def top_level(self, name: str) -> ast.stmt | None:
        """The module-level def, class or assignment that binds ``name``."""
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name == name:
                    return node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    return node
        return None


def absolute_module(module: str, is_package: bool, target: str | None, level: int) -> str:
    """The absolute module an ``from <level dots><target> import`` in ``module`` names."""
    if level == 0:
        return target or ""
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    if target:
        parts.append(target)
    return ".".join(parts)


@dataclass(frozen=True)
class CeleryApp:
    """A Celery app the project builds at module level: ``module:name``."""

    module: str
    name: str
    rel: str
    line: int
    factory: str  # "Celery" or "make_celery_app"

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.name}"


@dataclass(frozen=True)
class ExistingTask:
    """A function already decorated as a Celery task, with the project functions it calls."""

    name: str  # the task's registered name
    function: str  # fully qualified name of the decorated function
    calls: frozenset[str]
    rel: str
    line: int


@dataclass
class Project:
    """The parsed modules by name, and what could not be read."""

    root: Path
    modules: dict[str, Module] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    # Module -> project modules it imports at module level (init builds it once, on demand).
    import_graph: dict[str, set[str]] | None = None

    def __iter__(self) -> Iterator[Module]:
        return iter(self.modules.values())

    def find(self, qualified: str) -> tuple[Module, str] | None:
        """The module that defines ``qualified`` and the rest of the name inside it."""
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = self.modules.get(".".join(parts[:cut]))
            if module is not None:
                return module, ".".join(parts[cut:])
        return None

    def celery_apps(self) -> list[CeleryApp]:
        apps = []
        for module in self:
            for node in module.tree.body:
                if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
                    continue
                factory = _last_name(node.value.func)
                if factory not in _APP_FACTORIES:
                    continue
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        apps.append(
                            CeleryApp(module.name, target.id, module.rel, node.lineno, factory)
                        )
        return apps

    def existing_tasks(self) -> list[ExistingTask]:
        tasks = []
        for module in self:
            imports = module.imports()
            for node in ast.walk(module.tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                name = _task_name(node, module.name)
                if name is None:
                    continue
                calls = frozenset(_called_names(node, imports, module.name))
                tasks.append(
                    ExistingTask(name, f"{module.name}.{node.name}", calls, module.rel, node.lineno)
                )
        return tasks


def _last_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def _task_name(node: ast.FunctionDef | ast.AsyncFunctionDef, module: str) -> str | None:
    """The registered name when ``node`` is decorated ``@app.task`` / ``@shared_task``."""
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        func = call.func if call is not None else decorator
        if _last_name(func) not in _TASK_DECORATORS:
            continue
        if call is not None:
            for keyword in call.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        return f"{module}.{node.name}"
    return None


def _called_names(node: ast.AST, imports: dict[str, str], module: str) -> Iterator[str]:
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        parts: list[str] = []
        func = call.func
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            continue
        head = imports.get(func.id, f"{module}.{func.id}")
        yield ".".join([head, *reversed(parts)])


def load_project(root: Path) -> Project:
    """Parse every Python file under ``root`` (the files scan and rewrite consider)."""
    project = Project(root)
    for source in collect_files(root):
        module = _parse(source, project)
        if module is not None and module.name:
            project.modules[module.name] = module
    return project


def _parse(source: SourceFile, project: Project) -> Module | None:
    if isinstance(source.path, Unreadable):
        return None  # a FIFO or device named *.py: never opened, scan lists it
    try:
        with open(source.path, "rb") as handle:
            _, data = split_bom(handle.read())
        text = data.decode("utf-8")
        tree = ast.parse(text, filename=source.rel)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError) as exc:
        project.errors.append((source.rel, f"{type(exc).__name__}: {exc}".splitlines()[0]))
        return None
    return Module(source.module, source.path, source.rel, tree, text, source.is_package)
