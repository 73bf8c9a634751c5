"""rewrite guards the legacy start of periodic jobs that run on Beat now, and only those."""

from __future__ import annotations

import shutil
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from queue2celery.cli import main
from queue2celery.migrate import MigrateConfig, rewrite, scan
from queue2celery.migrate._files import split_bom
from queue2celery.migrate.codemods.periodic_start import GuardPeriodicStartCommand

GOLDEN = Path(__file__).parent / "golden" / "periodic_start"
APPS = Path(__file__).parent / "golden" / "periodic_apps"
ENTRY = "cleanup (app.periodic_tasks)"
# case -> the lines holding a start to guard (what the scan reports as each job's start)
STARTS = {
    "bare_thread_start": {8: ENTRY},
    "assignment_gets_else_none": {7: ENTRY},
    "multiline_add_job": {5: ENTRY},
    "crlf_bom_chinese": {5: ENTRY},
    "decorator_removed": {8: ENTRY, 13: "nightly (app.periodic_tasks)"},
    "already_guarded": {7: ENTRY},
}


def _guard(source: bytes, starts: dict[int, str]) -> tuple[bytes, set[int]]:
    bom, body = split_bom(source)
    command = GuardPeriodicStartCommand(CodemodContext(), starts)
    out = command.transform_module(cst.parse_module(body)).bytes
    return (source if out == body else bom + out), command.guarded


@pytest.mark.parametrize("case", sorted(STARTS))
def test_golden_guard(case: str) -> None:
    source = (GOLDEN / f"{case}.input.py.txt").read_bytes()
    expected = (GOLDEN / f"{case}.expected.py.txt").read_bytes()
    out, guarded = _guard(source, STARTS[case])
    assert out == expected
    assert guarded == set(STARTS[case])
    compile(split_bom(out)[1], case, "exec")
    again, _ = _guard(expected, _shifted(expected, STARTS[case]))
    assert again == expected, "a second run must change nothing"


def _shifted(source: bytes, starts: dict[int, str]) -> dict[int, str]:
    """Where the guarded starts are after the first run (two comment lines and an if)."""
    lines = split_bom(source)[1].decode().splitlines()
    out = {}
    for n, line in enumerate(lines, 1):
        if line.strip().startswith('if os.environ.get("Q2C_LEGACY_PERIODIC")'):
            out[n + 1] = ENTRY
    return out


def test_every_golden_case_has_a_start_table() -> None:
    cases = {p.name.split(".")[0] for p in GOLDEN.glob("*.input.py.txt")}
    assert cases == set(STARTS)


# -- rewrite over a project ---------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(APPS / "shop", root)
    return root


def test_nothing_is_guarded_before_a_schedule_takes_the_jobs_over(shop: Path) -> None:
    result = rewrite(shop, MigrateConfig(), dry_run=True, jobs=1)
    assert result.changes == ()


def test_rewrite_guards_what_the_generated_schedule_replaces(shop: Path, capsys) -> None:
    args = ["beat-schedule", str(shop), "--write", "app.periodic_tasks", "-j", "1"]
    assert main(args) == 0
    before = {p: p.read_bytes() for p in shop.rglob("*.py")}
    result = rewrite(shop, MigrateConfig(), jobs=1)
    assert result.ok
    assert sorted(c.path for c in result.changes) == ["app/main.py", "app/workers/loops.py"]
    loops = (shop / "app" / "workers" / "loops.py").read_text(encoding="utf-8")
    assert loops.count('if os.environ.get("Q2C_LEGACY_PERIODIC") == "1":') == 2
    assert "        flusher.start()" in loops  # the start is guarded, the thread still built
    assert "    threading.Thread(target=email_consumer, daemon=True).start()" in loops
    main_py = (shop / "app" / "main.py").read_text(encoding="utf-8")
    assert "    else:\n        app.state.cache_task = None" in main_py
    assert any("None while the legacy start is off" in w for _, w in result.warnings)
    for path, data in before.items():
        compile(path.read_bytes(), str(path), "exec")
        if path.name not in ("main.py", "loops.py"):
            assert path.read_bytes() == data
    assert rewrite(shop, MigrateConfig(), dry_run=True, jobs=1).changes == ()
    # The jobs are still found (the guard keeps the way back), so the schedule is stable.
    assert len(scan(shop, MigrateConfig(), jobs=1).periodic) == 3
    capsys.readouterr()


def test_only_the_starts_of_jobs_on_beat_are_guarded(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "jobs.py").write_text(
        "import threading, time\n"
        "def a(): ...\n"
        "def b(): ...\n"
        "def loop():\n"
        "    while True:\n"
        "        a()\n"
        "        time.sleep(60)\n"
        "def other():\n"
        "    while True:\n"
        "        b()\n"
        "        time.sleep(60)\n"
        "def start():\n"
        "    threading.Thread(target=loop).start()\n"
        "    threading.Thread(target=other).start()\n",
        encoding="utf-8",
    )
    config = MigrateConfig.from_mappings(periodic={"app.jobs.a": "app.tasks.a"})
    result = rewrite(root, config, jobs=1)
    text = (root / "app" / "jobs.py").read_text(encoding="utf-8")
    assert text.count("Q2C_LEGACY_PERIODIC") == 2  # the comment and the if: for a() only
    assert "        threading.Thread(target=loop).start()" in text
    assert "\n    threading.Thread(target=other).start()" in text
    assert result.ok
