"""Cross-file step: which receivers are task queues or task managers, and the final sites."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from ._advice import parameter_advice
from ._facts import (
    CANDIDATE_METHODS,
    ArgShape,
    CallFact,
    FileFacts,
    HandlerFact,
    Signature,
    SpawnFact,
    StateUse,
)
from ._risks import (
    Risk,
    closure_risk,
    host_risk,
    kwargs_risk,
    object_risk,
    priority_risk,
    requeue_risk,
    sentinel_risk,
    startup_risk,
)
from ._symbols import (
    ASYNC_QUEUE_CLASSES,
    QUEUE_CLASSES,
    RET,
    STATE,
    TYPE,
    is_legacy_task_queue_class,
)
from .config import MigrateConfig
from .results import Candidate, HandlerSite, Site

SHARED_STATE = "shared-state"
_TAIL = "keep it in Redis or a database"
_STATE_MESSAGES = {
    "write": "writes module-level {v}: once the worker is another process the API no longer "
    "sees it; " + _TAIL,
    "rebind": "rebinds module-level {v} (global): once the worker is another process the API "
    "no longer sees it; " + _TAIL,
    "read": "reads module-level {v}, which other code writes: once the worker is another "
    "process it no longer sees those writes; " + _TAIL,
}
# Which registration methods count on which kind of receiver.
_QUEUE_METHODS = frozenset({"handler", "add_handler"})
_MANAGER_METHODS = frozenset({"register_handler"})


def _legacy(classes: Iterable[str]) -> bool:
    return any(is_legacy_task_queue_class(c) for c in classes)


class Linker:
    """Knows every analysed module's facts; classifies calls into sites."""

    def __init__(self, facts: Iterable[FileFacts], config: MigrateConfig) -> None:
        self.config = config
        facts = list(facts)
        self.values: dict[str, set[str]] = {}
        self._atoms: dict[str, set[str]] = {}  # memo: every name resolved once
        self._visiting: set[str] = set()
        self.returns: dict[str, set[str]] = {}
        self.class_methods: dict[str, tuple[str, ...]] = {}
        self.class_kinds: dict[str, str] = {}
        callees: dict[str, set[str]] = {}
        targets: set[str] = set()
        self.forever: set[str] = set()
        pools: set[str] = set()
        for f in facts:
            for obj, values in f.instances:
                self.values.setdefault(obj, set()).update(values)
            for fn, names in f.returns:
                self.returns.setdefault(fn, set()).update(names)
            for fn, called in f.callees:
                callees.setdefault(fn, set()).update(called)
            self.class_methods.update(f.classes)
            self.class_kinds.update(f.class_kinds)
            targets |= f.thread_targets
            self.forever |= f.forever
            pools |= f.pools
        self.consumers = _reachable(targets, callees, hops=3)
        self.signatures: dict[str, Signature] = {}
        for f in facts:
            self.signatures.update(f.signatures)
        self.host_reasons: dict[str, tuple[str, ...]] = {}
        for f in facts:
            for fn, why in f.host_bound:
                self.host_reasons[fn] = (*self.host_reasons.get(fn, ()), why)
        self.drained: set[str] = set()
        self.drain_functions: dict[str, set[str]] = {}  # queue -> functions draining it
        for f in facts:
            for queues, fn in f.drain_loops:
                if fn not in self.consumers:
                    continue
                for q in queues:
                    for atom in self.atoms(q):
                        if atom.startswith(TYPE):
                            continue
                        self.drained.add(atom)
                        self.drain_functions.setdefault(atom, set()).add(fn)
        self.pools = {a for p in pools for a in self.atoms(p) if not a.startswith(TYPE)}
        self._facts = facts
        self._link_managers()
        self.mutable: set[str] = set()
        self.uses: list[StateUse] = []
        self.module_of: dict[str, str] = {}  # function -> its module, for messages
        for f in facts:
            self.mutable |= f.mutable_state
            self.uses.extend(f.state_uses)
            self.module_of.update((u.function, f.module) for u in f.state_uses)
        self.writers: dict[str, set[str]] = {}
        for use in self.uses:
            if use.kind != "read":
                self.writers.setdefault(use.variable, set()).add(use.function)

    # -- what a name is -----------------------------------------------------------------
    def is_class(self, name: str) -> bool:
        if name in self.class_methods or name in _ALL_QUEUES or _legacy((name,)):
            return True
        if name in self.returns:
            return False
        last = name.rpartition(".")[2]
        return last[:1].isupper() and not last.isupper() and "." in name

    def atoms(self, name: str, depth: int = 0) -> set[str]:
        """What ``name`` (an object name or a symbolic one from the collector) may be:
        object names and ``@type:C`` instances of classes."""
        known = self._atoms.get(name)
        if known is not None:
            return known
        if depth > 8 or name in self._visiting:
            return set()  # a cycle of aliases, or too deep to matter
        self._visiting.add(name)
        try:
            known = self._resolve_atoms(name, depth)
        finally:
            self._visiting.discard(name)
        self._atoms[name] = known
        return known

    def _resolve_atoms(self, name: str, depth: int) -> set[str]:
        if name.startswith(TYPE):
            return {name}
        if name.startswith(RET):
            called = name[len(RET) :]
            if self.is_class(called):
                return {TYPE + called}
            out: set[str] = set()
            for value in self.returns.get(called, ()):
                out |= self.atoms(value, depth + 1)
            return out
        out = {name}
        for value in self.values.get(name, ()):
            out |= self.atoms(value, depth + 1)
        if name not in self.values and "." in name:
            prefix, _, attr = name.rpartition(".")
            if prefix.startswith(RET) or prefix in self.values or "." in prefix:
                for atom in self.atoms(prefix, depth + 1):
                    if atom == prefix:
                        continue
                    base = atom[len(TYPE) :] if atom.startswith(TYPE) else atom
                    out |= self.atoms(f"{base}.{attr}", depth + 1)
        return out

    def classes_of(self, names: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for name in names:
            out |= {a[len(TYPE) :] for a in self.atoms(name) if a.startswith(TYPE)}
        return out

    def queue_of(self, receivers: Iterable[str], awaited: bool = False) -> str | None:
        """The task queue a put on ``receivers`` feeds: an object of a queue class that a
        consumer (a thread/task target, or up to three calls from one) drains."""
        for r in sorted(receivers):
            atoms = self.atoms(r)
            if atoms & self.pools:
                continue
            classes = {a[len(TYPE) :] for a in atoms if a.startswith(TYPE)}
            if awaited and not ASYNC_QUEUE_CLASSES & classes:
                continue  # `await x.put()` on anything but an asyncio queue
            for atom in sorted(atoms):
                if _legacy(self.classes_of([atom])):
                    return _display_name(atom, r)
            if _ALL_QUEUES & classes:
                for atom in sorted(atoms & self.drained):
                    if not atom.startswith(TYPE):
                        return _display_name(atom, r)
        return None

    def _link_managers(self) -> None:
        """Classes and functions whose body puts onto a task queue: their methods are a
        manager's enqueue methods, the module functions are wrappers."""
        self.enqueue_methods: dict[tuple[str, str], str] = {}  # (class, method) -> queue
        self.wrappers: dict[str, str] = {}  # function -> queue
        holders: set[str] = set()
        for f in self._facts:
            for call in f.calls:
                if call.method not in ("put", "put_nowait") or call.sentinel:
                    continue
                queue = self.queue_of(call.receivers, call.awaited) or next(
                    (r for r in call.receivers if r in self.config.queues), None
                )
                if queue is None or call.enclosing in self.consumers:
                    continue
                owner, _, method = call.enclosing.rpartition(".")
                if owner in self.class_methods:
                    self.enqueue_methods[(owner, method)] = queue
                    holders.add(owner)
                elif "<locals>" not in call.enclosing and owner == f.module:
                    self.wrappers[call.enclosing] = queue
        self.manager_classes: set[str] = set()
        for cls, methods in self.class_methods.items():
            if "add_task" in methods and (
                "register_handler" in methods
                or cls in holders
                or any(cls in f.threaded_classes for f in self._facts)
            ):
                self.manager_classes.add(cls)
        for obj in self.values:
            classes = self.classes_of([obj])
            if QUEUE_CLASSES & classes or _legacy(classes):
                self.manager_classes.add(obj.rpartition(".")[0])  # a class holding a queue
        self.manager_classes &= {c for c, m in self.class_methods.items() if "add_task" in m}
        # A manager whose own queue is mapped and none of whose methods puts onto a queue any
        # more: rewrite changed its enqueue method into a Celery call, so its callers are done.
        mapped_owners = {q.rpartition(".")[0] for q in self.config.queues}
        self.manager_classes -= (mapped_owners & self.class_methods.keys()) - holders

    def handler(self, path: str, fact: HandlerFact) -> HandlerSite | None:
        queue = self._handler_queue(fact)
        if queue is None:
            return None
        risks = self._state_risks(fact.function) if fact.function else ()
        return HandlerSite(
            path,
            fact.line,
            fact.col,
            queue,
            fact.name,
            fact.function,
            fact.max_retries,
            fact.retry_delay,
            risks,
        )

    def _display(self, variable: str, function: str) -> str:
        """The variable's short name when it lives in the function's own module."""
        module, _, short = variable.rpartition(".")
        return short if self.module_of.get(function) == module else variable

    def _handler_queue(self, fact: HandlerFact) -> str | None:
        for r in fact.receivers:
            if r in self.config.queues:
                return r
        for r in sorted(fact.receivers):
            classes = self.classes_of([r])
            if _legacy(classes) and fact.method in _QUEUE_METHODS:
                return r
            if classes & self.manager_classes and fact.method in _MANAGER_METHODS:
                return r
        return None

    def _state_risks(self, function: str) -> tuple[Risk, ...]:
        """One risk per module-level variable the handler (or a function nested in it)
        shares with other code: writes first, then reads of what others write."""
        inner = f"{function}.<locals>."
        mine = [u for u in self.uses if u.function == function or u.function.startswith(inner)]
        found: dict[str, str] = {}
        for use in mine:
            if use.kind == "rebind" or (use.kind == "write" and use.variable in self.mutable):
                if found.get(use.variable) != "write":
                    found[use.variable] = use.kind
        for use in mine:
            if use.kind != "read" or use.variable in found or use.variable not in self.mutable:
                continue
            others = {w for w in self.writers.get(use.variable, ()) if w not in _family(mine)}
            if others:
                found[use.variable] = "read"
        return tuple(
            Risk(SHARED_STATE, _STATE_MESSAGES[kind].format(v=self._display(v, function)))
            for v, kind in sorted(found.items())
        )

    def site(self, path: str, call: CallFact) -> Site | None:
        kind, queue, target, via = self._classify(call)
        if kind is None:
            return None
        risks = call.risks
        if kind in ("queue_put", "manager_add_task", "manager_enqueue"):
            extra = self._call_risks(call, kind)
            codes = {r.code for r in extra}
            if "sentinel" in codes:
                risks = ()  # its shape does not matter: it is never sent
            if "object-payload" in codes:
                risks = tuple(r for r in risks if r.code != "object-construction")
            risks = (*risks, *extra)
        mismatch = self._kwargs_risk(target, call.shape)
        if mismatch is not None:
            risks = (*risks, mismatch)
        if kind == "background_task" and call.function:
            closure = (closure_risk(call.captures),) if call.captures else ()
            risks = (*risks, *closure, *self._host_bound(call.function))
            return Site(
                path,
                call.line,
                call.col,
                kind,
                queue,
                target,
                risks,
                function=call.function,
                captures=call.captures,
            )
        return Site(path, call.line, call.col, kind, queue, target, risks, via=via)

    def _call_risks(self, call: CallFact, kind: str) -> tuple[Risk, ...]:
        out: list[Risk] = []
        if call.sentinel:
            out.append(sentinel_risk())
        if (call.priority or call.priority_unsplit) and "queue.PriorityQueue" in self.classes_of(
            call.receivers
        ):
            out.append(priority_risk(unsplit=call.priority_unsplit))
        if call.payload_class:
            kind_of = self.class_kinds.get(call.payload_class)
            out.append(object_risk(call.payload_class, kind_of, self.config))
        if kind == "queue_put" and any(
            call.enclosing in self.drain_functions.get(a, ())
            for r in call.receivers
            for a in self.atoms(r)
        ):
            out.append(requeue_risk())
        if call.startup or _reload_name(call.enclosing):
            out.append(startup_risk())
        return tuple(out)

    def _classify(self, call: CallFact) -> tuple[str | None, str | None, str | None, str | None]:
        queues: Mapping[str, str] = self.config.queues
        none = (None, None, None, None)
        if call.method in ("put", "put_nowait"):
            for r in call.receivers:
                if r in queues and not call.awaited:
                    return "queue_put", r, queues[r], None
            queue = self.queue_of(call.receivers, call.awaited)
            if queue is not None:
                return "queue_put", queue, queues.get(queue), None
            # else: maybe a manager's own `put` method (below)
        if call.background:
            fn = call.function
            return "background_task", fn, self.config.functions.get(fn) if fn else None, None
        if call.callees:
            for fn in call.callees:
                if fn in self.wrappers:
                    return "manager_enqueue", fn, queues.get(fn), f"wrapper {fn}"
            return none
        if call.method == "add_task":
            for r in call.receivers:
                if r in queues:
                    return "manager_add_task", r, queues[r], None
            for r in sorted(call.receivers):
                owner = r.rpartition(".")[0]
                module_level = not r.startswith("@") and owner not in self.class_methods
                if module_level and self.classes_of([r]) & self.manager_classes:
                    return "manager_add_task", r, None, None
        if call.enclosing in self.consumers or call.startup:
            return none
        classes = self.classes_of(call.receivers)
        for cls in sorted(classes):
            if (cls, call.method) in self.enqueue_methods:
                method = f"{cls}.{call.method}"
                return "manager_enqueue", method, queues.get(method), f"method {method}"
        return none

    def spawn_site(self, path: str, spawn: SpawnFact) -> Site | None:
        """A fire-and-forget start is a site when it runs finite work (a function without a
        forever loop: starting a consumer or a watcher is the app's own machinery)."""
        targets = [t for t in spawn.targets if not t.startswith("builtins.")]
        loopers = self.forever | {fn for f in self._facts for _, fn in f.drain_loops}
        if not targets or any(t in loopers for t in targets):
            return None
        if spawn.enclosing in self.consumers:
            return None
        function = targets[0]
        mapped = self.config.functions.get(function)
        risks = list(spawn.risks)
        if spawn.captures:
            risks.append(closure_risk(spawn.captures))
        risks.extend(self._host_bound(function))
        mismatch = self._kwargs_risk(mapped, spawn.shape)
        if mismatch is not None:
            risks.append(mismatch)
        return Site(
            path,
            spawn.line,
            spawn.col,
            spawn.kind,
            function,
            mapped,
            tuple(risks),
            function=function,
            captures=spawn.captures,
        )

    def spawn_candidate(self, path: str, spawn: SpawnFact) -> Candidate | None:
        """A start of a function that is a parameter of the function around it (a generic
        ``fire_and_forget(coro_fn, *args)``): what runs is its callers' choice."""
        if not spawn.parameter or spawn.enclosing in self.consumers:
            return None
        receiver, _, method = spawn.call_text.rpartition(".")
        advice = parameter_advice(spawn.parameter, spawn.enclosing.rpartition(".")[2])
        return Candidate(
            path,
            spawn.line,
            spawn.col,
            method or spawn.kind,
            " ".join(receiver.split()),
            f"runs whatever its callers pass in {spawn.parameter}; their calls decide ({advice})",
        )

    def _kwargs_risk(self, task: str | None, shape: ArgShape | None) -> Risk | None:
        """The call's arguments against the mapped task's signature, when the task is in
        the tree: a keyword it does not take, too many or too few positional arguments."""
        if task is None or shape is None or task not in self.signatures:
            return None
        positional, required, kwonly, varargs, varkw = self.signatures[task]
        given, keywords, star = shape
        if star:
            return None
        params = list(positional)
        if params and params[0] in ("self", "cls"):
            params = params[1:]  # a bound Celery task (bind=True)
            required -= 1
        unknown = [k for k in keywords if k not in params and k not in kwonly]
        if unknown and not varkw:
            return kwargs_risk(
                f"{task} takes no argument {unknown[0]!r}: the call does not "
                "match the task's signature; rename it or change the task"
            )
        if given > len(params) and not varargs:
            return kwargs_risk(
                f"{task} takes {len(params)} positional argument(s), the call "
                f"passes {given}: match the task's signature"
            )
        covered = given + sum(1 for k in keywords if k in params[given:required])
        if covered < required:
            return kwargs_risk(
                f"{task} needs {required} argument(s), the call passes "
                f"{covered}: match the task's signature"
            )
        return None

    def _host_bound(self, function: str) -> list[Risk]:
        return [host_risk(why) for why in self.host_reasons.get(function, ())]

    def candidate(self, path: str, call: CallFact) -> Candidate | None:
        """A put/add_task-like call scan could not decide, with the reason."""
        if call.startup or call.sentinel or call.callees or call.awaited:
            return None
        text = call.receiver_text
        if not _DOTTED.fullmatch(text):
            return None  # f().put(), x[0].put(): the pre-filter's rule, never a site
        if call.method in ("put", "put_nowait"):
            atoms = (
                set().union(*(self.atoms(r) for r in call.receivers)) if call.receivers else set()
            )
            classes = {a[len(TYPE) :] for a in atoms if a.startswith(TYPE)}
            if atoms & self.pools:
                return None
            if QUEUE_CLASSES & classes:
                return Candidate(
                    path,
                    call.line,
                    call.col,
                    call.method,
                    text,
                    "a queue.Queue no consumer was found for (none drains it within three "
                    "calls of a thread or task target)",
                )
            if classes or not _queue_word(text):
                return None
            return Candidate(
                path,
                call.line,
                call.col,
                call.method,
                text,
                f"the receiver {text!r} could not be resolved (a parameter without a type, "
                "a value from a call scan cannot follow)",
            )
        if call.method in CANDIDATE_METHODS and not call.background:
            if call.method == "add_task" and call.function and not call.receivers:
                pass
            classes = self.classes_of(call.receivers)
            if classes:
                return None
            return Candidate(
                path,
                call.line,
                call.col,
                call.method,
                text,
                f"{call.method}() on {text!r}, whose type scan could not resolve",
            )
        return None


_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


_ALL_QUEUES = QUEUE_CLASSES | ASYNC_QUEUE_CLASSES


def _queue_word(text: str) -> bool:
    last = text.rpartition(".")[2].lower().lstrip("_")
    return "queue" in last or last in ("q", "jobs", "tasks") or last.endswith("_q")


def _reload_name(function: str) -> bool:
    name = function.rpartition(".")[2].lower()
    return any(w in name for w in ("reload", "restore", "resume", "recover", "load_pending"))


def _display_name(atom: str, receiver: str) -> str:
    return atom if not atom.startswith("@") else receiver


def _reachable(start: set[str], callees: Mapping[str, set[str]], hops: int) -> set[str]:
    seen = set(start)
    frontier = set(start)
    for _ in range(hops):
        frontier = {c for f in frontier for c in callees.get(f, ())} - seen
        seen |= frontier
    return seen


def _family(uses: list[StateUse]) -> set[str]:
    return {u.function for u in uses}


def owner_module(name: str, modules: Mapping[str, object]) -> str | None:
    """The longest proper prefix of ``name`` that is a module of the tree."""
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def modules_needed(
    facts: Iterable[FileFacts], config: MigrateConfig, methods: Collection[str] = ()
) -> set[str]:
    """Names whose modules' facts decide a receiver seen in ``facts`` (its definition, its
    class, the function returning it), and the functions run by threads and tasks up to
    three calls deep (their drain loops say which queues have a consumer). ``methods``: the
    tree's enqueue methods known so far (``get_manager().submit(...)`` needs the factory's
    module once ``submit`` is known to enqueue)."""
    facts = list(facts)
    wanted: set[str] = set()
    receivers: set[str] = set()
    handlers: set[str] = set()
    callees: dict[str, set[str]] = {}
    targets: set[str] = set()
    for f in facts:
        for call in f.calls:
            if call.method in ENQUEUE or call.method in CANDIDATE_METHODS or call.method in methods:
                receivers.update(r for r in call.receivers if r not in config.queues)
        for h in f.handlers:
            receivers.update(r for r in h.receivers if r not in config.queues)
            if h.function and "<locals>" not in h.function:
                handlers.add(h.function)  # its module says what state it touches
        for spawn in f.spawns:
            wanted.update(t for t in spawn.targets if "<locals>" not in t)
        for fn, called in f.callees:
            callees.setdefault(fn, set()).update(called)
        targets |= f.thread_targets
    wanted |= handlers
    for f in facts:  # the mapped tasks' modules: their signatures
        for call in f.calls:
            wanted.update(config.queues[r] for r in call.receivers if r in config.queues)
            if call.function and call.function in config.functions:
                wanted.add(config.functions[call.function])
        for spawn in f.spawns:
            wanted.update(config.functions[t] for t in spawn.targets if t in config.functions)
    for f in facts:  # the modules of what handlers write say whether it is mutable
        wanted.update(u.variable for u in f.state_uses if u.function in handlers)
    wanted |= {_symbol_target(r) for r in receivers}
    factories = {r[len(RET) :] for r in receivers if r.startswith(RET)}
    for f in facts:
        for obj, values in f.instances:
            if obj in receivers:
                wanted.update(_symbol_target(v) for v in values)
                factories.update(v[len(RET) :] for v in values if v.startswith(RET))
    for f in facts:  # what the factories and providers seen return (one level per round)
        for fn, names in f.returns:
            if fn in factories:
                wanted.update(_symbol_target(n) for n in names)
    # The functions threads and tasks run: their modules say what they drain. Deeper calls
    # (up to three) are followed among the modules loaded anyway: a consumer lives where its
    # queue is defined or used, and loading every callee's module costs most of a large tree.
    wanted |= targets
    return {w for w in wanted if w and not w.startswith("@")}


ENQUEUE = frozenset({"put", "put_nowait", "add_task"})


def _symbol_target(name: str) -> str:
    for prefix in (RET, TYPE):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def words_needed(linker: Linker, facts: Iterable[FileFacts]) -> set[tuple[bytes, bytes]]:
    """``(call, anchor)`` patterns a file must both match to hold a call scan can only judge
    now that it knows the tree's enqueue methods (``.submit_job(`` in a file that names the
    manager's class, its module, a factory returning it or ``state``), wrappers
    (``send_event(``) and ``app.state`` attributes (``state.task_manager``)."""
    out: set[tuple[bytes, bytes]] = set()
    public = [(c, m) for c, m in linker.enqueue_methods if m not in ENQUEUE and m[:1] != "_"]
    factories: dict[str, set[str]] = {}  # class -> functions returning an instance of it
    if public:  # private methods are called in their own module
        for fn in linker.returns:
            last = fn.rpartition(".")[2]
            if last.startswith("__"):
                continue
            for atom in linker.atoms(RET + fn):
                if atom.startswith(TYPE):
                    factories.setdefault(atom[len(TYPE) :], set()).add(last)
    for cls, method in public:
        anchors = {cls.rpartition(".")[2], *factories.get(cls, ())}
        alternatives = b"|".join(re.escape(a.encode()) for a in sorted(anchors) if a)
        spelled = rb"\." + method.encode() + rb"\s*\("
        out.add((spelled, rb"\b(?:" + alternatives + rb")\b"))
        # request.app.state.manager.method(...): named by neither
        out.add((rb"state\s*\.\s*\w+\s*" + spelled, b""))
    for fn in linker.wrappers:
        out.add((rb"\b" + fn.rpartition(".")[2].encode() + rb"\s*\(", b""))
    for f in facts:
        for call in f.calls:
            for r in call.receivers:
                if r.startswith(STATE):
                    attr = r[len(STATE) :].split(".")[0].encode()
                    out.add((rb"state\s*\.\s*" + attr + rb"\b", b""))
    return out
