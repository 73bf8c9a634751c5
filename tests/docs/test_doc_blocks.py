"""Every fenced code block of README.md, MIGRATION.md and MIGRATION.zh-CN.md is tested.

Each block runs on a fresh copy of the example app, with the files of the step folders
(``legacy_app_steps/...``) the guide linked above it, after the earlier blocks of the same
guide that show a file (first line ``# path.py``) were written into it, as a reader would:

- shell (sh, bat, powershell): each command is executed or parsed by its own CLI
  (``_rules.py`` says which, and why);
- python: run as a script in the copy (REDIS_URL on an embedded server), a file block
  from its path;
- toml: parses, and its ``[tool.queue2celery]`` keys are the ones ``migrate.config`` reads;
- yaml: parses; a pre-commit hook's ``entry`` is parsed like a shell command;
- diff: each changed line is in what ``rewrite --diff`` prints for the copy; a diff whose
  first line names a file (``# path.py``) is a hand edit: its removed lines are in the
  example's file, its added lines in the copy's (the step folders linked above applied);
- text: sample output; each doctor line names a real check, each scan line a real site
  kind, each risk line a real risk code with its message.

A block marked ``<!-- not-tested: reason -->`` is skipped with that reason.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from _blocks import CMD_SHELLS, POSIX_SHELLS, POWERSHELLS, Block, Command, all_blocks, commands_of
from _example import copy_example, example_app, steps_before
from _rules import Workspace, check_command, parse_queue2celery

from queue2celery import embedded_redis

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BLOCKS = all_blocks()
SHELLS = POSIX_SHELLS + CMD_SHELLS + POWERSHELLS


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with embedded_redis() as url:
        yield url


def _workspace(block: Block, tmp_path: Path, redis_url: str) -> Workspace:
    # The copy is where the reader is: the step folders linked above the block are applied.
    workdir = copy_example(tmp_path / "app", steps_before(block.doc, block.line))
    for earlier in BLOCKS:
        if earlier.doc != block.doc or earlier.line > block.line:
            continue
        if earlier.lang == "python" and earlier.file_path:
            target = workdir / earlier.file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(earlier.text, encoding="utf-8")
    return Workspace(workdir, redis_url)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block(block: Block, tmp_path: Path, redis_url: str) -> None:
    if block.skip_reason:
        pytest.skip(f"marked not-tested: {block.skip_reason}")
    ws = _workspace(block, tmp_path, redis_url)
    if block.lang in SHELLS:
        _shell(block, ws)
    elif block.lang == "python":
        _python(block, ws)
    elif block.lang == "toml":
        _toml(block)
    elif block.lang in ("yaml", "yml"):
        _yaml(block)
    elif block.lang == "diff":
        _diff(block, ws)
    elif block.lang == "text":
        _text(block)
    else:
        pytest.fail(f"{block.id}: no test for {block.lang!r} blocks; add one or mark it")


def _shell(block: Block, ws: Workspace) -> None:
    commands = commands_of(block)
    assert commands, f"{block.id}: no command found"
    for command in commands:
        try:
            check_command(command, ws)
        except AssertionError as exc:
            raise AssertionError(f"{block.id}: {exc}") from exc


def _python(block: Block, ws: Workspace) -> None:
    compile(block.text, block.id, "exec")
    script = ws.workdir / (block.file_path or f"_doc_block_{block.line}.py")
    if not block.file_path:
        script.write_text(block.text, encoding="utf-8")
    code = "import runpy, sys; runpy.run_path(sys.argv[1])"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(script)],
        cwd=ws.workdir,
        env=ws.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"{block.id} failed:\n{proc.stdout}{proc.stderr}"


def _toml(block: Block) -> None:
    from queue2celery.migrate import MigrateConfig

    data = tomllib.loads(block.text)
    tool = data.get("tool", {}).get("queue2celery")
    assert tool is not None, f"{block.id}: no [tool.queue2celery] table"
    read = {f.name for f in dataclasses.fields(MigrateConfig)} - {"source"}
    assert set(tool) <= read, f"{block.id}: keys {set(tool) - read} are read by nothing"
    MigrateConfig.from_mappings(tool.get("queues"), tool.get("functions"))


def _yaml(block: Block) -> None:
    data = yaml.safe_load(block.text)
    hooks = [h for repo in (data or {}).get("repos", []) for h in repo.get("hooks", [])]
    assert hooks, f"{block.id}: no rule for this YAML (only pre-commit configs are known)"
    for hook in hooks:
        argv = shlex.split(hook["entry"])
        assert Command(argv).program == "queue2celery", f"{block.id}: entry {hook['entry']!r}"
        parse_queue2celery(argv[1:])


_EDITED_FILE = re.compile(r"^ ?#\s*(?P<path>[\w./-]+\.py)\b")


def _changed(text: str) -> list[str]:
    return [
        line.rstrip()
        for line in text.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _diff(block: Block, ws: Workspace) -> None:
    shown = _changed(block.text)
    assert shown, f"{block.id}: no changed line"
    edited = _EDITED_FILE.match(block.text.splitlines()[0])
    if edited:
        # A hand edit of one file (step 2's adopt line): its removed lines are in the
        # example's file, its added lines in that file as the guide's step folder has it.
        path = edited.group("path")
        before = {line.strip() for line in (example_app() / path).read_text("utf-8").splitlines()}
        after = {line.strip() for line in (ws.workdir / path).read_text("utf-8").splitlines()}
        for line in shown:
            where = before if line[0] == "-" else after
            assert line[1:].strip() in where, (
                f"{block.id}: {line!r} is not in {path} "
                f"{'of the example' if line[0] == '-' else 'at this step'}"
            )
        return

    from queue2celery.migrate import load_config, rewrite

    result = rewrite(ws.workdir, load_config(ws.workdir), dry_run=True, jobs=1)
    actual = {line for change in result.changes for line in _changed(change.diff)}
    for line in shown:
        assert any(a.startswith(line[0]) and a[1:].strip() == line[1:].strip() for a in actual), (
            f"{block.id}: rewrite --diff on the example does not print {line!r}"
        )


_DOCTOR_LINE = re.compile(r"^(PASS|WARN|FAIL|SKIP)\s+(\S+)\s")
_SCAN_LINE = re.compile(r"^\S+\.py:\d+:\d+: (\w+) ")
_RISK_LINE = re.compile(r"^\s+risk ([\w-]+): (.+)$")


def _text(block: Block) -> None:
    from queue2celery.doctor import CHECK_NAMES
    from queue2celery.migrate._risks import RISKS
    from queue2celery.migrate.results import KINDS

    recognized = 0
    for line in block.text.splitlines():
        if match := _DOCTOR_LINE.match(line):
            assert match.group(2) in CHECK_NAMES, f"{block.id}: no doctor check {match.group(2)!r}"
        elif match := _SCAN_LINE.match(line):
            assert match.group(1) in KINDS, f"{block.id}: no site kind {match.group(1)!r}"
        elif match := _RISK_LINE.match(line):
            risk = RISKS.get(match.group(1))
            assert risk is not None, f"{block.id}: no risk code {match.group(1)!r}"
            assert risk.message == match.group(2), f"{block.id}: {risk.message!r} is printed"
        else:
            continue
        recognized += 1
    assert recognized, f"{block.id}: sample output of nothing known; mark it not-tested"
