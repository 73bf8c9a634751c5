"""What the three codemods share: the mapping, planning every site before changing anything,
adding the target's import and removing the legacy import once nothing uses it."""

from __future__ import annotations

import argparse
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import ImportAssignment, ScopeProvider

from .._resolve import METADATA, Resolver
from .._rules import SiteRules, Spawn
from ..config import MigrateConfig, load_config
from ._imports import ImportPlacer, carry_lines
from ._signatures import TaskSignature

__all__ = ["LegacyCallCodemod", "Plan", "TreeFacts"]


@dataclass(frozen=True)
class TreeFacts:
    """What scan knows about the whole tree that one file's codemod cannot see."""

    # Mapped queues fed ``(priority, item)`` entries (PriorityQueues): such a put becomes
    # ``apply_async((item,), priority=...)`` instead of sending the tuple.
    priority_queues: frozenset[str] = frozenset()
    # Target task module -> the tree's modules it imports. When it imports the module being
    # rewritten, a top-level import of the task would be circular: it goes in the function.
    importers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Mapped task -> its signature, for the tasks the tree defines: a call that would not fit
    # it is left as it is (see :mod:`._signatures`).
    signatures: Mapping[str, TaskSignature] = field(default_factory=dict)
    # Function -> why it must run on this host (scan's ``host-bound`` risk): a start or
    # ``add_task`` of it is never sent to a worker, even when it is mapped.
    host_bound: Mapping[str, str] = field(default_factory=dict)

    def kept_local(self, function: str) -> str | None:
        """Why a start of ``function`` stays in this process, or None."""
        return self.host_bound.get(function)


@dataclass(frozen=True)
class Plan:
    """How one call is rewritten: ``target.<method>(*args)``; ``consumed`` names go away."""

    target: str
    args: tuple[cst.Arg, ...]
    consumed: tuple[cst.CSTNode, ...]
    # Replaces the space after ``(`` when the dropped first argument carried a comment.
    whitespace_before_args: cst.BaseParenthesizableWhitespace | None = None
    # ``delay``, or ``apply_async`` when an execution option (priority) must travel along.
    method: str = "delay"
    # A parameter (``background_tasks: BackgroundTasks``) the call was made on: removed
    # with its annotation's import when every use of it was rewritten.
    receiver: cst.Name | None = None


