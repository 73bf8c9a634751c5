"""Code written for a newer Python than the one running the tool: scan (and check) read code
with ``ast``, the grammar of the interpreter they run on, so on an older interpreter such a
file is one clear file error that says to run queue2celery with the app's Python (and check
fails on it, Q2C900); on an interpreter that parses it, it is scanned like any other file.
Rewrite's codemods use libcst's own grammar and still rewrite it. CI runs this on 3.10 and
on the newest Python found, so both sides are exercised."""

from __future__ import annotations

import ast
import sys

import pytest

from queue2celery.migrate import load_config, rewrite, scan
from queue2celery.migrate.check import check

IMPORT = "# 任务队列(旧的)\nfrom app.tasks.queue import task_queue\n"

# (feature, the Python that first parses it, code placed before the enqueue site)
NEWER = [
    (
        "PEP 695 generic function and class",
        (3, 12),
        "def first[T](xs: list[T]) -> T:\n    return xs[0]\n\n\nclass Box[T]:\n    item: T\n",
    ),
    ("type statement", (3, 12), "type Payload[K] = dict[K, int]\n"),
    ("PEP 701 nested f-string", (3, 12), 'LABEL = f"{f"{1 + 1}"}"\n'),
    (
        "PEP 696 type parameter default",
        (3, 13),
        "class Page[T = int]:\n    items: list[T]\n\n\n"
        "def pick[*Ts = *tuple[int]](*a: *Ts) -> None:\n    pass\n",
    ),
    (
        "PEP 758 except without parentheses",
        (3, 14),
        "def safe(job):\n    try:\n"
        "        return job()\n    except ValueError, TypeError:\n        return None\n",
    ),
    (
        "PEP 758 except* without parentheses",
        (3, 14),
        "def safe_group(job):\n    try:\n"
        "        return job()\n    except* ValueError, TypeError:\n        return None\n",
    ),
    ("PEP 750 template string", (3, 14), 'def greet(name):\n    return t"hi {name}"\n'),
    (
        "except* (PEP 654)",
        (3, 11),
        "def grouped(job):\n    try:\n        job()\n    except* OSError:\n        pass\n",
    ),
]


def _source(prelude: str) -> str:
    return (
        IMPORT
        + prelude
        + "\n\n# 上传后入队\ndef enqueue(video_id):\n    task_queue.put({'video_id': video_id})\n"
    )


@pytest.mark.parametrize(
    ("prelude", "since"), [pytest.param(p, v, id=name) for name, v, p in NEWER]
)
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_newer_syntax_is_scanned_or_a_clear_error_and_always_rewritten(
    project, prelude: str, since: tuple[int, int], newline: str
) -> None:
    source = _source(prelude)
    if sys.version_info < since:  # the point: this interpreter's own grammar refuses it
        with pytest.raises(SyntaxError):
            ast.parse(source)
    root = project({"app/api/routes.py": source})
    path = root / "app" / "api" / "routes.py"
    original = source.replace("\n", newline).encode("utf-8")
    path.write_bytes(original)
    site_line = source.splitlines().index("    task_queue.put({'video_id': video_id})") + 1

    config = load_config(root)
    scanned = scan(root, config, jobs=1)
    checked = check(root, config, jobs=1)
    if sys.version_info >= since:
        assert scanned.errors == ()
        assert [(s.path, s.line) for s in scanned.sites] == [("app/api/routes.py", site_line)]
        assert [(f.path, f.line) for f in checked.findings] == [("app/api/routes.py", site_line)]
    else:
        version = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
        assert scanned.sites == ()
        assert [e.path for e in scanned.errors] == ["app/api/routes.py"]
        message = scanned.errors[0].message
        assert f"SyntaxError for {version}:" in message
        assert "run queue2celery with the Python your app runs on" in message
        assert "\n" not in message
        assert [(f.path, f.code) for f in checked.findings] == [("app/api/routes.py", "Q2C900")]

    result = rewrite(root, config, jobs=1)
    assert result.errors == ()
    assert [c.path for c in result.changes] == ["app/api/routes.py"]
    after = path.read_bytes()
    # Only the enqueue line and the import change; the newer-syntax code is byte-for-byte.
    assert prelude.replace("\n", newline).encode("utf-8") in after
    assert b"process_task.delay({'video_id': video_id})" in after
    assert b"task_queue.put" not in after
    assert after.count(b"\r\n") == (after.count(b"\n") if newline == "\r\n" else 0)
