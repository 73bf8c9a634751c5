"""check's messages on ``kb``, the held-out app (tests/migrate/init_apps/kb): each one says
what is true and something the user can do."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from _init_apps import make_app
from test_heldout_rewrite import MAPPING

from queue2celery.migrate import check, load_config, rewrite
from queue2celery.migrate._advice import local_function_advice


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], str]:
    """check's findings on kb after rewrite, by (path, line)."""
    root = make_app("kb", tmp_path_factory.mktemp("kb"))
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + MAPPING)
    assert rewrite(root, load_config(root), jobs=1).ok
    result = check(root, load_config(root), jobs=1)
    return {(f.path, f.line): f.message for f in (*result.findings, *result.warnings)}


def _at(findings: dict[tuple[str, int], str], path: str, text: str) -> str:
    found = [m for (p, _), m in findings.items() if p == path and text in m]
    assert len(found) == 1, findings
    return found[0]


def test_a_create_task_whose_handle_is_kept_says_rewrite_leaves_it_and_what_to_do(
    findings: dict[tuple[str, int], str],
) -> None:
    message = _at(findings, "kb/api/docs.py", "asyncio task running kb.services.indexer.embed")
    assert "run `queue2celery rewrite`" not in message
    assert "rewrite leaves it, its handle is kept" in message
    assert "task = asyncio.create_task(embed_document(doc_id))" in message
    assert "kb.celery_tasks.embed_document.delay(...) by hand" in message
    assert "drop the lines that use the handle" in message


def test_a_spawn_of_a_parameter_sends_the_user_to_the_helpers_callers(
    findings: dict[tuple[str, int], str],
) -> None:
    message = _at(findings, "kb/core/legacy.py", "fire_and_forget")
    assert "coro_fn is a parameter of fire_and_forget(): its callers decide what runs" in message
    assert "add it to [tool.queue2celery.functions]" not in message


def test_no_finding_advises_a_key_no_config_accepts(
    findings: dict[tuple[str, int], str],
) -> None:
    for message in findings.values():
        if "<locals>" in message:
            assert "add it to [tool.queue2celery" not in message, message


def _tree(source: str) -> ast.Module:
    return ast.parse(textwrap.dedent(source))


def test_local_function_advice_tells_a_parameter_from_a_nested_def() -> None:
    tree = _tree(
        """
        class Runner:
            def spawn(self, job, *, then=None):
                def later():
                    pass
        """
    )
    param = local_function_advice("app.run.Runner.spawn.<locals>.then", tree)
    assert param is not None and param.startswith("then is a parameter of spawn()")
    nested = local_function_advice("app.run.Runner.spawn.<locals>.later", tree)
    assert nested is not None and nested.startswith("later is defined inside spawn()")
    assert "move it to module level" in nested
    assert local_function_advice("app.run.send", tree) is None


def test_init_says_the_same_for_a_parameter(tmp_path: Path) -> None:
    from queue2celery.migrate.init._functions import read_function
    from queue2celery.migrate.init._project import load_project

    root = make_app("kb", tmp_path)
    why = read_function(load_project(root), "kb.core.legacy.fire_and_forget.<locals>.coro_fn")
    assert isinstance(why, str)
    assert why.startswith("coro_fn is a parameter of fire_and_forget(): its callers decide")


def test_an_awaited_put_rewrite_leaves_is_not_sent_to_rewrite(tmp_path: Path) -> None:
    root = make_app("kb", tmp_path)
    pyproject = root / "pyproject.toml"
    mapping = '"kb.core.jobs.JobManager._queue" = "kb.celery_tasks.dispatch_jobs"\n'
    pyproject.write_text(pyproject.read_text() + MAPPING.replace("]\n", "]\n" + mapping, 1))
    assert rewrite(root, load_config(root), jobs=1).ok
    assert "await self._queue.put(job)" in (root / "kb/core/jobs.py").read_text()
    result = check(root, load_config(root), jobs=1)
    (message,) = [f.message for f in result.findings if f.path == "kb/core/jobs.py"]
    assert "rewrite leaves an awaited put" in message
    assert "kb.celery_tasks.dispatch_jobs.delay(item) by hand, without the await" in message
    assert "run `queue2celery rewrite`" not in message
