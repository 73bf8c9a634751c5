"""The rollout and spool commands: parse, call one function, render, exit codes."""

from __future__ import annotations

import json

from queue2celery.cli import main


def test_rollout_set_show_clear_round_trip(embedded_url, unique_name, capsys) -> None:
    base = ["--redis-url", embedded_url, "--namespace", unique_name]
    # No process has reported these names to the new namespace yet: --force.
    assert main(["rollout", "set", "process_video_upload", "celery", "--force", *base]) == 0
    assert main(["rollout", "set", "send_email", "12.5", "--force", *base]) == 0
    assert "send_email = 12.5%" in capsys.readouterr().out
    assert main(["rollout", "show", "--json", *base]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)["tasks"]}
    assert rows["process_video_upload"]["override"] == 100
    assert rows["send_email"]["override"] == 12.5
    assert main(["rollout", "clear", "send_email", *base]) == 0
    assert "cleared the override of send_email" in capsys.readouterr().out
    assert main(["rollout", "show", "--json", *base]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)["tasks"]}
    assert set(rows) == {"process_video_upload"}
    # The kill switch replaces every per-task override.
    assert main(["rollout", "set", "*", "0", *base]) == 0
    capsys.readouterr()
    assert main(["rollout", "show", "--json", *base]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)["tasks"]}
    assert {t: r["override"] for t, r in rows.items()} == {"*": 0}


def test_rollout_set_rejects_a_bad_percentage_with_exit_2(embedded_url, capsys) -> None:
    assert main(["rollout", "set", "t", "150", "--redis-url", embedded_url]) == 2
    assert "'150'" in capsys.readouterr().err


def test_unreachable_redis_exits_1_without_showing_the_password(capsys, free_port) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port}/0"
    assert main(["rollout", "show", "--redis-url", url]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and ":***@" in err


def test_spool_replay_without_a_spool_file_has_nothing_to_do(tmp_path, monkeypatch, capsys) -> None:
    # Neither --path nor Q2C_SPOOL_PATH: the default file, absent when nothing was spooled.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("Q2C_SPOOL_PATH", raising=False)
    assert main(["spool", "replay", "--redis-url", "redis://x"]) == 0
    assert "nothing to replay" in capsys.readouterr().out


def test_q2c_rollout_of_this_shell_is_shown(embedded_url, unique_name, monkeypatch, capsys):
    monkeypatch.setenv("Q2C_ROLLOUT", "a=100,default=10")
    assert main(["rollout", "show", "--redis-url", embedded_url, "--namespace", unique_name]) == 0
    assert "Q2C_ROLLOUT in this shell: a=100,default=10" in capsys.readouterr().out
