"""The example app the guides walk through, and its copy in the state a guide has reached."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from _blocks import REPO

# A guide links a step's folder (legacy_app_steps/2_adopt) where the reader makes that step.
_STEP_LINK = re.compile(r"legacy_app_steps/(?P<step>\w+)\)")


def example_app() -> Path:
    """The example app's folder (the demo copies the same one)."""
    from queue2celery.demo import example_path

    return example_path()


def steps_dir() -> Path:
    """``legacy_app_steps``: the files each guide step adds or changes, one folder a step."""
    return example_app().parent / "legacy_app_steps"


def steps_before(doc: str, line: int) -> list[str]:
    """The step folders ``doc`` links to above ``line`` (1-based), in the order they come."""
    text = (REPO / doc).read_text(encoding="utf-8").splitlines()[: line - 1]
    found: list[str] = []
    for match in _STEP_LINK.finditer("\n".join(text)):
        step = match.group("step")
        if step not in found and (steps_dir() / step).is_dir():
            found.append(step)
    return found


def copy_example(dest: Path, steps: Sequence[str] = ()) -> Path:
    """A copy of the example at ``dest`` with the files of ``steps`` laid over it."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(example_app(), dest, ignore=ignore)
    for step in steps:
        shutil.copytree(steps_dir() / step, dest, ignore=ignore, dirs_exist_ok=True)
    return dest


def module_exists(module: str) -> bool:
    """``module`` is a module of the example, or one a step of the guide adds."""
    roots = [example_app(), *sorted(p for p in steps_dir().iterdir() if p.is_dir())]
    for root in roots:
        path = root / Path(*module.split("."))
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return True
    return False
