"""The text ``init`` writes: the tasks module's generated region, and the Celery app module
when the project has none.

The region is fenced by two marker lines; the first carries a hash of what init wrote, so a
region edited by hand is recognised and never overwritten without ``--force``.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass, field

from ._dispatch import Consumer, Dispatch, QueueRef
from ._functions import FunctionTarget

__all__ = [
    "BEGIN",
    "END",
    "STUB_MARK",
    "Plan",
    "QueuePlan",
    "FunctionPlan",
    "region_hash",
    "render_app_module",
    "render_region",
    "split_region",
]

BEGIN = "# --- queue2celery init: generated region"
END = "# --- queue2celery init: end of generated region ---"
STUB_MARK = "q2c: init-stub"
_BEGIN_LINE = re.compile(r"^# --- queue2celery init: generated region, sha256=([0-9a-f]{16}).*$")


@dataclass(frozen=True)
class QueuePlan:
    """One adopted queue: its wiring function and the dispatcher task rewrite targets."""

    ref: QueueRef
    consumer: Consumer | None
    types: tuple[str, ...]  # "module:Class" of the payload classes that may cross
    ident: str  # a Python identifier for the queue
    # Where the app builds the instance holding the queue at run time (quoted in the stub).
    built_at: tuple[str, ...] = ()

    @property
    def runtime_instance(self) -> bool:
        """The queue lives on instances the app builds at run time only (in lifespan, a
        factory, Depends): the worker's ``run_<queue>`` is a stub that must build one."""
        ref = self.ref
        return ref.owner_class is not None and ref.instance is None and not ref.ambiguous

    @property
    def stub(self) -> bool:
        return self.consumer is None or self.consumer.dispatch is None or self.runtime_instance


@dataclass(frozen=True)
class FunctionPlan:
    """One background function: a task that calls it (lazily imported when needed)."""

    target: FunctionTarget
    task_name: str  # the generated function's name in the tasks module
    lazy: bool


@dataclass
class Plan:
    """Everything the tasks module holds."""

    package: str
    module: str  # the tasks module's dotted name
    app_import: tuple[str, str]  # (module, attribute) of the Celery app
    queues: list[QueuePlan] = field(default_factory=list)
    functions: list[FunctionPlan] = field(default_factory=list)
    imports_for_worker: list[str] = field(default_factory=list)
    # "module:Class" of every payload class a queue carries: Celery's JSON carries them too,
    # so the tasks rewrite calls can be sent the objects themselves.
    carried: list[str] = field(default_factory=list)


def region_hash(body: str) -> str:
    return hashlib.sha256(body.replace("\r\n", "\n").encode("utf-8")).hexdigest()[:16]


