"""What a guide's command is checked against: executed on a copy, or parsed by its own CLI.

Executed (on a copy of the example app, with REDIS_URL on an embedded server):
``queue2celery scan / rewrite / check / rollout / spool / doctor``. Parsed only, by the CLI's
own click parser, every option and its value checked (long runs, or a worker that never
exits): ``queue2celery worker / parity / demo / beat / beat-schedule`` and any other
subcommand, ``celery ...`` (Celery's parser; Flower's options by Flower's own parser),
``uvicorn``. Checked against the project: ``pip install`` / ``pip wheel`` (the package and
its extras exist; a ``.whl`` is the project's own), ``python -m build``, environment
variables (the code or the Compose file reads them), ``git`` and ``docker compose`` (known
subcommands; never run here). Commands given ``-A APP`` run in a process of their own. Any
other program fails the test until a rule is added here or the block is marked
``<!-- not-tested: reason -->``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from _blocks import REPO, Command

EXECUTED = ("scan", "rewrite", "check", "rollout", "spool", "doctor")
_GIT = ("add", "commit", "revert", "log", "diff", "status")
_COMPOSE = ("up", "down", "logs", "ps", "stop", "restart", "config", "exec", "build")


@dataclass
class Workspace:
    """Where a guide's commands run: the example copy, and the Redis they talk to."""

    workdir: Path
    redis_url: str

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "Q2C_ROLLOUT")
        }
        env.update(extra or {})
        env["REDIS_URL"] = self.redis_url
        env["PYTHONPATH"] = os.pathsep.join([str(self.workdir), str(REPO)])
        env["Q2C_SPOOL_PATH"] = str(self.workdir / ".q2c-spool.sqlite3")
        return env


def check_command(command: Command, ws: Workspace) -> str:
    """Run or parse ``command``; returns what was done, raises AssertionError if it is wrong."""
    for name in command.env:
        check_env_name(name)
    if not command.argv:
        return "environment only"
    program, args = command.program, command.argv[1:]
    if program in ("export", "set"):
        for assignment in args:
            name, _, _ = assignment.partition("=")
            check_env_name(name)
        return "validated: environment variables the code reads"
    if program in ("queue2celery", "q2c"):
        return _queue2celery(args, command, ws)
    if program in ("python", "python3", "py"):
        return _python(args, command, ws)
    if program == "pip":
        return _pip(args)
    if program == "celery":
        _celery(args)
        return "validated: celery's parser"
    if program == "uvicorn":
        from uvicorn.main import main as uvicorn_cli

        _parse(uvicorn_cli, args, "uvicorn")
        return "validated: uvicorn's parser"
    if program == "git":
        assert args and args[0] in _GIT, f"git {args[:1]}: not a git subcommand the guides use"
        return "validated: git subcommand (acts on your repository; never run here)"
    if program == "docker":
        assert args[:1] == ["compose"] and len(args) > 1 and args[1] in _COMPOSE, (
            f"docker {' '.join(args[:2])}: only `docker compose {'|'.join(_COMPOSE)}` is known"
        )
        assert (REPO / "docs" / "docker-compose.yml").is_file()
        return "validated: docker compose subcommand (the file: tests/docs/test_compose.py)"
    raise AssertionError(
        f"no rule for {program!r} in {command.text!r}: add one to tests/docs/_rules.py or "
        "mark the block <!-- not-tested: reason -->"
    )


def _known_env_names() -> str:
    texts = [p.read_text(encoding="utf-8") for p in (REPO / "queue2celery").rglob("*.py")]
    texts.append((REPO / "docs" / "docker-compose.yml").read_text(encoding="utf-8"))
    return "\n".join(texts)


_ENV_TEXT: list[str] = []


def check_env_name(name: str) -> None:
    if not _ENV_TEXT:
        _ENV_TEXT.append(_known_env_names())
    assert re.match(r"^[A-Za-z_]\w*$", name), f"{name!r} is not a variable name"
    assert name in _ENV_TEXT[0], (
        f"environment variable {name!r} is read by neither the package nor the Compose file"
    )


# -- parsing with a CLI's own click parser ------------------------------------------------


def _parse(command: click.Command, args: list[str], name: str, **extra: object) -> click.Context:
    try:
        return command.make_context(name, list(args), **extra)  # type: ignore[arg-type]
    except click.UsageError as exc:
        raise AssertionError(f"{name} {' '.join(args)}: {exc.format_message()}") from exc


def _resolve(
    group: click.Group, ctx: click.Context, name: str
) -> tuple[str, click.Command, list[str]]:
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    assert rest, f"{name}: no subcommand given"
    try:
        sub_name, sub, sub_args = group.resolve_command(ctx, rest)
    except click.UsageError as exc:
        raise AssertionError(f"{name}: {exc.format_message()}") from exc
    assert sub is not None and sub_name is not None, f"{name}: unknown command {rest[0]!r}"
    return sub_name, sub, sub_args


def parse_queue2celery(args: list[str]) -> list[str]:
    """Parse with queue2celery's own click group, down to the leaf; returns the command path."""
    from queue2celery.cli import cli

    command: click.Command = cli
    ctx = _parse(cli, args, "queue2celery")
    path: list[str] = []
    while isinstance(command, click.Group):
        name, command, sub_args = _resolve(command, ctx, "queue2celery " + " ".join(path))
        path.append(name)
        ctx = _parse(command, sub_args, name, parent=ctx)
    if path == ["worker"]:
        # Everything but -A goes to `celery worker`: parse what queue2celery would run.
        from queue2celery.celery_tasks.worker import split_app_option, worker_argv

        app_spec, rest = split_app_option(ctx.args)
        _celery(worker_argv(app_spec, rest, platform="win32"))
    return path


