"""Registrations with scheduling libraries, read by the periodic collector: ``schedule``'s
``every(...)...do(job)`` chains and ``@repeat``, APScheduler's ``add_job`` and
``@scheduled_job``, fastapi-utils' ``@repeat_every``."""

from __future__ import annotations

import ast

from ._periodic_collect_base import CollectorBase
from ._periodic_facts import JobFact, Stmt
from ._periodic_names import Sym, text

__all__ = ["Registrations"]


class Registrations(CollectorBase):
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
