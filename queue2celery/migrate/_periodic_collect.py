"""One module's periodic facts, read with ``ast`` in one walk (see :mod:`._periodic_facts`)."""

from __future__ import annotations

import ast

from . import _periodic_loops as loops
from ._periodic_facts import (
    CallRef,
    FuncFact,
    JobFact,
    LoopFact,
    MethodFact,
    ModuleFacts,
    ObjFact,
    StartFact,
    Stmt,
)
from ._periodic_names import ModuleNames, Sym, dotted, symbolize, text

__all__ = ["collect"]

ROUTE_METHODS = frozenset(
    {
        "get",
        "post",
        "put",
        "delete",
        "patch",
        "websocket",
        "api_route",
        "route",
        "websocket_route",
        "head",
        "options",
    }
)
# Calls that start a coroutine (its call is the first argument) or a callable (first
# argument, then its arguments; run_in_executor takes the executor first).
CORO_STARTS = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe", "gather"})
CALLABLE_STARTS = {
    "start_soon": 0,
    "submit": 0,
    "run_in_executor": 1,
    "to_thread": 0,
    "add_task": 0,
    "spawn": 0,
    "start_new_thread": 0,
}
CONTROL = frozenset(
    {
        "start",
        "start_in_background",
        "shutdown",
        "pause",
        "resume",
        "pause_job",
        "resume_job",
        "remove_job",
        "reschedule_job",
        "modify_job",
        "remove_all_jobs",
        "cancel_job",
        "clear",
        "stop",
        "cancel",
        "set",
        "add_job",
        "add_schedule",
        "remove_schedule",
    }
)
IO_PREFIXES = (
    "requests.",
    "httpx.",
    "aiohttp.",
    "urllib.",
    "smtplib.",
    "subprocess.",
    "boto3.",
    "socket.",
    "shutil.",
    "sqlite3.",
    "psycopg",
    "pymysql",
    "redis.",
    "builtins.open",
    "os.remove",
    "os.unlink",
    "os.scandir",
    "os.listdir",
    "glob.",
)
IO_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "commit",
        "query",
        "fetch",
        "fetchall",
        "fetchone",
        "request",
        "sendmail",
        "send_message",
        "urlopen",
        "scalars",
        "upload_file",
        "download_file",
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "unlink",
        "rmtree",
        "iterdir",
        "delete_many",
        "update_many",
        "insert_one",
        "insert_many",
        "find",
        "bulk_write",
        "scan_iter",
        "post",
        "head",
        "flush",
        "refresh",
        "merge",
        "delete",
    }
)
SCHEDULERS = ("apscheduler.",)


class _Func:
    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef, fqn: str, cls: str | None):
        self.node = node
        self.fqn = fqn
        self.cls = cls
        self.calls: list[CallRef] = []
        self.writes: set[str] = set()
        self.reads: set[str] = set()
        self.io = False
        self.globals: set[str] = set()
        self.route = any(_is_route(d) for d in node.decorator_list)


def _is_route(decorator: ast.expr) -> bool:
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in ROUTE_METHODS
    )


class Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, rel: str, source: str) -> None:
        self.n = ModuleNames(module, is_package)
        self.rel = rel
        self.lines = source.splitlines()
        self.funcs: list[_Func] = []
        self.done: list[FuncFact] = []
        self.stmts: list[ast.stmt] = []
        self.starts: list[StartFact] = []
        self.objects: list[ObjFact] = []
        self.methods: list[MethodFact] = []
        self.jobs: list[JobFact] = []
        self.constants: dict[str, Sym] = {}
        self.classes: dict[str, tuple[str, ...]] = {}
        self.awaited: set[int] = set()
        self.chained_start: set[int] = set()
        self.threads: list[tuple[StartFact, str | None]] = []
        self.imports_schedule = False
        self.imports_aps = False

    # -- helpers ------------------------------------------------------------------------
    def _fqn(self, local: str) -> str:
        return f"{self.n.module}.{local}" if self.n.module else local

    def _where(self) -> str:
        return self.funcs[-1].fqn if self.funcs else self._fqn("<module>")

    def _stmt(self) -> Stmt:
        stmt = self.stmts[-1]
        line = self.lines[stmt.lineno - 1] if stmt.lineno - 1 < len(self.lines) else ""
        col = len(line.encode("utf-8")[: stmt.col_offset].decode("utf-8", "replace")) + 1
        end = getattr(stmt, "end_lineno", None) or stmt.lineno
        return Stmt(stmt.lineno, col, end, line.strip(), isinstance(stmt, ast.Expr))

    def _pos(self, node: ast.expr | ast.stmt) -> tuple[int, int]:
        line = self.lines[node.lineno - 1] if node.lineno - 1 < len(self.lines) else ""
        return node.lineno, len(
            line.encode("utf-8")[: node.col_offset].decode("utf-8", "replace")
        ) + 1

    def _sym(self, expr: ast.expr | None) -> Sym:
        return symbolize(expr, self.n)

    def _callref(self, call: ast.Call) -> CallRef:
        line, col = self._pos(call)
        return CallRef(
            callee=self.n.fqn(call.func),
            text=text(call.func),
            args=tuple(self._sym(a) for a in call.args if not isinstance(a, ast.Starred)),
            kwargs=tuple((k.arg, self._sym(k.value)) for k in call.keywords if k.arg),
            awaited=id(call) in self.awaited,
            line=line,
            col=col,
            method=call.func.attr if isinstance(call.func, ast.Attribute) else None,
            arg_texts=tuple(text(a) for a in call.args),
            kwarg_texts=tuple((k.arg, text(k.value)) for k in call.keywords if k.arg),
        )

    def _bound_name(self) -> str | None:
        """What the current assignment binds: a module name, ``Class.attr``, or a local."""
        stmt = self.stmts[-1] if self.stmts else None
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return None
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
        name = dotted(target)
        if name is None:
            return None
        if "." not in name and self.funcs:
            local = f"{self.funcs[-1].fqn}.<locals>.{name}"
            self.n.locals[name] = local
            return local
        return self.n.qualify(name) or (self._fqn(name) if not self.funcs else None)

    # -- structure ----------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
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
        loop = self._loop(node)
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
        if self.funcs and not _is_sleep_call(node.value, self.n):
            self.funcs[-1].io = True
        self.generic_visit(node)

    # -- calls --------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        method = func.attr if isinstance(func, ast.Attribute) else None
        callee = self.n.fqn(func)
        if self.funcs:
            current = self.funcs[-1]
            current.calls.append(self._callref(node))
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

    def _start(self, node: ast.Call, callee: str | None, method: str | None) -> None:
        in_route = bool(self.funcs and self.funcs[-1].route)
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
                tuple(text(a) for a in node.args),
                tuple((k.arg, text(k.value)) for k in node.keywords if k.arg),
            )
        )

    def _job(self, node: ast.Call, method: str) -> None:
        steps: list[tuple[str, tuple[Sym, ...], tuple[tuple[str, Sym], ...]]] = []
        expr: ast.expr = node
        while True:
            if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
                steps.append((expr.func.attr, *self._arguments(expr)))
                expr = expr.func.value
            elif isinstance(expr, ast.Attribute):
                steps.append((expr.attr, (), ()))
                expr = expr.value
            elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
                steps.append((expr.func.id, *self._arguments(expr)))  # every(10) imported
                expr = expr.func
                break
            else:
                break
        steps.reverse()
        if method == "do":
            if not any(s[0] == "every" for s in steps):
                return
            kind, receiver = "schedule", expr
            library = self.imports_schedule
        else:
            kind, receiver = "add_job", node.func.value  # type: ignore[attr-defined]
            library = self.imports_aps
        first = (
            node.args[0]
            if node.args
            else next((k.value for k in node.keywords if k.arg == "func"), None)
        )
        job_args = node.args[1:] if method == "do" else []
        line, col = self._pos(node)
        self.jobs.append(
            JobFact(
                kind=kind,
                receiver=self.n.fqn(receiver),
                receiver_text=text(receiver),
                steps=tuple(steps),
                job=self._job_ref(first),
                job_text=text(first) if first is not None else "",
                stmt=self._stmt(),
                function=self._where(),
                line=line,
                col=col,
                job_args=tuple(text(a) for a in job_args),
                job_kwargs=tuple((k.arg, text(k.value)) for k in node.keywords if k.arg)
                if method == "do"
                else (),
                imports_library=library,
                expression=text(node) if method != "do" or node.args else "",
            )
        )

    def _job_ref(self, expr: ast.expr | None) -> str | None:
        if expr is None:
            return None
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str) and ":" in expr.value:
            return expr.value.replace(":", ".")  # APScheduler's "module:function" reference
        return self.n.fqn(expr)

    def _arguments(self, call: ast.Call) -> tuple[tuple[Sym, ...], tuple[tuple[str, Sym], ...]]:
        return (
            tuple(self._sym(a) for a in call.args),
            tuple((k.arg, self._sym(k.value)) for k in call.keywords if k.arg),
        )

    def _decorators(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self.funcs[-1].fqn if self.funcs else None
        cls = self.n.cls
        fqn = (
            f"{outer}.<locals>.{node.name}"
            if outer
            else f"{cls}.{node.name}"
            if cls
            else self._fqn(node.name)
        )
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            func = decorator.func
            callee = self.n.fqn(func) or ""
            method = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            kind = None
            if method == "scheduled_job":
                kind = "scheduled_job"
            elif callee.endswith("repeat_every"):
                kind = "repeat_every"
            elif callee == "schedule.repeat" and decorator.args:
                kind = "schedule"
            if kind is None:
                continue
            line, col = self._pos(decorator)
            self.stmts.append(node)
            stmt = self._stmt()
            self.stmts.pop()
            steps: tuple[tuple[str, tuple[Sym, ...], tuple[tuple[str, Sym], ...]], ...]
            if kind == "schedule":
                inner = decorator.args[0]
                self.stmts.append(node)
                saved = len(self.jobs)
                fake = ast.Call(func=ast.Attribute(value=inner, attr="do"), args=[], keywords=[])
                ast.copy_location(fake, decorator)
                self._job(fake, "do")
                self.stmts.pop()
                if len(self.jobs) > saved:
                    job = self.jobs.pop()
                    steps = job.steps[:-1]
                else:
                    continue
            else:
                steps = ((method, *self._arguments(decorator)),)
            receiver = func.value if isinstance(func, ast.Attribute) else func
            self.jobs.append(
                JobFact(
                    kind,
                    self.n.fqn(receiver),
                    text(receiver),
                    steps,
                    fqn,
                    node.name,
                    Stmt(line, col, line, f"@{text(decorator)}"),
                    outer or self._where(),
                    line,
                    col,
                    imports_library=self.imports_aps
                    or self.imports_schedule
                    or kind == "repeat_every",
                )
            )
            del stmt

    # -- loops ---------------------------------------------------------------------------
    def _loop(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> LoopFact | None:
        if loops.is_generator(node):
            return None  # an SSE stream or any generator: it yields, it does not run jobs
        for child in loops.own_nodes(node):
            if isinstance(child, ast.While):
                fact = self._loop_fact(child)
                if fact is not None:
                    return fact
        return None

    def _loop_fact(self, loop: ast.While) -> LoopFact | None:
        if not loops.unbounded(loop.test):
            return None
        everything = list(loops.own_nodes(loop))
        calls = [n for n in everything if isinstance(n, ast.Call)]
        for call in calls:
            if isinstance(call.func, ast.Attribute):
                attr = call.func.attr
                if attr in loops.QUEUE_READS or attr in loops.KEEPALIVE:
                    return None
                if attr == "get" and (
                    not call.args or any(k.arg in ("timeout", "block") for k in call.keywords)
                ):
                    return None  # q.get(), q.get(timeout=1): a consumer
        sleep: ast.expr | None | bool = False
        sleep_index = -1
        work: list[ast.stmt] = []
        if isinstance(loop.test, ast.UnaryOp) and isinstance(loop.test.operand, ast.Call):
            sleep = loops.sleep_arg(loop.test.operand, self.n.fqn)
        for stmt in loops.normal_path(loop.body):
            each = loops.called(stmt)
            if isinstance(stmt, (ast.Break, ast.Return)):
                return None  # leaves after one pass: a retry or a polling wait
            if each is not None:
                found = loops.sleep_arg(each, self.n.fqn)
                if found is not False:
                    sleep, sleep_index = found, len(work)
                    continue
                if loops.is_logging(each):
                    continue
            if isinstance(stmt, (ast.Pass, ast.Continue)) or loops.is_stop_check(stmt):
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            work.append(stmt)
        if sleep is False or sleep is True or not work:
            return None
        run_pending = any(
            isinstance(c.func, ast.Attribute) and c.func.attr == "run_pending" for c in calls
        )
        tick = None
        only = loops.called(work[0]) if len(work) == 1 else None
        if only is not None:
            tick = self._callref(only)
        names = [
            self.n.fqn(c.func) or (f".{c.func.attr}" if isinstance(c.func, ast.Attribute) else "?")
            for c in calls
        ]
        io = any(
            isinstance(n, ast.Await) and not _is_sleep_call(n.value, self.n) for n in everything
        ) or any(n.startswith(IO_PREFIXES) or n.lstrip(".") in IO_METHODS for n in names)
        line, col = self._pos(loop)
        return LoopFact(
            line,
            col,
            self._sym(sleep) if sleep is not None else ("src", "?"),
            text(sleep) if sleep is not None else "?",
            sleep_index >= len(work),
            tick,
            tuple(sorted(set(names))),
            io,
            run_pending,
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


def _is_sleep_call(expr: ast.expr, names: ModuleNames) -> bool:
    return isinstance(expr, ast.Call) and loops.sleep_arg(expr, names.fqn) is not False


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