def _celery(args: list[str]) -> None:
    from celery import Celery
    from celery.app.control import Inspect
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery

    obj = CLIContext(app=Celery("doc-check"), no_color=True, workdir=None, quiet=True)
    ctx = _parse(celery, args, "celery", obj=obj)
    name, sub, sub_args = _resolve(celery, ctx, "celery")
    sub_ctx = _parse(sub, sub_args, f"celery {name}", parent=ctx)
    if name == "inspect":
        method = sub_ctx.params["command"]
        assert callable(getattr(Inspect, method, None)), f"celery inspect {method}: unknown"
    if name == "flower":
        import flower.options  # noqa: F401 - defines Flower's options on tornado's parser
        from tornado.options import Error, options

        try:
            options.parse_command_line(["flower", *sub_ctx.params["tornado_argv"]], final=False)
        except Error as exc:
            raise AssertionError(f"celery flower: {exc}") from exc


# -- the rest -------------------------------------------------------------------------------


def _queue2celery(args: list[str], command: Command, ws: Workspace) -> str:
    path = parse_queue2celery(args)
    if path[0] not in EXECUTED:
        return f"validated: queue2celery {' '.join(path)} (click parser)"
    run_args = [_local_redis(a, ws) for a in args]
    if path[0] == "doctor":
        # No worker runs here: the ping's wait is cut to 0.5 s (the value was parsed above).
        if "--timeout" in run_args:
            run_args[run_args.index("--timeout") + 1] = "0.5"
        else:
            run_args += ["--timeout", "0.5"]
    if path[0] == "doctor" or _names_app(run_args):
        # doctor, and any command given -A, imports the app's code: a process of its own,
        # as on the reader's machine (never this one's modules, which other copies use).
        proc = subprocess.run(
            [sys.executable, "-m", "queue2celery.cli", *run_args],
            cwd=ws.workdir,
            env=ws.env(command.env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        code, output = proc.returncode, proc.stdout + proc.stderr
    else:
        code, output = _in_process(run_args, command, ws)
    assert code in (0, 1), f"{command.text!r} exited {code}:\n{output}"
    assert "Traceback" not in output, f"{command.text!r} crashed:\n{output}"
    return f"executed: queue2celery {' '.join(path)} (exit {code})"


def _names_app(args: list[str]) -> bool:
    return any(a in ("-A", "--app") or a.startswith(("-A", "--app=")) for a in args)


def _in_process(args: list[str], command: Command, ws: Workspace) -> tuple[int, str]:
    """The static and Redis-only commands never import the app: run them in this process."""
    import traceback

    from click.testing import CliRunner

    from queue2celery.cli import cli

    changes: dict[str, str | None] = {k: None for k in os.environ if k not in ws.env()}
    changes.update(ws.env(command.env))
    here = os.getcwd()
    os.chdir(ws.workdir)
    try:
        result = CliRunner().invoke(cli, args, env=changes, prog_name="queue2celery")
    finally:
        os.chdir(here)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "".join(traceback.format_exception(result.exception))
    return result.exit_code, output


def _local_redis(arg: str, ws: Workspace) -> str:
    # A guide's Redis URL becomes the test's own server.
    return ws.redis_url if re.match(r"^rediss?://", arg) else arg


def _python(args: list[str], command: Command, ws: Workspace) -> str:
    if args[:2] == ["-m", "venv"] and len(args) == 3:
        return "validated: python -m venv DIR"
    if args[:2] == ["-m", "pytest"]:
        return "validated: python -m pytest (the suite itself)"
    if args[:2] == ["-m", "pip"]:
        return _pip(args[2:])
    if args[:2] == ["-m", "build"]:
        assert (REPO / "pyproject.toml").is_file(), "python -m build: no pyproject.toml"
        return "validated: python -m build (builds this project's sdist and wheel)"
    if args[:2] == ["-m", "queue2celery.cli"]:
        return _queue2celery(args[2:], command, ws)
    raise AssertionError(f"python {' '.join(args)}: no rule")


def _pip(args: list[str]) -> str:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from packaging.requirements import Requirement

    assert args[:1] in (["install"], ["wheel"]), f"pip {args[:1]}: only install and wheel known"
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(project.get("optional-dependencies", {}))
    known = {"queue2celery", "flower", "build"} | {
        Requirement(dep).name.lower() for dep in project["dependencies"]
    }
    # Options and their values (-w dist) are not things to install.
    specs = [a for i, a in enumerate(args[1:]) if not a.startswith("-") and args[i] != "-w"]
    assert specs, f"pip {' '.join(args)}: nothing to install"
    for spec in specs:
        if spec.endswith(".whl"):
            # A wheel built from the checkout: its file name starts with the project's name.
            name = re.split(r"[\\/]", spec)[-1]
            assert name.startswith(f"{project['name']}-"), f"pip install {spec!r}: not our wheel"
        elif spec.startswith("."):
            match = re.match(r"^\.(?:\[(?P<extras>[\w,-]+)\])?$", spec)
            assert match, f"pip install {spec!r}: expected . or .[extra]"
            wanted = set(filter(None, (match.group("extras") or "").split(",")))
            assert wanted <= extras, f"pip install {spec!r}: no extra {wanted - extras}"
        else:
            name = Requirement(spec).name.lower()
            assert name in known, f"pip install {spec!r}: not a package the project uses"
    return "validated: pip install (package and extras exist)"
