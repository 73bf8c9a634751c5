"""Issue 8.4: ``scan`` and ``rewrite --diff`` over the whole site-packages of this virtualenv.

End to end through the CLI (``queue2celery.cli.main``, in process): the scan must not crash
and must parse every file; every legacy queue it finds is then mapped to a made-up Celery
task, so ``rewrite --diff`` has real code to change. Each diff is applied to its original
file, the result must parse again, and a second ``rewrite --diff`` over the rewritten files
(in a mirror tree with their package ``__init__`` files) must find nothing to change.

tests/migrate/test_migrate_site_packages.py checks the same tree through the library; this
one checks what a user sees: the CLI's JSON, its exit codes, and the diff text it prints
(applied hunk by hunk, so a wrong line number or context would fail here).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sysconfig
import time
from pathlib import Path

import pytest
from _reliability import report

from queue2celery.cli import main
from queue2celery.migrate import collect_files

pytestmark = pytest.mark.reliability

SITE = Path(sysconfig.get_paths()["purelib"])
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _config(sites: list[dict[str, object]], path: Path) -> int:
    """Map every legacy queue (and background function) found to a made-up task."""
    tables: dict[str, dict[str, str]] = {"queues": {}, "functions": {}}
    function_kinds = ("background_task", "create_task", "thread_start", "executor_submit")
    for site in sites:
        table = "functions" if site["kind"] in function_kinds else "queues"
        name = str(site["queue"])
        if "<locals>" in name:
            continue  # a closure: scan says to move it to module level first
        tables[table].setdefault(name, f"q2c_target.tasks.task_{len(tables[table])}")
    lines = []
    for table, mapping in tables.items():
        lines.append(f"[tool.queue2celery.{table}]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in mapping.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(len(m) for m in tables.values())


def _split_diff(text: str) -> dict[str, list[str]]:
    """Unified diff per relative path (``--- a/x`` / ``+++ b/x`` headers)."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("+++ b/"):
            current = files.setdefault(line[len("+++ b/") :], [])
        elif line.startswith("--- a/"):
            current = None
        elif current is not None:
            current.append(line)
    return files


def _apply(original: str, diff: list[str]) -> str:
    """Apply one file's hunks; context and removed lines must match the original."""
    old = original.splitlines(keepends=True)
    newline = "\r\n" if old and old[0].endswith("\r\n") else "\n"
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(diff):
        match = _HUNK.match(diff[i])
        assert match, f"not a hunk header: {diff[i]!r}"
        start = int(match.group(1)) - (0 if match.group(2) == "0" else 1)
        out += old[pos:start]
        pos = start
        i += 1
        while i < len(diff) and not diff[i].startswith("@@"):
            line = diff[i]
            i += 1
            if line.startswith("\\"):  # "\ No newline at end of file"
                continue
            tag, body = line[:1], line[1:]
            if tag in (" ", "-"):
                assert old[pos].rstrip("\r\n") == body.rstrip("\r\n"), (pos, old[pos], body)
                if tag == " ":
                    out.append(old[pos])
                pos += 1
            elif tag == "+":
                out.append(body + newline)
    out += old[pos:]
    return "".join(out)


def _mirror(rel: str, text: str, mirror: Path) -> None:
    """``rel`` with ``text`` under ``mirror``, plus the ``__init__.py`` of its packages."""
    target = mirror / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    folder = Path(rel).parent
    while folder != Path("."):
        init = SITE / folder / "__init__.py"
        if init.is_file() and not (mirror / folder / "__init__.py").exists():
            shutil.copyfile(init, mirror / folder / "__init__.py")
        folder = folder.parent


def test_scan_and_rewrite_over_the_whole_site_packages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code, out, err = _cli(capsys, "scan", str(SITE), "--json")
    scan_seconds = time.monotonic() - started
    assert code == 0, err[-2000:]
    scanned = json.loads(out)
    assert scanned["files_scanned"] > 1000, scanned["files_scanned"]
    # site-packages is code that imports: a file that fails to parse is a parser gap.
    assert scanned["errors"] == [], scanned["errors"][:5]
    sites = scanned["sites"]
    assert sites, "site-packages holds queue.put sites (hypothesis, prompt_toolkit...)"

    config = tmp_path / "pyproject.toml"
    mapped = _config(sites, config)
    mtimes = {f.rel: f.path.stat().st_mtime_ns for f in collect_files(SITE)}
    t0 = time.monotonic()
    code, diff_text, err = _cli(capsys, "rewrite", str(SITE), "--diff", "--config", str(config))
    rewrite_seconds = time.monotonic() - t0
    assert code == 0, err[-2000:]
    after = {f.rel: f.path.stat().st_mtime_ns for f in collect_files(SITE)}
    assert after == mtimes, "rewrite --diff must write nothing"
    diffs = _split_diff(diff_text)
    assert diffs, f"mapping {mapped} queue(s) changed nothing: {err[-500:]}"

    mirror = tmp_path / "mirror"
    for rel, diff in diffs.items():
        original = (SITE / rel).read_text(encoding="utf-8")
        rewritten = _apply(original, diff)
        assert rewritten != original
        ast.parse(rewritten, filename=rel)  # raises SyntaxError if the rewrite broke it
        assert ".delay(" in rewritten
        _mirror(rel, rewritten, mirror)

    code, second, err = _cli(capsys, "rewrite", str(mirror), "--diff", "--config", str(config))
    assert code == 0, err[-2000:]
    assert second == "", f"the second pass would change more:\n{second[:3000]}"
    assert "0 file(s) would change" in err
    report(
        {
            "test": "large_tree_site_packages",
            "files_scanned": scanned["files_scanned"],
            "parse_errors": len(scanned["errors"]),
            "sites_found": len(sites),
            "queues_mapped": mapped,
            "files_rewritten": len(diffs),
            "scan_s": round(scan_seconds, 1),
            "rewrite_diff_s": round(rewrite_seconds, 1),
            "seconds_total": round(time.monotonic() - started, 1),
        }
    )
