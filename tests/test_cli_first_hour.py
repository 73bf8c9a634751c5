"""A newcomer's first hour with the CLI: mistakes get a one-line error that says what was
wrong and what to do, and change nothing; `-h` is help everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from queue2celery.cli import main
from queue2celery.compat.rollout_store import RolloutStore

APP = """
from celery import Celery

app = Celery("{name}", broker="redis://127.0.0.1:1/0", set_as_current=False)


@app.task(name="billing.send_invoice", shared=False)
def send_invoice(invoice_id):
    return invoice_id
"""


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


# --- worker -h ---------------------------------------------------------------------------


def test_worker_dash_h_prints_help_like_every_other_command(capsys) -> None:
    assert main(["worker", "--help"]) == 0
    long_help = capsys.readouterr().out
    assert main(["worker", "-h"]) == 0
    assert capsys.readouterr().out == long_help
    assert "Usage: queue2celery worker -A MODULE[:ATTR]" in long_help
    for command in (["scan"], ["rollout", "set"], ["spool", "replay"], ["doctor"]):
        assert main([*command, "-h"]) == 0
        assert "Usage:" in capsys.readouterr().out


# --- doctor -A -------------------------------------------------------------------------


@pytest.fixture
def app_module(
    write_module: Callable[[str, str], Path],
    unique_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    name = unique_name.replace("-", "_")
    write_module(name, APP.format(name=name))
    monkeypatch.chdir(tmp_path)
    return name


def _imports_check(spec: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["doctor", "-A", spec, "--timeout", "0.3", "--json"]) == 1
    checks = json.loads(capsys.readouterr().out)["checks"]
    return next(c for c in checks if c["name"] == "imports")


def test_doctor_says_the_module_was_found_and_the_attribute_is_missing(
    app_module: str, capsys
) -> None:
    check = _imports_check(f"{app_module}:nope", capsys)
    assert check["status"] == "FAIL"
    assert f"module {app_module!r} was found but has no attribute 'nope'" in check["detail"]
    assert "its Celery apps: app" in check["detail"]
    assert f"give -A {app_module}:app" in check["detail"]
    assert "No module named" not in check["detail"]


def test_doctor_says_when_the_module_itself_is_missing(app_module: str, capsys) -> None:
    check = _imports_check(f"{app_module}_typo:app", capsys)
    assert f"there is no module '{app_module}_typo'" in check["detail"]


def test_doctor_tells_a_missing_dependency_of_the_module_apart(
    write_module: Callable[[str, str], Path], app_module: str, capsys
) -> None:
    write_module(f"{app_module}_deps", "import q2c_not_installed_anywhere\n")
    check = _imports_check(f"{app_module}_deps:app", capsys)
    assert "No module named 'q2c_not_installed_anywhere'" in check["detail"]


# --- rollout set / clear: unknown names, percentages --------------------------------------


@pytest.fixture
def rollout_base(embedded_url: str, unique_name: str) -> list[str]:
    """A namespace where a CompatQueue reported two tasks (as it does on its first put)."""
    store = RolloutStore(redis.Redis.from_url(embedded_url), unique_name)
    store.report_configured({"video.process_upload": "10", "mail.send_email": "100"})
    return ["--redis-url", embedded_url, "--namespace", unique_name]


def _overrides(base: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    assert main(["rollout", "show", "--json", *base]) == 0
    rows = json.loads(capsys.readouterr().out)["tasks"]
    return {r["task"]: r["override"] for r in rows if r["override"] is not None}


def test_rollout_set_of_an_unknown_task_is_an_error_listing_the_known_ones(
    rollout_base: list[str], capsys
) -> None:
    assert main(["rollout", "set", "video.proces_upload", "50", *rollout_base]) == 2
    err = _err_line(capsys)
    assert "unknown task 'video.proces_upload'" in err
    assert "known: 'mail.send_email', 'video.process_upload'" in err
    assert "--force" in err
    assert _overrides(rollout_base, capsys) == {}, "nothing may be set"
    assert main(["rollout", "set", "video.process_upload", "50", *rollout_base]) == 0
    assert main(["rollout", "set", "video.not_deployed_yet", "5", "--force", *rollout_base]) == 0
    capsys.readouterr()
    assert _overrides(rollout_base, capsys) == {
        "video.process_upload": 50,
        "video.not_deployed_yet": 5,
    }
    # The kill switch is always known.
    assert main(["rollout", "set", "*", "0", *rollout_base]) == 0


def test_rollout_clear_of_an_unknown_task_is_an_error(rollout_base: list[str], capsys) -> None:
    assert main(["rollout", "set", "mail.send_email", "30", *rollout_base]) == 0
    capsys.readouterr()
    assert main(["rollout", "clear", "mail.sendemail", *rollout_base]) == 2
    err = _err_line(capsys)
    assert "rollout clear: unknown task 'mail.sendemail'" in err and "'mail.send_email'" in err
    assert _overrides(rollout_base, capsys) == {"mail.send_email": 30}
    assert main(["rollout", "clear", "mail.send_email", *rollout_base]) == 0
    capsys.readouterr()
    assert _overrides(rollout_base, capsys) == {}


def test_rollout_with_dash_a_knows_the_apps_tasks(
    app_module: str, rollout_base: list[str], capsys
) -> None:
    argv = ["rollout", "set", "billing.send_invoice", "20", *rollout_base]
    assert main(argv) == 2
    assert "'billing.send_invoice'" in _err_line(capsys)
    assert main([*argv, "-A", f"{app_module}:app"]) == 0
    assert main(["rollout", "set", "x", "20", "-A", f"{app_module}:nope", *rollout_base]) == 2
    assert "has no attribute 'nope'" in _err_line(capsys)


@pytest.mark.parametrize("argv", [["-5"], ["--", "-5"], ["150"], ["nan"]])
def test_rollout_set_out_of_range_says_what_to_use(
    rollout_base: list[str], argv: list[str], capsys
) -> None:
    assert main(["rollout", "set", "mail.send_email", *rollout_base, *argv]) == 2
    assert "use a value from 0 to 100" in _err_line(capsys)
    assert _overrides(rollout_base, capsys) == {}


# --- spool replay --path -----------------------------------------------------------------


def test_spool_replay_of_a_path_that_does_not_exist_is_an_error(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope" / "outbox.sqlite3"
    argv = ["spool", "replay", "--redis-url", "redis://127.0.0.1:1/0", "--path"]
    assert main([*argv, str(missing)]) == 2
    assert f"--path {str(missing)!r} does not exist" in _err_line(capsys)
    assert not missing.parent.exists(), "nothing is created"
    assert main([*argv, str(tmp_path)]) == 2
    assert "is a folder, not a spool file" in _err_line(capsys)
