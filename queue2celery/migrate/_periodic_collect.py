"""One module's periodic facts, read with ``ast`` in one walk (see :mod:`._periodic_facts`)."""

from __future__ import annotations

import ast

from . import _periodic_loops as loops
from ._periodic_collect_base import _Func, is_sleep_call
from ._periodic_facts import (
    FuncFact,
    MethodFact,
    ModuleFacts,
    ObjFact,
    StartFact,
)
from ._periodic_loopfacts import LoopFacts
from ._periodic_names import text
from ._periodic_registrations import Registrations
from ._periodic_words import CALLABLE_STARTS, CONTROL, CORO_STARTS, IO_METHODS, IO_PREFIXES

__all__ = ["collect"]


_LEAVES = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.Constant)


class Collector(Registrations, LoopFacts):
    """Walks one module once and collects its :class:`ModuleFacts`."""

    # -- structure ----------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        if isinstance(node, _LEAVES):
            return  # a third of all nodes, and nothing to learn from them
        if isinstance(node, ast.stmt):
            self.stmts.append(node)
            super().visit(node)
            self.stmts.pop()
        else:
            super().visit(node)

    def visit_Module(self, node: ast.Module) -> None:
        for stmt in node.body:
            for name in _defined(stmt):
                self.n.top.add(name)
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self.n.note_import(stmt)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.n.note_import(node)
        self._library(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.n.note_import(node)
        self._library(node)

    def _library(self, node: ast.Import | ast.ImportFrom) -> None:
        names = [a.name for a in node.names]
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            root = name.split(".")[0]
            self.imports_schedule |= root == "schedule"
            self.imports_aps |= root == "apscheduler"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.funcs:
            return  # classes inside functions: not reachable by name
        outer = self.n.cls
        fqn = self._fqn(node.name) if outer is None else f"{outer}.{node.name}"
        bases = tuple(b for b in (self.n.fqn(b) for b in node.bases) if b)
        self.classes[fqn] = bases
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if stmt.value is not None:
                    self.constants[f"{fqn}.{stmt.target.id}"] = self._sym(stmt.value)
            elif isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                self.constants[f"{fqn}.{stmt.targets[0].id}"] = self._sym(stmt.value)
        self.n.cls = fqn
        for stmt in node.body:
            self.visit(stmt)
        self.n.cls = outer

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._decorators(node)
        if self.funcs:
            fqn = f"{self.funcs[-1].fqn}.<locals>.{node.name}"
            self.n.locals[node.name] = fqn
            cls = None
        else:
            cls = self.n.cls
            fqn = f"{cls}.{node.name}" if cls else self._fqn(node.name)
        saved = (self.n.params, self.n.locals, self.n.cls)
        args = node.args
        params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        self.n.params = set(params) | {a.arg for a in (args.vararg, args.kwarg) if a}
        self.n.locals = dict(self.n.locals) if self.funcs else {}
        if self.funcs:
            self.n.cls = None
        func = _Func(node, fqn, cls)
        self.funcs.append(func)
        for stmt in node.body:
            self.visit(stmt)
        self.funcs.pop()
        positional = [*args.posonlyargs, *args.args]
        defaults = list(
            zip(
                [a.arg for a in positional[len(positional) - len(args.defaults) :]],
                args.defaults,
                strict=False,
            )
        )
        defaults += [
            (a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=False) if d
        ]
        fact_defaults = tuple((name, self._sym(value)) for name, value in defaults)
        loop = self._loop(func.loops, func.generator)
        self.n.params, self.n.locals, self.n.cls = saved
        if cls is not None and params and params[0] in ("self", "cls"):
            params = params[1:]
        self.done.append(
            FuncFact(
                fqn=fqn,
                module=self.n.module,
                qualname=fqn[len(self.n.module) + 1 :] if self.n.module else fqn,
                is_async=isinstance(node, ast.AsyncFunctionDef),
                params=tuple(params),
                defaults=fact_defaults,
                route=func.route,
                cls=cls,
                calls=tuple(func.calls),
                loop=loop,
                io=func.io,
                writes=tuple(sorted(func.writes)),
                reads=tuple(sorted(func.reads)),
                init_attrs=_init_attrs(node) if node.name == "__init__" else (),
                line=node.lineno,
            )
        )

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_While(self, node: ast.While) -> None:
        if self.funcs:
            self.funcs[-1].loops.append(node)
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield) -> None:
        if self.funcs:
            self.funcs[-1].generator = True
        self.generic_visit(node)

    visit_YieldFrom = visit_Yield  # type: ignore[assignment]

    # -- module-level values -------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        self._assigned(node.targets, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assigned([node.target], node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._write(node.target)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        if self.funcs:
            self.funcs[-1].globals.update(node.names)

    def _assigned(self, targets: list[ast.expr], value: ast.expr) -> None:
        for target in targets:
            self._write(target)
            if not self.funcs and self.n.cls is None and isinstance(target, ast.Name):
                self.constants[self._fqn(target.id)] = self._sym(value)

    def _write(self, target: ast.expr, rebind: bool = True) -> None:
        if not self.funcs:
            return
        func = self.funcs[-1]
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._write(element, rebind)
            return
        base = target
        while isinstance(base, (ast.Subscript, ast.Attribute)):
            if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
                if base.value.id == "self" and func.cls:
                    func.writes.add(f"{func.cls}.{base.attr}")
                    return
            base = base.value
        if isinstance(base, ast.Name):
            if rebind and base is target and base.id not in func.globals:
                return  # a local
            if base.id in self.n.top or base.id in func.globals:
                func.writes.add(self._fqn(base.id))

    def visit_Name(self, node: ast.Name) -> None:
        if self.funcs and isinstance(node.ctx, ast.Load) and node.id in self.n.top:
            self.funcs[-1].reads.add(self._fqn(node.id))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            self.funcs
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and self.funcs[-1].cls
        ):
            self.funcs[-1].reads.add(f"{self.funcs[-1].cls}.{node.attr}")
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.awaited.add(id(node.value))
        if self.funcs and not is_sleep_call(node.value, self.n):
            self.funcs[-1].io = True
        self.generic_visit(node)

    # -- calls --------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        method = func.attr if isinstance(func, ast.Attribute) else None
        callee = self.n.fqn(func)
        if self.funcs:
            current = self.funcs[-1]
            current.calls.append(self._light_callref(node, callee, method))
            if method in loops.MUTATING and isinstance(func, ast.Attribute):
                self._write(func.value, rebind=False)
            if (callee and callee.startswith(IO_PREFIXES)) or method in IO_METHODS:
                current.io = True
        if (
            method == "start"
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
        ):
            self.chained_start.add(id(func.value))
        if self.stmts:
            self._start(node, callee, method)
            self._object(node, callee)
            if method in CONTROL and isinstance(func, ast.Attribute):
                self.methods.append(
                    MethodFact(
                        self.n.fqn(func.value),
                        text(func.value),
                        method,
                        self._stmt(),
                        self._where(),
                        bool(self.funcs and self.funcs[-1].route),
                    )
                )
            if method == "do" or method in ("add_job", "add_schedule"):
                self._job(node, method)
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        main = not self.funcs and _is_main_guard(node.test)
        self.main_guard += main
        self.generic_visit(node)
        self.main_guard -= main

    def _start(self, node: ast.Call, callee: str | None, method: str | None) -> None:
        in_route = bool(self.funcs and self.funcs[-1].route)
        if self.main_guard and not self.funcs and callee and isinstance(self.stmts[-1], ast.Expr):
            # `if __name__ == "__main__": main()`: a worker script, its own process
            ref = self._callref(node)
            self.starts.append(
                StartFact(
                    "script",
                    "__main__",
                    callee,
                    ref.args,
                    ref.kwargs,
                    self._stmt(),
                    self._where(),
                    False,
                )
            )
        if callee and (callee.endswith("Thread") or callee.endswith(".Process")):
            target = next((k.value for k in node.keywords if k.arg == "target"), None)
            if target is None and len(node.args) > 1:
                target = node.args[1]
            if target is None:
                return
            args = next((k.value for k in node.keywords if k.arg == "args"), None)
            elements = args.elts if isinstance(args, (ast.Tuple, ast.List)) else []
            fact = StartFact(
                "thread",
                "Thread",
                self.n.fqn(target),
                tuple(self._sym(e) for e in elements),
                (),
                self._stmt(),
                self._where(),
                in_route,
            )
            self.threads.append(
                (fact, None if id(node) in self.chained_start else self._bound_name())
            )
            return
        if method in CORO_STARTS or callee == "asyncio.run":
            for arg in node.args:
                if isinstance(arg, ast.Call):
                    ref = self._callref(arg)
                    self.starts.append(
                        StartFact(
                            "task",
                            method or "run",
                            ref.callee,
                            ref.args,
                            ref.kwargs,
                            self._stmt(),
                            self._where(),
                            in_route,
                        )
                    )
                if method != "gather":
                    break
        elif method in CALLABLE_STARTS:
            index = CALLABLE_STARTS[method]
            if len(node.args) > index:
                kind = "task" if method in ("start_soon", "add_task") else "thread"
                rest = tuple(self._sym(a) for a in node.args[index + 1 :])
                self.starts.append(
                    StartFact(
                        kind,
                        method,
                        self.n.fqn(node.args[index]),
                        rest,
                        (),
                        self._stmt(),
                        self._where(),
                        in_route,
                    )
                )

    def _object(self, node: ast.Call, callee: str | None) -> None:
        name = callee.rsplit(".", 1)[-1] if callee else ""
        if not name[:1].isupper() or name.isupper():
            return
        self.objects.append(
            ObjFact(
                callee,
                tuple(self._sym(a) for a in node.args),
                tuple((k.arg, self._sym(k.value)) for k in node.keywords if k.arg),
                None if id(node) in self.chained_start else self._bound_name(),
                self._stmt(),
                self._where(),
                id(node) in self.chained_start,
            )
        )

    def facts(self) -> ModuleFacts:
        starts = list(self.starts)
        bound = {b: f for f, b in self.threads if b}
        for fact, name in self.threads:
            if name is None:
                starts.append(fact)
        for method in self.methods:
            if method.method == "start" and method.receiver in bound:
                fact = bound.pop(method.receiver)
                starts.append(
                    StartFact(
                        fact.kind,
                        fact.via,
                        fact.target,
                        fact.args,
                        (),
                        method.stmt,
                        method.function,
                        method.in_route,
                        method.receiver,
                    )
                )
        starts.extend(bound.values())  # never seen started here: report the creation
        return ModuleFacts(
            module=self.n.module,
            rel=self.rel,
            imports=tuple(sorted(self.n.imports.items())),
            constants=tuple(sorted(self.constants.items())),
            functions=tuple(self.done),
            starts=tuple(starts),
            objects=tuple(self.objects),
            methods=tuple(self.methods),
            jobs=tuple(self.jobs),
            classes=tuple(sorted(self.classes.items())),
        )


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _defined(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    if isinstance(stmt, (ast.If, ast.Try)):
        return [n for s in (*stmt.body, *stmt.orelse) for n in _defined(s)]
    return []


def _init_attrs(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[tuple[str, str], ...]:
    params = {a.arg for a in (*node.args.args, *node.args.kwonlyargs)}
    out: list[tuple[str, str]] = []
    for child in loops.own_nodes(node):
        if isinstance(child, ast.Assign) and len(child.targets) == 1:
            target, value = child.targets[0], child.value
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and isinstance(value, ast.Name)
                and value.id in params
            ):
                out.append((target.attr, value.id))
    return tuple(out)


def collect(source: bytes, module: str, is_package: bool, rel: str) -> ModuleFacts:
    """Parse ``source`` with ``ast`` and collect its facts (raises SyntaxError)."""
    tree = ast.parse(source)
    text_source = source.decode("utf-8", "replace")
    collector = Collector(module, is_package, rel, text_source)
    collector.visit(tree)
    return collector.facts()
