"""scan on realistic apps of our own making (tests/migrate/apps): every line marked
``# SITE: <kind> [risk ...]`` is found with that kind and those risks, every line marked
``# CANDIDATE`` is a candidate, and nothing else is reported (look-alikes sit next to the
real sites, unmarked)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from queue2celery.migrate import MigrateConfig, scan

APPS = Path(__file__).parent / "apps"
_MARK = re.compile(r"#\s*(SITE|CANDIDATE)\b:?\s*([\w\- ]*)$")


def _marks(root: Path) -> tuple[dict[tuple[str, int], tuple[str, set[str]]], set[tuple[str, int]]]:
    sites: dict[tuple[str, int], tuple[str, set[str]]] = {}
    candidates: set[tuple[str, int]] = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _MARK.search(line)
            if not match:
                continue
            if match.group(1) == "CANDIDATE":
                candidates.add((rel, n))
            else:
                kind, *risks = match.group(2).split()
                sites[(rel, n)] = (kind, set(risks))
    return sites, candidates


@pytest.fixture
def app_copy(tmp_path: Path):
    def make(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(APPS / name, target)
        return target

    return make


@pytest.mark.parametrize("name", sorted(p.name for p in APPS.iterdir() if p.is_dir()))
def test_scan_finds_every_marked_site_and_nothing_else(name: str, app_copy) -> None:
    root = app_copy(name)
    expected, expected_candidates = _marks(root)
    result = scan(root.parent, MigrateConfig(), jobs=1)
    assert result.errors == ()
    found = {(s.path, s.line): (s.kind, {r.code for r in s.risks}) for s in result.sites}
    assert {k: v[0] for k, v in found.items()} == {k: v[0] for k, v in expected.items()}
    for where, (_kind, risks) in expected.items():
        assert risks <= found[where][1], f"{where}: {found[where][1]} lacks {risks}"
    assert {(c.path, c.line) for c in result.candidates} == expected_candidates
