"""Fenced code blocks of the guides, and the shell commands inside them.

A block right after ``<!-- not-tested: reason -->`` (the last non-blank line before its
fence) is skipped with that reason.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "MIGRATION.md", "MIGRATION.zh-CN.md")

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
_NOT_TESTED = re.compile(r"^\s*<!--\s*not-tested:\s*(?P<reason>.+?)\s*-->\s*$")
# A first line "# some/path.py" names the file a Python block shows.
_PATH_COMMENT = re.compile(r"^#\s*(?P<path>[\w./-]+\.py)\s*(?:[:：].*)?$")

POSIX_SHELLS = ("sh", "bash", "shell", "console", "zsh")
CMD_SHELLS = ("bat", "cmd", "batch")
POWERSHELLS = ("powershell", "ps1", "pwsh")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip_reason: str | None = None

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.lang or 'plain'}"

    @property
    def file_path(self) -> str | None:
        """The path a Python block says it is (its first line ``# path.py``), if any."""
        first = self.text.splitlines()[0] if self.text else ""
        match = _PATH_COMMENT.match(first)
        return match.group("path") if match else None


def blocks_of(doc: str) -> list[Block]:
    lines = (REPO / doc).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, indent = match.group("fence"), len(match.group("indent"))
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        index += 1  # the closing fence
        found.append(
            Block(
                doc=doc,
                line=start + 1,
                lang=match.group("lang").lower(),
                text="\n".join(body) + "\n",
                skip_reason=_skip_reason(lines, start),
            )
        )
    return found


def _skip_reason(lines: list[str], fence_index: int) -> str | None:
    for line in reversed(lines[:fence_index]):
        if line.strip():
            match = _NOT_TESTED.match(line)
            return match.group("reason") if match else None
    return None


def all_blocks() -> list[Block]:
    return [block for doc in DOCS for block in blocks_of(doc)]


@dataclass
class Command:
    """One simple command: ``VAR=value`` prefixes, then the program and its arguments."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def program(self) -> str:
        """The program's plain name: ``.venv\\Scripts\\pip.exe`` -> ``pip``."""
        name = re.split(r"[\\/]", self.argv[0])[-1].lower() if self.argv else ""
        return name[:-4] if name.endswith(".exe") else name


_SEPARATORS = {"&&", "||", ";", "|", "&"}


def commands_of(block: Block) -> list[Command]:
    """The simple commands of a shell block, in order, whatever the shell's syntax."""
    if block.lang in POSIX_SHELLS:
        return _split(_join_continuations(block.text), posix=True)
    if block.lang in CMD_SHELLS:
        return _cmd_commands(block.text)
    if block.lang in POWERSHELLS:
        return _powershell_commands(block.text)
    raise ValueError(f"{block.id}: not a shell block")


def _join_continuations(text: str) -> str:
    return re.sub(r"\\\n", " ", text)


def _split(text: str, *, posix: bool) -> list[Command]:
    commands: list[Command] = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=posix, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#" if posix else ""
        current: list[str] = []
        for token in lexer:
            if token in _SEPARATORS:
                commands.extend(_command(current, line, posix))
                current = []
            else:
                current.append(token)
        commands.extend(_command(current, line, posix))
    return commands


def _command(tokens: list[str], line: str, posix: bool) -> list[Command]:
    if not posix:
        tokens = [_unquote(t) for t in tokens]
    env: dict[str, str] = {}
    while tokens and re.match(r"^[A-Za-z_]\w*=", tokens[0]) and tokens[0] != "export":
        name, value = tokens.pop(0).split("=", 1)
        env[name] = value
    if not tokens and not env:
        return []
    return [Command(argv=tokens, env=env, text=line.strip())]


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    return token


def _cmd_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    for raw in text.splitlines():
        line = raw.strip()
        low = line.lower()
        if not line or low.startswith(("rem ", "::")) or low in ("rem", "@echo off"):
            continue
        # A batch file writes a literal % as %%.
        line = line.replace("%%", "%")
        for command in _split(line, posix=False):
            if command.program == "start" and len(command.argv) > 1:
                # start "title" program args...
                rest = command.argv[1:]
                if raw.split("start", 1)[1].lstrip().startswith('"'):
                    rest = rest[1:]
                command.argv = rest
            commands.append(command)
    return commands


def _powershell_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        assignment = re.match(r"^\$env:(?P<name>\w+)\s*=\s*(?P<value>.+)$", line)
        if assignment:
            value = _unquote(assignment.group("value").strip())
            commands.append(Command(argv=[], env={assignment.group("name"): value}, text=line))
            continue
        commands.extend(_split(line, posix=False))
    return commands
