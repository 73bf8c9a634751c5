"""Where a new ``from <task module> import <task>`` line goes: with the project's own
(first-party) imports, in sorted position, or as a group of its own after the imports, the
way isort and ruff lay them out. Everything else keeps its bytes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import libcst as cst

__all__ = ["ImportPlacer", "carry_lines"]

Names = Sequence[tuple[str, str]]  # (name, local name)


class ImportPlacer:
    """Places new ``from module import name`` lines among a module's top import block.

    ``first_party``: the project's top-level package names (``kb`` for ``kb.api.docs``)."""

    def __init__(self, first_party: Collection[str]) -> None:
        self.first_party = frozenset(first_party)

    def place(
        self, module: cst.Module, needed: Mapping[str, Names]
    ) -> tuple[cst.Module, dict[str, list[tuple[str, str]]]]:
        """``(module, left)``: ``left`` is what it could not place (a module that has no
        import at its top: the caller's fallback puts it after the docstring)."""
        body: list[cst.BaseStatement] = list(module.body)
        start = 1 if body and _is_docstring(body[0]) else 0
        end = start
        while end < len(body) and (_imports_only(body[end]) or _guarded_imports(body[end])):
            end += 1
        if end == start:
            return module, {m: list(n) for m, n in needed.items()}
        for name in sorted(needed, key=str.lower):
            self._insert(body, start, end, name, _from_import(name, needed[name]))
            end += 1
        return module.with_changes(body=body), {}

    def _insert(
        self,
        body: list[cst.BaseStatement],
        start: int,
        end: int,
        name: str,
        line: cst.SimpleStatementLine,
    ) -> None:
        block = [i for i in range(start, end) if _imports_only(body[i])]
        own = [i for i in block if self._is_first_party(body[i])]
        if own:
            later = [i for i in own if name.lower() < (_from_module(body[i]) or "").lower()]
            if later:
                at = later[0]
                keep, given = _split_blank(body[at])
                body[at] = keep
                body.insert(at, line.with_changes(leading_lines=given))
            else:
                body.insert(own[-1] + 1, line)
            return
        # A group of its own: before the relative (local folder) imports, else at the end.
        blank = [cst.EmptyLine()]
        relative = [i for i in block if _is_relative(body[i])]
        if relative:
            at = relative[0]
            keep, given = _split_blank(body[at])
            body[at] = keep.with_changes(leading_lines=[*blank, *keep.leading_lines])
            first = at == start  # its lines are the file's or the docstring's separation
            body.insert(at, line.with_changes(leading_lines=given or ([] if first else blank)))
            return
        body.insert(end, line.with_changes(leading_lines=blank))

    def _is_first_party(self, statement: cst.BaseStatement) -> bool:
        assert isinstance(statement, cst.SimpleStatementLine)
        for small in statement.body:
            if isinstance(small, cst.Import):
                if any(_top(_dotted_name(a.name)) in self.first_party for a in small.names):
                    return True
            elif isinstance(small, cst.ImportFrom) and not small.relative and small.module:
                if _top(_dotted_name(small.module)) in self.first_party:
                    return True
        return False


def carry_lines(
    gone: Sequence[cst.EmptyLine], following: Sequence[cst.EmptyLine]
) -> list[cst.EmptyLine]:
    """The leading lines of the statement after a removed one: the removed line's comments
    are kept, and its blank line too when the next one had none (a group's separation)."""
    if any(line.comment for line in gone):
        return [*gone, *following]
    if following and following[0].comment is None:
        return list(following)
    return [*gone, *following]


def _split_blank(
    statement: cst.BaseStatement,
) -> tuple[cst.SimpleStatementLine, list[cst.EmptyLine]]:
    """``statement`` without its blank lines before the first comment, and those lines."""
    assert isinstance(statement, cst.SimpleStatementLine)
    lines = list(statement.leading_lines)
    n = 0
    while n < len(lines) and lines[n].comment is None:
        n += 1
    return statement.with_changes(leading_lines=lines[n:]), lines[:n]


def _from_import(module: str, names: Names) -> cst.SimpleStatementLine:
    aliases = [
        cst.ImportAlias(
            cst.Name(name),
            asname=None if local == name else cst.AsName(cst.Name(local)),
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
        )
        for name, local in sorted(names)
    ]
    aliases[-1] = aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    target = cst.parse_expression(module)
    assert isinstance(target, (cst.Attribute, cst.Name))
    return cst.SimpleStatementLine([cst.ImportFrom(module=target, names=aliases)])


def _imports_only(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _guarded_imports(statement: cst.BaseStatement) -> bool:
    """``try: import x`` / ``if TYPE_CHECKING: import x``: part of the import block."""
    if not isinstance(statement, (cst.Try, cst.If)):
        return False
    inner = statement.body
    return isinstance(inner, cst.IndentedBlock) and all(_imports_only(s) for s in inner.body)


def _from_module(statement: cst.BaseStatement) -> str | None:
    """The module of a ``from x import`` line (None for ``import x``)."""
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    if isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative:
        return _dotted_name(small.module)
    return None


def _is_relative(statement: cst.BaseStatement) -> bool:
    assert isinstance(statement, cst.SimpleStatementLine)
    return any(isinstance(s, cst.ImportFrom) and s.relative for s in statement.body)


def _dotted_name(node: cst.BaseExpression) -> str:
    return cst.Module([]).code_for_node(node)


def _top(name: str) -> str:
    return name.partition(".")[0]


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