def split_region(text: str) -> tuple[str, str, str, str | None] | None:
    """``(before, body, after, stored_hash)`` of a file holding a region, else None."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(BEGIN)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(END)), None)
    if end is None:
        return None
    match = _BEGIN_LINE.match(lines[start].rstrip("\r\n"))
    return (
        "".join(lines[:start]),
        "".join(lines[start + 1 : end]),
        "".join(lines[end + 1 :]),
        match.group(1) if match else None,
    )


def wrap_region(body: str) -> str:
    return f"{BEGIN}, sha256={region_hash(body)} ---\n{body}{END}\n"


def render_app_module(package: str) -> str:
    return textwrap.dedent(
        f'''\
        """The Celery app of {package}, written by ``queue2celery init``.

        Broker and result backend come from CELERY_BROKER_URL / CELERY_RESULT_BACKEND /
        REDIS_URL (default redis://localhost:6379/0).
        """

        from __future__ import annotations

        from queue2celery.celery_tasks import make_celery_app

        celery_app = make_celery_app("{package}")
        '''
    )


def render_docstring(plan: Plan) -> str:
    return textwrap.dedent(
        f'''\
        """The Celery side of {plan.package}, written by ``queue2celery init`` from what scan
        found. Review it like any code; init rewrites only the region between the markers.

        Start a worker:   queue2celery worker -A {plan.module}:celery_app
        Check the set-up: queue2celery doctor -A {plan.module}:celery_app
        """

        '''
    )


def render_region(plan: Plan) -> str:
    """The body between the markers (without them)."""
    std = ["import functools"] if plan.carried else []
    if needs_importlib(plan):
        std.append("import importlib")
    if needs_live(plan):
        std.append("from collections.abc import Callable, Iterator, Mapping")
    if plan.queues:
        std.append("from typing import Any")
    toolkit = ["from queue2celery.celery_tasks import resolve_awaitable"]
    third = []
    compat = []
    if plan.carried:
        third = ["from celery.signals import before_task_publish, worker_init"]
        compat.append("carry_types")
    if plan.queues:
        compat.insert(0, "CompatQueue")
        toolkit.append("from queue2celery.legacy_queue import adopt")
    if compat:
        toolkit.append(f"from queue2celery.compat import {', '.join(compat)}")
    app_module, app_attr = plan.app_import
    alias = "" if app_attr == "celery_app" else " as celery_app"
    app = [f"from {app_module} import {app_attr}{alias}"]
    app += [
        f"from {f.target.module} import {f.target.name} as _{f.task_name}"
        for f in plan.functions
        if not f.lazy
    ]
    blocks = [
        "# init rewrites this region: edit outside it, or rerun init with --force.\n"
        "from __future__ import annotations",
        *(["\n".join(std)] if std else []),
        *(["\n".join(third)] if third else []),
        "\n".join(sorted(toolkit)),
    ]
    blocks.append("\n".join(sorted(app)))
    out = ["\n\n".join(blocks) + "\n"]
    if plan.imports_for_worker:
        modules = "".join(f'"{m}", ' for m in plan.imports_for_worker)
        out.append(
            "\n# A worker (and beat) imports these modules: the ones that build the adopted\n"
            "# queues register their handlers as tasks; the Beat schedule adds its entries.\n"
            "celery_app.conf.imports = (*tuple(celery_app.conf.imports or ()), "
            f"{modules.strip()})\n"
        )
    if needs_live(plan):
        out.append(_LIVE_CLASS)
    if plan.carried:
        out.append(_render_carried(plan.carried))
    for queue in plan.queues:
        out.append(_render_queue(queue, plan))
    for function in plan.functions:
        out.append(_render_function(function, plan))
    return "".join(out) + "\n"


_LIVE_CLASS = '''

class _Live(Mapping[str, Any]):
    """A handlers mapping looked up on every use: handlers registered later count, and the
    mapping may be defined after the line that builds the queue."""

    def __init__(self, get: Callable[[], Mapping[str, Any]]) -> None:
        self.get_mapping = get

    def _mapping(self) -> Mapping[str, Any]:
        try:
            return self.get_mapping()
        except AttributeError:  # not defined yet: the module or __init__ is still running
            return {}

    def __getitem__(self, key: str) -> Any:
        return self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())
'''


def _dispatch_of(queue: QueuePlan) -> Dispatch | None:
    return queue.consumer.dispatch if queue.consumer is not None else None


def needs_importlib(plan: Plan) -> bool:
    refs = [
        ref
        for q in plan.queues
        if (d := _dispatch_of(q)) is not None
        for ref in (d.run, d.handlers)
        if ref is not None
    ]
    return any(":" in ref for ref in refs)


def needs_live(plan: Plan) -> bool:
    return any(d.handlers for q in plan.queues if (d := _dispatch_of(q)))


def _render_queue(queue: QueuePlan, plan: Plan) -> str:
    ref = queue.ref
    where = f"{ref.module.rel}:{ref.line}"
    owned = ref.owner_class is not None
    params = "queue: Any, owner: Any" if owned else "queue: Any"
    built = f"self.{ref.name}" if owned else ref.name
    extra = ", self" if owned else ""
    dispatch = _dispatch_of(queue)
    ident = queue.ident
    out = ["\n\n"]
    out.append(_render_dispatch_helpers(queue, dispatch))
    out.append(
        f"\n\ndef adopt_{ident}({params}) -> CompatQueue:\n"
        f'    """{ref.key} on Celery, behind the rollout flag.\n'
        "\n"
        f"    It is built at {where}.\n"
        "    The one line to change where the queue is built:\n"
        f"        {built} = adopt_{ident}(<what it builds now>{extra})\n"
        '    """\n'
    )
    type_lines, types = _type_imports(queue)
    out += type_lines
    out.append("    return CompatQueue(\n        adopt(\n            queue,\n")
    for arg in _adopt_arguments(queue, dispatch, owned):
        out.append(f"            {arg},\n")
    if types:
        out.append(f"            types={types},\n")
    out.append(f'            name="{plan.module}.{ident}",\n')
    out.append("        ),\n        celery_app,\n    )\n")
    out.append(_render_dispatcher(queue, dispatch, plan))
    return "".join(out)


