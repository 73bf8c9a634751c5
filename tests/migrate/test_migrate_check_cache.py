"""``check``'s cache between runs (pre-commit's case): a warm run re-parses no file, neither
for sites nor for periodic work, and an edited file is the only one analysed again; the
findings are the same as a run without the cache. init's stub marks come from the bytes scan
read, without importing init."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from queue2celery.migrate import check, load_config, scan

HERE = Path(__file__).parent
SHOP = HERE / "golden" / "periodic_apps" / "shop"
MEDIA = HERE / "apps" / "media_api"

STUB = '''
def run_jobs_queue(item):  # q2c: init-stub
    """写好消费循环对每一项做什么。"""
    raise NotImplementedError
'''


def _app(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(SHOP, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text("[tool.queue2celery]\n", encoding="utf-8")
    shutil.copytree(MEDIA, root / "media", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "media" / "stubs.py").write_text(STUB, encoding="utf-8")
    return root


def _check(root: Path, use_cache: bool = True) -> tuple[object, dict[str, int]]:
    stats: dict[str, int] = {}
    result = check(root, load_config(root), jobs=1, use_cache=use_cache, stats=stats)
    return result, stats


def test_a_warm_check_parses_no_file_and_finds_the_same(tmp_path: Path) -> None:
    root = _app(tmp_path)
    cold, first = _check(root)
    assert first["parsed"] >= 10 and first["periodic_parsed"] >= 3  # the cache was empty
    warm, second = _check(root)
    assert second == {"parsed": 0, "periodic_parsed": 0}
    assert warm == cold == _check(root, use_cache=False)[0]
    codes = {f.code for f in warm.findings}  # type: ignore[attr-defined]
    assert {"Q2C001", "Q2C901"} <= codes
    # The periodic jobs (one interval read from a settings module on demand) come from
    # the cache too, identical.
    config = load_config(root)
    jobs = scan(root, config, jobs=1, use_cache=True).periodic
    assert sorted(j.name for j in jobs) == [
        "cancel_expired_orders",
        "flush_stats",
        "refresh_hot_products",
    ]
    assert jobs == scan(root, config, jobs=1).periodic


def test_an_edited_file_is_the_only_one_analysed_again(tmp_path: Path) -> None:
    root = _app(tmp_path)
    _check(root)
    routes = root / "media" / "routes" / "users.py"
    routes.write_text(routes.read_text(encoding="utf-8") + "\n# 改了一行\n", encoding="utf-8")
    result, stats = _check(root)
    assert stats == {"parsed": 1, "periodic_parsed": 0}  # users.py holds sites, no loop
    assert result == _check(root, use_cache=False)[0]
    # The settings module an interval is read from (on demand), edited to the same size:
    # the content key sees it, and only it is parsed again.
    settings = root / "app" / "core" / "config.py"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("SECONDS: int = 60", "SECONDS: int = 90"), encoding="utf-8")
    stats = {}
    jobs = scan(root, load_config(root), jobs=1, use_cache=True, stats=stats).periodic
    assert stats == {"parsed": 0, "periodic_parsed": 1}
    orders = next(j for j in jobs if j.name == "cancel_expired_orders")
    assert orders.to_dict()["schedule"]["seconds"] == 90
    assert jobs == scan(root, load_config(root), jobs=1).periodic
    again, stats = _check(root)
    assert stats == {"parsed": 0, "periodic_parsed": 0} and again == result


def test_a_stub_mark_is_a_finding_without_importing_init(tmp_path: Path) -> None:
    from queue2celery.migrate._stubmark import STUB_MARK
    from queue2celery.migrate.init._render import STUB_MARK as WRITTEN
    from queue2celery.migrate.init.stubs import stub_findings

    assert STUB_MARK == WRITTEN  # the mark check looks for is the one init writes
    root = _app(tmp_path)
    found = [f for f in _check(root)[0].findings if f.code == "Q2C901"]  # type: ignore[attr-defined]
    assert [(f.path, f.line) for f in found] == [("media/stubs.py", 2)]
    assert found == stub_findings(root)
    code = (
        "import sys, queue2celery.migrate.check; "
        "print(sorted(m for m in sys.modules if m.startswith('queue2celery.migrate.init')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
