"""``init``: from scan's findings and the project's trees to the files it writes."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError
from .._files import write_atomically
from .._periodic_model import PeriodicJob
from ..beat_schedule import MARKER as SCHEDULE_MARKER
from ..beat_schedule import generate_schedule
from ..config import MigrateConfig, find_pyproject
from ..results import FileError
from ..scan import scan
from ._dispatch import QueueRef, find_consumer, locate_queue
from ._functions import FunctionTarget, read_function
from ._project import CeleryApp, Project, load_project
from ._pyproject import merge_tables
from ._render import (
    FunctionPlan,
    Plan,
    QueuePlan,
    dispatcher_name,
    region_hash,
    render_app_module,
    render_docstring,
    render_region,
    split_region,
    wrap_region,
)
from ._types import payload_classes

__all__ = ["InitResult", "init"]

QUEUE_KINDS = frozenset({"queue_put", "manager_add_task", "manager_enqueue"})
FUNCTION_KINDS = frozenset({"background_task", "create_task", "thread_start", "executor_submit"})


@dataclass(frozen=True)
class Written:
    """A file init wrote (or would write, with ``dry_run``), as a unified diff."""

    path: str
    diff: str
    created: bool


@dataclass(frozen=True)
class InitResult:
    """What init wrote, what it reused, and what is left to the user."""

    package: str
    module: str  # the tasks module, dotted
    app: str  # "module:attr" of the Celery app the tasks module uses
    written: tuple[Written, ...]
    reused: tuple[str, ...]
    stubs: tuple[str, ...]
    candidates: tuple[tuple[str, str], ...]  # (name, reason) for what init could not do
    kept: tuple[str, ...]  # user mappings left as they were
    conflict: str | None  # the diff of a hand-edited region init did not overwrite
    errors: tuple[FileError, ...]
    dry_run: bool

    @property
    def ok(self) -> bool:
        return not self.stubs and self.conflict is None


def init(
    path: Path,
    config: MigrateConfig | None = None,
    *,
    package: str | None = None,
    app: str | None = None,
    module_name: str = "celery_tasks",
    force: bool = False,
    dry_run: bool = False,
    jobs: int | None = None,
) -> InitResult:
    """Write (or with ``dry_run`` only show) the Celery side of the project under ``path``."""
    root = Path(path)
    if not module_name.isidentifier():
        raise ConfigError(f"--module {module_name!r} is not a Python module name; use e.g. tasks")
    config = config or MigrateConfig()
    found = scan(root, config, jobs=jobs)
    project = load_project(root)
    errors = [*found.errors, *(FileError(p, m) for p, m in project.errors)]
    package = package or _guess_package(project, found.sites, app)
    package_module = project.modules.get(package)
    if package_module is None or not package_module.is_package:
        raise ConfigError(
            f"--package {package!r} is not a package under {str(root)!r}; "
            "name the folder (with an __init__.py) the Celery side goes in"
        )
    tasks_module = f"{package}.{module_name}"
    tasks_path = package_module.path.parent / f"{module_name}.py"
    chosen = _choose_app(project, app, tasks_module)
    writer = _Writer(root, dry_run)
    reused: list[str] = []
    candidates: list[tuple[str, str]] = []
    if chosen is None:
        app_module = f"{package}.celery_app"
        app_attr = "celery_app"
        app_path = package_module.path.parent / "celery_app.py"
        if app_path.exists():
            raise ConfigError(
                f"{_rel(app_path, root)} exists but builds no Celery app init can see; "
                "name the app with --app MODULE:ATTR"
            )
        writer.write(app_path, render_app_module(package))
    else:
        app_module, app_attr = chosen.module, chosen.name
        reused.append(f"Celery app {chosen.spec} ({chosen.rel}:{chosen.line})")

    site_modules = {m for s in found.sites if (m := _module_of(project, s.path))}
    plan = Plan(package, tasks_module, (app_module, app_attr))
    queue_map, function_map = _plan_queues(project, found.sites, plan, candidates)
    importers = {*site_modules, *(q.ref.module.name for q in plan.queues), tasks_module}
    if chosen is not None and _reaches(project, chosen.module, importers):
        candidates.append(
            (
                chosen.spec,
                f"{chosen.module} imports app code that will import {tasks_module}: an import "
                "cycle; keep the Celery app in a module that imports no app code",
            )
        )
    # The tasks module's own tasks are init's work, not the app's: never "reused".
    existing = {
        t.function: t
        for t in project.existing_tasks()
        if not t.function.startswith(f"{tasks_module}.")
    }
    for key in sorted({s.queue for s in found.sites if s.kind in FUNCTION_KINDS and s.queue}):
        reuse = next((t for t in existing.values() if key in t.calls), None)
        if reuse is not None:
            function_map[key] = reuse.function
            reused.append(f"task {reuse.name} ({reuse.rel}:{reuse.line}) for {key}")
            continue
        target = read_function(project, key)
        if isinstance(target, str):
            candidates.append((key, target))
            continue
        name = _unique(target, plan.functions)
        lazy = _reaches(project, target.module, importers)
        plan.functions.append(FunctionPlan(target, name, lazy))
        function_map[key] = f"{tasks_module}.{name}"

    _plan_schedule(found.periodic, plan, package_module.path.parent, writer, candidates)
    stubs = [
        f"{tasks_module}.run_{q.ident} ({_rel(tasks_path, root)})" for q in plan.queues if q.stub
    ]
    conflict = None
    if plan.queues or plan.functions:
        doc, body = render_docstring(plan), render_region(plan)
        conflict = writer.write_region(tasks_path, doc, body, force)
    if conflict is None:
        _write_tables(root, writer, {"queues": queue_map, "functions": function_map}, reused)
    kept = writer.kept
    return InitResult(
        package,
        tasks_module,
        f"{app_module}:{app_attr}",
        tuple(writer.written),
        tuple(reused),
        tuple(stubs),
        tuple(candidates),
        tuple(kept),
        conflict,
        tuple(errors),
        dry_run,
    )


def _plan_schedule(
    jobs: tuple[PeriodicJob, ...],
    plan: Plan,
    folder: Path,
    writer: _Writer,
    candidates: list[tuple[str, str]],
) -> None:
    """``PKG/beat_schedule.py`` from the periodic findings; the worker and beat import it."""
    if not jobs:
        return
    module = f"{plan.package}.beat_schedule"
    # Through the tasks module, so the schedule's comments name the -A the user runs.
    schedule = generate_schedule(jobs, app=f"{plan.module}:celery_app", module=module)
    path = folder / "beat_schedule.py"
    if path.exists() and not _read(path).startswith(SCHEDULE_MARKER):
        candidates.append((module, f"{_rel(path, writer.root)} exists and init did not write it"))
        return
    writer.write(path, schedule.source)
    plan.imports_for_worker = sorted({*plan.imports_for_worker, module})
    for job in schedule.to_review:
        reasons = "; ".join(job.needs_review) or "no function to call"
        candidates.append((f"periodic {job.name} ({job.path}:{job.line})", reasons))


def _plan_queues(
    project: Project, sites: Iterable, plan: Plan, candidates: list[tuple[str, str]]
) -> tuple[dict[str, str], dict[str, str]]:
    queue_map: dict[str, str] = {}
    keys = sorted({s.queue for s in sites if s.kind in QUEUE_KINDS and s.queue})
    idents: set[str] = set()
    for key in keys:
        ref = locate_queue(project, key)
        if ref is None:
            candidates.append((key, "init cannot find the statement that builds this queue"))
            continue
        ident = _ident(ref, idents)
        consumer = find_consumer(project, ref)
        queue = QueuePlan(ref, consumer, payload_classes(project, ref), ident)
        plan.queues.append(queue)
        if ref.owner_class is None or ref.instance is not None:
            plan.imports_for_worker.append(ref.module.name)
        dispatcher = dispatcher_name(queue)
        if dispatcher is None:
            candidates.append(
                (
                    key,
                    f"{ref.owner_class} instances are built at run time: rewrite needs a "
                    "module-level instance for the worker to dispatch on",
                )
            )
        else:
            queue_map[key] = f"{plan.module}.{dispatcher}"
    plan.imports_for_worker = sorted(set(plan.imports_for_worker))
    return queue_map, {}


def _ident(ref: QueueRef, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", (ref.instance or ref.name).strip("_")) or "queue"
    if ref.owner_class and not ref.instance:
        base = f"{ref.owner_class.lower()}_{base}"
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def _unique(target: FunctionTarget, planned: list[FunctionPlan]) -> str:
    taken = {f.task_name for f in planned}
    name = target.name.lstrip("_") or "task"
    if name in taken:
        name = f"{target.module.rsplit('.', 1)[-1]}_{name}"
    while name in taken:
        name += "_"
    return name


def _guess_package(project: Project, sites: Iterable, app: str | None) -> str:
    tops = set()
    for site in sites:
        module = _module_of(project, site.path)
        if module:
            tops.add(module.split(".")[0])
    if app:
        tops.add(app.split(":")[0].split(".")[0])
    if len(tops) == 1:
        return tops.pop()
    listed = ", ".join(sorted(tops)) or "none found"
    raise ConfigError(
        f"cannot tell which package the Celery side belongs in (packages with sites: {listed}); "
        "pass --package PKG"
    )


def _module_of(project: Project, rel: str) -> str | None:
    for module in project:
        if module.rel == rel:
            return module.name
    return None


def _choose_app(project: Project, app: str | None, tasks_module: str) -> CeleryApp | None:
    apps = [a for a in project.celery_apps() if a.module != tasks_module]
    if app is not None:
        module, _, attr = app.partition(":")
        if not attr:
            raise ConfigError(f"--app {app!r} must be MODULE:ATTR, e.g. myapp.celery_app:app")
        match = next((a for a in apps if a.module == module and a.name == attr), None)
        if match is None:
            known = ", ".join(a.spec for a in apps) or "none"
            raise ConfigError(
                f"--app {app!r}: no Celery app {attr!r} is built in {module} "
                f"(apps found: {known})"
            )
        return match
    if len(apps) > 1:
        listed = ", ".join(f"{a.spec} ({a.rel}:{a.line})" for a in apps)
        raise ConfigError(f"the project has several Celery apps: {listed}; pass --app MODULE:ATTR")
    return apps[0] if apps else None


def _graph(project: Project) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in project:
        targets = set()
        for qualified in module.imports().values():
            found = project.find(qualified)
            if found is not None:
                targets.add(found[0].name)
            elif qualified in project.modules:
                targets.add(qualified)
        graph[module.name] = targets
    return graph


def _reaches(project: Project, start: str, goals: set[str]) -> bool:
    """Whether importing ``start`` imports (at module level, transitively) any of ``goals``."""
    if project.import_graph is None:  # built once per init run: every function asks
        project.import_graph = _graph(project)
    graph = project.import_graph
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt in goals:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _rel(path: Path, root: Path) -> str:
    base = root if root.is_dir() else root.parent
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _write_tables(
    root: Path, writer: _Writer, tables: dict[str, dict[str, str]], reused: list[str]
) -> None:
    if not any(tables.values()):
        return
    pyproject = find_pyproject(root) or (root if root.is_dir() else root.parent) / "pyproject.toml"
    before = _read(pyproject) if pyproject.exists() else ""
    after, kept = merge_tables(before, tables, _rel(pyproject, root))
    writer.kept.extend(kept)
    if after != before:
        writer.write(pyproject, after)


def _read(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"{str(path)!r} is not a regular file; init writes only regular files")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{str(path)!r} is not UTF-8 text; save it as UTF-8, then rerun") from exc


class _Writer:
    """Writes (or, dry, only diffs) each file once, atomically."""

    def __init__(self, root: Path, dry_run: bool) -> None:
        self.root, self.dry_run = root, dry_run
        self.written: list[Written] = []
        self.kept: list[str] = []

    def write(self, path: Path, text: str) -> None:
        created = not path.exists()
        before = "" if created else _read(path)
        if before == text:
            return
        rel = _rel(path, self.root)
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                text.splitlines(keepends=True),
                "/dev/null" if created else f"a/{rel}",
                f"b/{rel}",
            )
        )
        self.written.append(Written(rel, diff, created))
        if self.dry_run:
            return
        if created:
            path.write_bytes(b"")
        write_atomically(path, text.encode("utf-8"))

    def write_region(self, path: Path, doc: str, body: str, force: bool) -> str | None:
        """Write the region; the diff of a hand-edited region left alone, else None."""
        if not path.exists():
            self.write(path, doc + wrap_region(body))
            return None
        text = _read(path)
        parts = split_region(text)
        if parts is None:
            raise ConfigError(
                f"{_rel(path, self.root)} exists and init did not write it; pass --module NAME "
                "to write the Celery side to another module"
            )
        before, current, after, stored = parts
        newline = "\r\n" if "\r\n" in text else "\n"
        if stored != region_hash(current) and not force:
            return "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    body.splitlines(keepends=True),
                    f"{_rel(path, self.root)} (region as edited)",
                    f"{_rel(path, self.root)} (region init would write)",
                )
            )
        region = wrap_region(body)
        if newline == "\r\n":
            region = region.replace("\n", "\r\n")
        self.write(path, before + region + after)
        return None