def dispatcher_name(queue: QueuePlan) -> str | None:
    """The task rewrite sends the queue's items to, when the worker can run one alone."""
    if queue.ref.owner_class is not None and queue.ref.instance is None:
        if not queue.runtime_instance:
            return None  # several instances: whose handlers run an item is the user's call
    return f"dispatch_{queue.ident}"


def _render_dispatcher(queue: QueuePlan, dispatch: Dispatch | None, plan: Plan) -> str:
    name = dispatcher_name(queue)
    if name is None:
        return ""
    ref = queue.ref
    lines = [
        "\n\n",
        f'@celery_app.task(name="{plan.module}.{name}", shared=False)\n',
        f"def {name}(item: Any) -> Any:\n",
        f'    """Runs one item of {ref.key} as its consumer loop did.\n\n'
        '    After rewrite, put(item) on the queue becomes this task\'s delay(item)."""\n',
    ]
    if ref.owner_class is not None and ref.instance is not None:
        lines.append(f"    from {ref.instance_module} import {ref.instance} as owner\n\n")
    if dispatch is None or queue.runtime_instance:
        lines.append(f"    return resolve_awaitable(run_{queue.ident}(item))\n")
        return "".join(lines)
    if dispatch.run is not None:
        lines.append(f"    return resolve_awaitable(({_callable(dispatch.run)})(item))\n")
        return "".join(lines)
    assert dispatch.handlers is not None
    lines.append(f"    handler = {_mapping(dispatch.handlers)}[route_{queue.ident}(item)]\n")
    if dispatch.call is not None:
        lines.append(f"    return resolve_awaitable(call_{queue.ident}(handler, item))\n")
    else:
        lines.append("    return resolve_awaitable(handler(item))\n")
    return "".join(lines)


def _render_dispatch_helpers(queue: QueuePlan, dispatch: Dispatch | None) -> str:
    """``route_<q>`` / ``call_<q>`` (or the ``run_<q>`` stub): what the consumer loop did."""
    ident = queue.ident
    if dispatch is None:
        return _render_stub(queue).lstrip("\n")
    stub = _render_stub(queue) if queue.runtime_instance else ""
    if dispatch.run is not None:
        return stub.lstrip("\n")
    item = dispatch.item_var
    text = f"def route_{ident}({item}: Any) -> Any:\n    return {dispatch.route}\n"
    if dispatch.call is not None:
        text += f"\n\ndef call_{ident}(fn: Any, {item}: Any) -> Any:\n    return {dispatch.call}\n"
    return text + stub


def _type_imports(queue: QueuePlan) -> tuple[list[str], str]:
    if not queue.types:
        return [], ""
    lines = []
    names = []
    for spec in queue.types:
        module, cls = spec.split(":")
        lines.append(f"    from {module} import {cls}  # imported here: no import cycle\n")
        names.append(cls)
    return lines, f"({', '.join(names)},)"


def _adopt_arguments(queue: QueuePlan, dispatch: Dispatch | None, owned: bool) -> list[str]:
    ident = queue.ident
    if dispatch is None:
        return [f"run=run_{ident}"]
    if dispatch.run is not None:
        return [f"run={_callable(dispatch.run)}"]
    assert dispatch.handlers is not None
    args = [f"handlers={_mapping(dispatch.handlers)}", f"route=route_{ident}"]
    if dispatch.call is not None:
        args.append(f"call=call_{ident}")
    return args


def _callable(ref: str) -> str:
    if ref.startswith("owner."):
        return ref
    module, attr = ref.split(":")
    return f'lambda item: getattr(importlib.import_module("{module}"), "{attr}")(item)'


def _mapping(ref: str) -> str:
    if ref.startswith("owner."):
        return f"_Live(lambda: {ref})"
    module, attr = ref.split(":")
    return f'_Live(lambda: importlib.import_module("{module}").{attr})'


