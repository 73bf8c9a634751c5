"""Guard the legacy start of periodic work that now runs on Celery Beat.

``threading.Thread(target=cleanup_loop, daemon=True).start()`` becomes::

    # queue2celery: on Celery Beat now: cleanup (myapp.periodic_tasks).
    # Q2C_LEGACY_PERIODIC=1 starts the legacy one again.
    if os.environ.get("Q2C_LEGACY_PERIODIC") == "1":
        threading.Thread(target=cleanup_loop, daemon=True).start()

so that the job no longer runs in every API process, and the way back is one variable. An
assignment (``self.task = asyncio.create_task(loop())``) gets ``else: self.task = None`` so
the name still exists. Everything else in the file is kept byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import PositionProvider

__all__ = ["ENV_FLAG", "GuardPeriodicStartCommand"]

ENV_FLAG = "Q2C_LEGACY_PERIODIC"


class GuardPeriodicStartCommand(VisitorBasedCodemodCommand):
    """Wrap the statements at ``starts`` (1-based line -> the Beat entries replacing what
    they start) in ``if os.environ.get("Q2C_LEGACY_PERIODIC") == "1":``."""

    DESCRIPTION = "Guard the legacy start of periodic jobs that run on Celery Beat now."
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext, starts: Mapping[int, str]) -> None:
        super().__init__(context)
        self.starts = dict(starts)
        self.guarded: set[int] = set()
        self._inside_guard = 0

    def visit_If(self, node: cst.If) -> None:
        if _is_guard(node):
            self._inside_guard += 1

    def leave_If(self, original_node: cst.If, updated_node: cst.If) -> cst.If:
        if _is_guard(original_node):
            self._inside_guard -= 1
        return updated_node

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        # ``@scheduler.scheduled_job(...)`` / ``@repeat(every(...))`` register the function
        # and return it unchanged: removing the decorator stops the legacy job, nothing else.
        keep: list[cst.Decorator] = []
        removed: list[cst.EmptyLine] = []
        for original, decorator in zip(
            original_node.decorators, updated_node.decorators, strict=False
        ):
            line = self.get_metadata(PositionProvider, original).start.line
            if line not in self.starts:
                keep.append(decorator)
                continue
            self.guarded.add(line)
            code = cst.Module([]).code_for_node(decorator.decorator)
            removed += [
                cst.EmptyLine(
                    comment=cst.Comment(f"# queue2celery: on Celery Beat now: {self.starts[line]}.")
                ),
                cst.EmptyLine(comment=cst.Comment(f"# It was: @{_one_line(code)}")),
            ]
            removed += list(decorator.leading_lines)
        if not removed:
            return updated_node
        if keep:
            keep[0] = keep[0].with_changes(leading_lines=[*removed, *keep[0].leading_lines])
            return updated_node.with_changes(decorators=keep)
        return updated_node.with_changes(
            decorators=[], leading_lines=[*updated_node.leading_lines, *removed]
        )

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement:
        line = self.get_metadata(PositionProvider, original_node.body[0]).start.line
        if line not in self.starts:
            return updated_node
        if self._inside_guard:
            self.guarded.add(line)  # guarded by an earlier run
            return updated_node
        self.guarded.add(line)
        AddImportsVisitor.add_needed_import(self.context, "os")
        entries = self.starts[line]
        comments = [
            cst.EmptyLine(comment=cst.Comment(f"# queue2celery: on Celery Beat now: {entries}.")),
            cst.EmptyLine(comment=cst.Comment(f"# {ENV_FLAG}=1 starts the legacy one again.")),
        ]
        test = cst.parse_expression(f'os.environ.get("{ENV_FLAG}") == "1"')
        inner = updated_node.with_changes(leading_lines=())
        orelse = None
        statement = updated_node.body[0]
        if isinstance(statement, (cst.Assign, cst.AnnAssign)) and len(updated_node.body) == 1:
            self.warn(
                f"line {line}: what it assigns is None while the legacy start is off; "
                "check the code that uses it (a .cancel() at shutdown)"
            )
            targets = (
                [t.target for t in statement.targets]
                if isinstance(statement, cst.Assign)
                else [statement.target]
            )
            orelse = cst.Else(
                body=cst.IndentedBlock(
                    body=[
                        cst.SimpleStatementLine(
                            body=[
                                cst.Assign(
                                    targets=[cst.AssignTarget(target=t) for t in targets],
                                    value=cst.Name("None"),
                                )
                            ]
                        )
                    ]
                )
            )
        return cst.If(
            test=test,
            body=cst.IndentedBlock(body=[inner]),
            orelse=orelse,
            leading_lines=[*updated_node.leading_lines, *comments],
        )


def _one_line(code: str) -> str:
    return " ".join(code.split())


def _is_guard(node: cst.If) -> bool:
    return ENV_FLAG in cst.Module([]).code_for_node(node.test)
