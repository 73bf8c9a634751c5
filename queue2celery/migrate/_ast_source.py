"""Positions and source text of ``ast`` nodes, as libcst gives them: 1-based lines, columns
in characters (``ast`` counts UTF-8 bytes: Chinese text before a call on its line would
shift it), and an expression's text with the parentheses around it."""

from __future__ import annotations

import ast
import codecs
import io
import re
import tokenize

__all__ = ["Source"]

# Tokens that never span lines; any other (a string, f-string parts) may hold line breaks.
_PLAIN_TOKENS = frozenset(
    {
        tokenize.NAME,
        tokenize.OP,
        tokenize.NUMBER,
        tokenize.NEWLINE,
        tokenize.NL,
        tokenize.COMMENT,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
        tokenize.ERRORTOKEN,
    }
)

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class Source:
    """The text of one module (no BOM), for positions and segments."""

    def __init__(self, data: bytes) -> None:
        self.ascii = data.isascii()
        self.data = data if self.ascii else _utf8(data)
        self._lines: list[bytes] | None = None
        self._offsets: list[int] | None = None

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = self.data.splitlines(keepends=True)
        return self._lines

    def _line(self, lineno: int) -> bytes:
        lines = self.lines
        return lines[lineno - 1] if 0 < lineno <= len(lines) else b""

    def column(self, lineno: int, offset: int) -> int:
        """0-based character column of the UTF-8 byte ``offset`` on line ``lineno``."""
        if self.ascii:
            return offset
        return len(self._line(lineno)[:offset].decode("utf-8", "replace"))

    def position(self, node: ast.AST) -> tuple[int, int]:
        lineno: int = node.lineno  # type: ignore[attr-defined]
        return lineno, self.column(lineno, node.col_offset) + 1  # type: ignore[attr-defined]

    def decorator_position(self, expr: ast.expr) -> tuple[int, int]:
        """Where the ``@`` of the decorator ``expr`` is (libcst's Decorator node)."""
        lineno, offset = expr.lineno, expr.col_offset
        line = self._line(lineno)
        at = line.rfind(b"@", 0, offset)
        if at < 0 or line[at + 1 : offset].strip(b" \t\f(") != b"":
            at = offset  # never seen: `@` on another line
        return lineno, self.column(lineno, at) + 1

    def code(self, node: ast.expr, statement: int) -> str:
        """The source of ``node`` as written, with the parentheses around it, as libcst
        prints a node alone: the indentation of its statement (first line ``statement``)
        is not repeated on its continuation lines."""
        starts = self._starts()
        data = self.data
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[(node.end_lineno or node.lineno) - 1] + (node.end_col_offset or 0)
        while True:  # (q).put / (\n q  # comment\n).put: the parentheses are q's in libcst
            before, after = self._back(start), self._forward(end)
            if before < 0 or after >= len(data):
                break
            if data[before : before + 1] != b"(" or data[after : after + 1] != b")":
                break
            start, end = before, after + 1
        text = data[start:end]
        if b"\n" in text or b"\r" in text:
            indent = self._line(statement)
            indent = indent[: len(indent) - len(indent.lstrip(b" \t\f"))]
            if indent:
                text = _dedent(text, indent)
        return text.decode("utf-8", "replace")

    def _starts(self) -> list[int]:
        if self._offsets is None:
            offsets, total = [], 0
            for line in self.lines:
                offsets.append(total)
                total += len(line)
            offsets.append(total)
            self._offsets = offsets
        return self._offsets

    def _back(self, at: int) -> int:
        """The offset of the last code character before ``at`` (comments skipped)."""
        data = self.data
        i = at - 1
        while i >= 0:
            char = data[i : i + 1]
            if char in b" \t\f\\":
                i -= 1
            elif char in b"\r\n":
                line_start = max(data.rfind(b"\n", 0, i), data.rfind(b"\r", 0, i)) + 1
                line = data[line_start:i]
                hash_at = line.find(b"#")
                i = line_start + (hash_at if hash_at >= 0 else len(line)) - 1
            else:
                return i
        return -1

    def _forward(self, at: int) -> int:
        """The offset of the first code character from ``at`` (comments skipped)."""
        data = self.data
        i = at
        while i < len(data):
            char = data[i : i + 1]
            if char in b" \t\f\r\n\\":
                i += 1
            elif char == b"#":
                newline = data.find(b"\n", i)
                i = len(data) if newline < 0 else newline
            else:
                return i
        return len(data)


def _dedent(text: bytes, indent: bytes) -> bytes:
    """Continuation lines lose ``indent``, except inside a string or after a backslash."""
    lines = text.splitlines(keepends=True)
    inside: set[int] = set()
    try:
        readline = io.StringIO(text.decode("utf-8", "replace")).readline
        for token in tokenize.generate_tokens(readline):
            if token.type == tokenize.STRING or token.type not in _PLAIN_TOKENS:
                inside.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        pass
    out = [lines[0]]
    for number, line in enumerate(lines[1:], start=1):
        after_backslash = lines[number - 1].rstrip(b"\r\n").endswith(b"\\")
        if number not in inside and not after_backslash and line.startswith(indent):
            line = line[len(indent) :]
        out.append(line)
    return b"".join(out)


def _utf8(data: bytes) -> bytes:
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    for line in data.splitlines()[:2]:
        match = _COOKIE.match(line)
        if match:
            try:
                return data.decode(codecs.lookup(match.group(1).decode()).name).encode("utf-8")
            except (LookupError, UnicodeDecodeError):
                break
    return data