class LegacyCallCodemod(VisitorBasedCodemodCommand):
    """Base: subclasses say which calls they rewrite (:meth:`plan`), the base does the rest."""

    METADATA_DEPENDENCIES = METADATA

    def __init__(
        self,
        context: CodemodContext,
        config: MigrateConfig | None = None,
        config_file: str | None = None,
        facts: TreeFacts | None = None,
    ) -> None:
        super().__init__(context)
        self.facts = facts or TreeFacts()
        if config is None:
            # Run by `python -m libcst.tool codemod`: read the project's pyproject.toml.
            start = Path(context.filename) if context.filename else Path.cwd()
            config = load_config(start, Path(config_file) if config_file else None)
        self.config = config
        self._plans: dict[int, tuple[Plan, str]] = {}
        self._removable: list[ImportAssignment] = []
        # function node id -> imports placed inside it (the task module imports this one)
        self._local_imports: dict[int, list[tuple[str, str, str]]] = {}
        self._unused_params: dict[int, cst.Param] = {}

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument(
            "--config-file",
            dest="config_file",
            default=None,
            help="pyproject.toml holding [tool.queue2celery] (default: the nearest one)",
        )

    # -- what subclasses provide -----------------------------------------------------
    #: Text a file must contain for this codemod to have anything to do.
    CALL_TEXT: bytes = b""

    @classmethod
    def may_apply(cls, source: bytes, config: MigrateConfig) -> bool:
        """Cheap check before parsing: the mapping it needs is set, the call is spelled."""
        return bool(cls.mapping(config)) and cls.CALL_TEXT in source

    @staticmethod
    def mapping(config: MigrateConfig) -> Mapping[str, str]:
        return config.queues

    @abstractmethod
    def plan(self, node: cst.Call, resolver: Resolver) -> Plan | None:
        """The rewrite for ``node``, or None when it is not a mapped site of this codemod."""

    def plan_spawn(self, node: cst.Call, spawn: Spawn, resolver: Resolver) -> Plan | None:
        """The rewrite of a fire-and-forget start (:class:`._rules.Spawn`), if any."""
        return None

    @property
    def queues(self) -> Mapping[str, str]:
        return self.config.queues

    @property
    def functions(self) -> Mapping[str, str]:
        return self.config.functions

    # -- planning (on the original tree, with its metadata) --------------------------
    def visit_Module(self, node: cst.Module) -> None:
        module = self.context.full_module_name or ""
        filename = self.context.filename or ""
        resolver = Resolver(self.get_metadata, module, filename.endswith("__init__.py"))
        planner = _Planner(self, resolver)
        node.visit(planner)
        self._unused_params = self._unused_parameters(planner)
        extra = [
            n
            for param in self._unused_params.values()
            if param.annotation is not None
            for n in chain_nodes(param.annotation.annotation)
        ]
        consumed = {id(name) for plan, _ in planner.plans.values() for name in plan.consumed}
        consumed |= {id(n) for n in extra}
        removable: dict[int, ImportAssignment] = {}
        for name in (*extra, *(n for plan, _ in planner.plans.values() for n in plan.consumed)):
            for assignment in self._bindings(name):
                if all(id(a.node) in consumed for a in assignment.references):
                    removable[id(assignment)] = assignment
        self._removable = list(removable.values())
        for key, (plan, _) in list(planner.plans.items()):
            local = self._local_name(plan, planner.calls[key], removable)
            if local is None:
                self.warn(f"{plan.target!r} clashes with a name in scope; call left unchanged")
                del planner.plans[key]
                continue
            self._plans[key] = (plan, local)
            function = planner.functions.get(key)
            target_module, _, task_name = plan.target.rpartition(".")
            if function is not None and module in self.facts.importers.get(target_module, ()):
                entry = (target_module, task_name, local)
                imports = self._local_imports.setdefault(id(function), [])
                if entry not in imports and not self._imported_in(
                    function, planner.calls[key], local
                ):
                    imports.append(entry)

    def _unused_parameters(self, planner: _Planner) -> dict[int, cst.Param]:
        """Parameters whose every use is the receiver of a rewritten call."""
        receivers = {id(p.receiver) for p, _ in planner.plans.values() if p.receiver is not None}
        out: dict[int, cst.Param] = {}
        for plan, _ in planner.plans.values():
            if plan.receiver is None:
                continue
            scope = self.get_metadata(ScopeProvider, plan.receiver, None)
            if scope is None:
                continue
            for access in scope.accesses[plan.receiver]:
                for binding in access.referents:
                    node = getattr(binding, "node", None)
                    function = getattr(getattr(binding, "scope", None), "node", None)
                    if (
                        isinstance(node, cst.Param)
                        and _is_route(function)
                        and all(id(a.node) in receivers for a in binding.references)
                    ):
                        out[id(node)] = node
        return out

    def leave_Parameters(
        self, original_node: cst.Parameters, updated_node: cst.Parameters
    ) -> cst.Parameters:
        if not any(id(p) in self._unused_params for p in original_node.params):
            return updated_node
        kept = [
            new
            for old, new in zip(original_node.params, updated_node.params, strict=True)
            if id(old) not in self._unused_params
        ]
        tail = updated_node.star_arg, updated_node.kwonly_params, updated_node.star_kwarg
        if kept and not any(isinstance(t, cst.Param) for t in tail) and not tail[1]:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(params=kept)

    def _imported_in(self, function: cst.FunctionDef, call: cst.Call, local: str) -> bool:
        """``local`` is already imported inside ``function`` (a second run, or by hand)."""
        scope = self.get_metadata(ScopeProvider, call, None)
        if scope is None or local not in scope:
            return False
        return any(
            isinstance(b, ImportAssignment) and getattr(b.scope, "node", None) is function
            for b in scope[local]
        )

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        imports = self._local_imports.get(id(original_node))
        if not imports or not isinstance(updated_node.body, cst.IndentedBlock):
            return updated_node
        lines = [
            cst.SimpleStatementLine(
                [
                    cst.ImportFrom(
                        module=_dotted(module),
                        names=[
                            cst.ImportAlias(
                                cst.Name(name),
                                asname=None if local == name else cst.AsName(cst.Name(local)),
                            )
                        ],
                    )
                ]
            )
            for module, name, local in sorted(imports)
        ]
        body = list(updated_node.body.body)
        at = 1 if body and _is_docstring(body[0]) else 0
        return updated_node.with_changes(
            body=updated_node.body.with_changes(body=[*body[:at], *lines, *body[at:]])
        )

    def _bindings(self, node: cst.CSTNode) -> list[ImportAssignment]:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return []
        return [
            binding
            for access in scope.accesses[node]
            for binding in access.referents
            if isinstance(binding, ImportAssignment)
        ]

    def _local_name(
        self, plan: Plan, call: cst.Call, removable: Mapping[int, ImportAssignment]
    ) -> str | None:
        """The name the target is imported as: its own, or ``<name>_task`` on a clash."""
        module, _, name = plan.target.rpartition(".")
        scope = self.get_metadata(ScopeProvider, call, None)
        for local in (name, f"{name}_task"):
            if scope is None or local not in scope:
                return local
            ok = True
            for binding in scope[local]:
                if id(binding) in removable:
                    continue
                names = scope.get_qualified_names_for(local)
                if not (
                    isinstance(binding, ImportAssignment)
                    and {q.name for q in names} == {plan.target}
                ):
                    ok = False
            if ok:
                return local
        return None

    # -- rewriting ---------------------------------------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        planned = self._plans.get(id(original_node))
        if planned is None:
            return updated_node
        plan, local = planned
        func = cst.Attribute(value=cst.Name(local), attr=cst.Name(plan.method))
        changes: dict[str, object] = {"func": func, "args": list(plan.args)}
        if plan.whitespace_before_args is not None:
            changes["whitespace_before_args"] = plan.whitespace_before_args
        return updated_node.with_changes(**changes)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        needed: dict[str, list[tuple[str, str]]] = {}
        inside = {(m, n, loc) for imports in self._local_imports.values() for m, n, loc in imports}
        local_plans = {
            key
            for key, (plan, local) in self._plans.items()
            if (*plan.target.rpartition(".")[::2], local) in inside
        }
        for key, (plan, local) in sorted(self._plans.items(), key=lambda p: p[1][0].target):
            if key in local_plans:
                continue  # imported inside its function
            module, _, name = plan.target.rpartition(".")
            if (name, local) not in needed.setdefault(module, []):
                needed[module].append((name, local))
        if needed:
            merger = _ImportMerger(needed)
            updated_node = updated_node.visit(merger)
            needed = merger.needed  # what no existing `from module import` line took
        if self._removable:
            updated_node = updated_node.visit(_ImportRemover(self._removable))
        if needed:
            own = {self.context.full_module_name or "", *needed}
            placer = ImportPlacer({m.partition(".")[0] for m in own if m})
            updated_node, needed = placer.place(updated_node, needed)
        for module, names in needed.items():  # a module without imports: libcst places it
            for name, local in names:
                AddImportsVisitor.add_needed_import(
                    self.context, module, name, asname=None if local == name else local
                )
        return updated_node