def _render_stub(queue: QueuePlan) -> str:
    consumer = queue.consumer
    if consumer is None:
        why = "scan found no loop that drains this queue"
        quoted = ["# (no consumer loop found)"]
    else:
        why = consumer.reason or "the consumer's dispatch could not be read"
        quoted = [f"# {line}".rstrip() for line in consumer.loop_source.splitlines()]
        quoted.insert(0, f"# {consumer.module.rel}:{consumer.line} ({consumer.function}):")
    if queue.runtime_instance:
        cls = queue.ref.owner_class
        why = f"the app builds its {cls} at run time only, the worker needs one (below)"
        quoted += _instance_advice(queue)
    body = "\n".join(f"    {line}" for line in quoted)
    return (
        f"\n\ndef run_{queue.ident}(item: Any) -> Any:  # {STUB_MARK}\n"
        f'    """What the consumer loop does with one item. Fill it in, then delete the\n'
        f'    {STUB_MARK} mark above (queue2celery check fails until then): {why}."""\n'
        f"{body}\n"
        f'    raise NotImplementedError("fill in run_{queue.ident}")\n'
    )


def _instance_advice(queue: QueuePlan) -> list[str]:
    """How to give the worker an instance: build one as the app does, once per process."""
    cls = queue.ref.owner_class
    lines = [
        "#",
        f"# Give the worker a {cls} built the way the app builds one, once per worker",
        "# process (a functools.cache getter; import the app's modules inside it):",
    ]
    if queue.built_at:
        head, *code = queue.built_at
        lines.append(f"#   the app, at {head}")
        lines += [f"#       {line}" for line in code]
    else:
        lines.append(f"#   (init found no `x = {cls}(...)` in a function of the app: use its")
        lines.append("#   factory or singleton getter if it has one)")
    dispatch = _dispatch_of(queue)
    if dispatch is not None and dispatch.handlers is not None and dispatch.call is None:
        handlers = dispatch.handlers
        lines.append("# then run the item as the loop does, `owner` being that instance:")
        lines.append(f"#   return {handlers}[route_{queue.ident}(item)](item)")
    elif dispatch is not None and dispatch.run is not None and dispatch.run.startswith("owner."):
        lines.append("# then run the item as the loop does, `owner` being that instance:")
        lines.append(f"#   return {dispatch.run}(item)")
    else:
        lines.append("# then do with the item what the loop above does, on that instance.")
    return lines


def _render_function(function: FunctionPlan, plan: Plan) -> str:
    target = function.target
    task = f"{plan.module}.{function.task_name}"
    call = f"run({target.arguments})"
    lines = [
        "\n\n",
        f'@celery_app.task(name="{task}", shared=False)\n',
        f"def {function.task_name}({target.parameters}) -> None:\n",
        f'    """Runs {target.qualified}{" (awaited)" if target.is_async else ""}."""\n',
    ]
    if function.lazy:
        lines.append(f"    from {target.module} import {target.name} as run  # no import cycle\n")
        lines.append(f"    resolve_awaitable({call})\n")
    else:
        lines.append(f"    resolve_awaitable(_{function.task_name}({target.arguments}))\n")
    return "".join(lines)


def _render_carried(carried: list[str]) -> str:
    imports = "".join(
        f"    from {module} import {cls}  # imported here: no import cycle\n"
        for module, cls in (spec.split(":") for spec in carried)
    )
    names = ", ".join(spec.split(":")[1] for spec in carried)
    return (
        "\n\n@functools.cache\n"
        "def carry_payload_types() -> None:\n"
        '    """Celery\'s JSON carries the payload classes ([tool.queue2celery] types), so a\n'
        "    rewritten call may send the object itself (``dispatch_<queue>.delay(task)``): it\n"
        "    travels tagged and arrives as the same class. Run before the first send (in the\n"
        "    sending process) and when a worker starts; only the classes listed here are\n"
        '    rebuilt."""\n'
        f"{imports}"
        f"    carry_types({names})\n"
        "\n\n"
        "@before_task_publish.connect\n"
        "@worker_init.connect\n"
        "def _carry_payload_types(**_: Any) -> None:\n"
        "    carry_payload_types()\n"
    )
