"""Where scan says a site is: 1-based line and column in characters, as libcst (and editors)
count them. scan parses with ``ast``, whose columns are UTF-8 bytes, so Chinese text before a
call on its line, a BOM, CRLF line ends, tabs, multi-line calls, decorators and calls inside
f-strings are each checked against libcst's own PositionProvider on the same bytes."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from queue2celery.migrate import load_config, scan
from queue2celery.migrate._ast_analyze import analyze
from queue2celery.migrate._files import BOM

IMPORT = "from app.tasks.queue import task_queue\n"

CASES = {
    "chinese_before_call": 'def f(x):\n    msg = "上传完成，入队"; task_queue.put(x)  # 中文注释\n',
    "chinese_in_argument_then_call": (
        'def f(x):\n    print("视频", task_queue.put({"标题": "中文"}), task_queue.put(x))\n'
    ),
    "emoji_and_wide_text": 'def f(x):\n    a = "📦📦"; b = "ｆｕｌｌ"; task_queue.put(x)\n',
    "tabs": "def f(x):\n\tif x:\n\t\ttask_queue.put(x)\n",
    "multi_line_call": (
        "def f(x):\n    y = [\n        1,\n    ]; task_queue.put(\n        x,\n    )\n"
    ),
    "parenthesized_receiver": "def f(x):\n    (task_queue).put(x)\n    (task_queue.put(x))\n",
    "call_in_fstring": (
        'def f(x):\n    return f"已入队 {task_queue.put(x)} 中 {task_queue.put(1)}"\n'
    ),
    "continuation_line": "def f(x):\n    ok = x and \\\n        task_queue.put(x)\n",
}


def _libcst_calls(data: bytes) -> list[tuple[int, int]]:
    """(line, column + 1) of every ``.put(`` call, by libcst's PositionProvider."""
    found: list[tuple[int, int]] = []

    class Calls(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == "put":
                start = self.get_metadata(PositionProvider, node).start
                found.append((start.line, start.column + 1))

    MetadataWrapper(cst.parse_module(data)).visit(Calls())
    return sorted(found)


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("bom", [b"", BOM], ids=["no_bom", "bom"])
@pytest.mark.parametrize("body", list(CASES.values()), ids=list(CASES))
def test_site_positions_are_libcsts_character_positions(
    project, body: str, newline: str, bom: bytes
) -> None:
    source = (IMPORT + "# 旧的任务队列\n" + body).replace("\n", newline)
    data = source.encode("utf-8")
    root = project({"app/api/routes.py": ""})
    (root / "app" / "api" / "routes.py").write_bytes(bom + data)
    result = scan(root, load_config(root), jobs=1)
    assert result.errors == ()
    assert sorted((s.line, s.col) for s in result.sites) == _libcst_calls(data)
    assert result.sites


def test_chinese_text_before_a_call_counts_characters_not_bytes() -> None:
    data = 'def f(x):\n    s = "中文"; q.put(x)\n'.encode()
    (call,) = [c for c in analyze(data, "m", False).calls if c.method == "put"]
    assert (call.line, call.col) == (2, 15)  # 4 spaces + `s = "中文"; ` (10 characters) + 1


def test_handler_decorator_position_is_its_at_sign() -> None:
    data = (
        "from app.tasks.queue import task_queue\n\n"
        "# 处理器\n@ task_queue.handler('x')\ndef run(p):\n    pass\n\n"
        "class A:\n    @task_queue.handler('y')  # 注释\n    def go(self, p):\n        pass\n"
    ).encode()
    facts = analyze(data, "m", False)
    assert [(h.line, h.col, h.name) for h in facts.handlers] == [(4, 1, "x"), (9, 5, "y")]


def test_a_non_utf8_file_with_a_coding_cookie_counts_its_characters() -> None:
    text = "# -*- coding: latin-1 -*-\ndef f(x):\n    s = 'café'; q.put(x)\n"
    (call,) = [c for c in analyze(text.encode("latin-1"), "m", False).calls if c.method == "put"]
    assert (call.line, call.col) == (3, 17)