class _Planner(SiteRules):
    """Walks the original tree with the same rules as scan's collector (:mod:`.._rules`)."""

    def __init__(self, codemod: LegacyCallCodemod, resolver: Resolver) -> None:
        super().__init__(resolver)
        self.codemod = codemod
        self.resolver = resolver
        self.plans: dict[int, tuple[Plan, str]] = {}
        self.calls: dict[int, cst.Call] = {}
        self.functions: dict[int, cst.FunctionDef] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        super().visit_Assign(node)
        self.resolver.note_assignment(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.resolver.note_assignment(node)

    def visit_Call(self, node: cst.Call) -> None:
        super().visit_Call(node)
        if not self.may_enqueue(node):
            return
        plan = self.codemod.plan(node, self.resolver)
        if plan is not None and isinstance(node.func, cst.Attribute):
            if node.func.attr.value in ("put", "put_nowait"):
                why = self.kept_put(node)
                if why is not None:
                    self.codemod.warn(f"{plan.target} put left unchanged: {why}")
                    return
        self._add(node, plan)

    def on_spawn(self, node: cst.Call, spawn: Spawn) -> None:
        self._add(node, self.codemod.plan_spawn(node, spawn, self.resolver))

    def _add(self, node: cst.Call, plan: Plan | None) -> None:
        if plan is not None:
            self.plans[id(node)] = (plan, "")
            self.calls[id(node)] = node
            function = self.enclosing_function()
            if function is not None:
                self.functions[id(node)] = function
                if function.asynchronous is not None:
                    # Said in the diff: the choice made for a call inside an event loop.
                    self.codemod.warn(
                        f"{plan.target}.{plan.method}() in async def {function.name.value}: "
                        f"rewritten as a plain .{plan.method}() call, which blocks the event "
                        "loop (up to the broker timeout while Redis is down); if that matters "
                        "here, make the route a def or wrap the call in run_in_threadpool"
                    )


class _ImportMerger(cst.CSTTransformer):
    """Adds a needed name to the module's existing ``from <module> import ...`` line, in
    sorted position, instead of a second line for the same module."""

    def __init__(self, needed: Mapping[str, list[tuple[str, str]]]) -> None:
        super().__init__()
        self.needed = {module: list(names) for module, names in needed.items()}

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        return False  # module level only

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom:
        if updated_node.relative or updated_node.module is None:
            return updated_node
        if isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        module = cst.Module([]).code_for_node(updated_node.module)
        wanted = self.needed.pop(module, None)
        if not wanted:
            return updated_node
        names = list(updated_node.names)
        present = {(a.evaluated_name, a.evaluated_alias or a.evaluated_name) for a in names}
        opening = updated_node.lpar.whitespace_after if updated_node.lpar else None
        for name, local in wanted:
            if (name, local) not in present:
                names = _insert_sorted(names, name, local, opening)
        return updated_node.with_changes(names=names)


def _insert_sorted(
    names: list[cst.ImportAlias],
    name: str,
    local: str,
    opening: cst.BaseParenthesizableWhitespace | None = None,
) -> list[cst.ImportAlias]:
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    sep = next((a.comma for a in names[:-1] if isinstance(a.comma, cst.Comma)), None)
    if sep is None:
        last_comma = names[-1].comma
        multiline = isinstance(last_comma, cst.Comma) and isinstance(
            last_comma.whitespace_after, cst.ParenthesizedWhitespace
        )
        sep = space
        if multiline and isinstance(opening, cst.ParenthesizedWhitespace):
            sep = cst.Comma(whitespace_after=opening)  # one name per line, as after `(`
    sep = _without_comment(sep)  # the neighbour's layout, not its comment
    alias = cst.ImportAlias(
        cst.Name(name), asname=None if local == name else cst.AsName(cst.Name(local))
    )
    at = next((i for i, a in enumerate(names) if a.evaluated_name > name), len(names))
    if at < len(names):
        return [*names[:at], alias.with_changes(comma=sep), *names[at:]]
    last = names[-1]
    if not isinstance(last.comma, cst.Comma):  # `a, b` -> `a, b, new`
        return [*names[:-1], last.with_changes(comma=sep), alias]
    # b keeps its comment and takes the separator's line layout; the new name closes the list
    between = last.comma.with_changes(
        whitespace_after=merge_whitespace(last.comma.whitespace_after, sep.whitespace_after)
    )
    closing = _without_comment(last.comma)
    return [*names[:-1], last.with_changes(comma=between), alias.with_changes(comma=closing)]


def _without_comment(comma: cst.Comma) -> cst.Comma:
    after = comma.whitespace_after
    if isinstance(after, cst.ParenthesizedWhitespace) and after.first_line.comment is not None:
        return comma.with_changes(
            whitespace_after=after.with_changes(first_line=cst.TrailingWhitespace())
        )
    return comma


class _ImportRemover(cst.CSTTransformer):
    """Drops the import aliases whose every use was rewritten, keeping the rest intact. A
    module-level import line left empty goes, and hands its comments and blank lines to
    the statement after it (so a group keeps its separation and a comment is kept)."""

    def __init__(self, assignments: Sequence[ImportAssignment]) -> None:
        super().__init__()
        self.keys = {(_import_key(a.node), a.name) for a in assignments}
        self.depth = 0
        self.functions = 0
        self.emptied: list[cst.SimpleStatementLine] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions += 1

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.functions -= 1
        return updated_node

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.depth += 1

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        self.depth -= 1
        if not updated_node.body and self.functions:
            # The block held only the import that went: it keeps a statement.
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated_node

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        if updated_node.body:
            return updated_node
        if self.depth and self.functions:
            # An import inside a function that became unused would shadow the task's import
            # in that scope, so it goes (a block left empty gets a pass).
            return cst.RemovalSentinel.REMOVE
        if self.depth:
            # An import inside a module-level try/if: kept, the block may rely on it.
            return original_node
        marked = updated_node.with_changes(body=[cst.Pass()])
        self.emptied.append(marked)
        return marked

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self.emptied:
            return updated_node
        gone = {id(n) for n in self.emptied}
        body: list[cst.BaseStatement] = []
        carried: list[cst.EmptyLine] = []
        for statement in updated_node.body:
            if id(statement) in gone:
                assert isinstance(statement, cst.SimpleStatementLine)
                carried = carry_lines(carried, list(statement.leading_lines))
                continue
            if carried:
                lines = carry_lines(carried, list(statement.leading_lines))
                statement = statement.with_changes(leading_lines=lines)
                carried = []
            body.append(statement)
        footer = [*(line for line in carried if line.comment), *updated_node.footer]
        return updated_node.with_changes(body=body, footer=footer)

    def _keep(self, statement: cst.Import | cst.ImportFrom, alias: cst.ImportAlias) -> bool:
        local = alias.evaluated_alias or alias.evaluated_name
        return (_import_key(statement), local) not in self.keys

    def leave_Import(
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import | cst.RemovalSentinel:
        keep = [a for a in updated_node.names if self._keep(original_node, a)]
        return _with_names(updated_node, keep, parenthesized=False)

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        if isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        keep = [a for a in updated_node.names if self._keep(original_node, a)]
        return _with_names(updated_node, keep, parenthesized=updated_node.lpar is not None)


_Statement = TypeVar("_Statement", cst.Import, cst.ImportFrom)


def _with_names(
    node: _Statement, keep: list[cst.ImportAlias], *, parenthesized: bool
) -> _Statement | cst.RemovalSentinel:
    names = node.names
    assert not isinstance(names, cst.ImportStar)  # star imports are left alone earlier
    if len(keep) == len(names):
        return node
    if not keep:
        return cst.RemoveFromParent()
    if keep[-1] is not names[-1] and not parenthesized:
        keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return node.with_changes(names=keep)


def _dotted(module: str) -> cst.Attribute | cst.Name:
    target = cst.parse_expression(module)
    assert isinstance(target, (cst.Attribute, cst.Name))
    return target


_ROUTE_DECORATORS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "api_route", "route", "websocket"}
)


def _is_route(function: object) -> bool:
    """A FastAPI/Starlette path operation: the framework injects its parameters, no caller
    passes them, so one no longer used can go (a plain helper's callers would break)."""
    if not isinstance(function, cst.FunctionDef):
        return False
    for decorator in function.decorators:
        expr = decorator.decorator
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            if expr.func.attr.value in _ROUTE_DECORATORS:
                return True
    return False


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _import_key(node: cst.CSTNode) -> str:
    if isinstance(node, cst.ImportFrom):
        module = cst.Module([]).code_for_node(node.module) if node.module else ""
        return f"from {'.' * len(node.relative)}{module}"
    return "import"


def chain_nodes(expr: cst.BaseExpression) -> tuple[cst.CSTNode, ...]:
    """``qmod.task_queue`` -> the nodes ``qmod.task_queue`` and ``qmod``: an import is used
    through one of them (``import a.b`` is referenced by the ``a.b`` attribute)."""
    nodes: list[cst.CSTNode] = []
    while isinstance(expr, cst.Attribute):
        nodes.append(expr)
        expr = expr.value
    if isinstance(expr, cst.Name):
        nodes.append(expr)
    return tuple(nodes)


def merge_whitespace(
    left: cst.BaseParenthesizableWhitespace, right: cst.BaseParenthesizableWhitespace
) -> cst.BaseParenthesizableWhitespace:
    """``left``'s comment (if any) with ``right``'s line end and indentation."""
    if not isinstance(left, cst.ParenthesizedWhitespace) or left.first_line.comment is None:
        return right
    if not isinstance(right, cst.ParenthesizedWhitespace):
        return left
    return left.with_changes(last_line=right.last_line, indent=right.indent)
