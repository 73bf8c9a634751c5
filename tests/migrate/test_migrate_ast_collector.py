"""What the equivalence harness (bench/_ast_equivalence.py) found where a first ``ast`` port
and the libcst collector disagreed; each is pinned here so the facts stay libcst's."""

from __future__ import annotations

from queue2celery.migrate._ast_analyze import analyze


def _calls(source: str) -> list:
    return [c for c in analyze(source.encode(), "app.m", False).calls if c.method == "put"]


def test_none_is_the_builtin_name_none_as_in_libcst() -> None:
    # A local once bound to None resolves to builtins.None (libcst's Name "None"), and
    # None.__class__ is named builtins.None too (libcst names a builtin's attribute so).
    source = b"def f(x):\n    got = None\n    got = x.get()\n    got.put(1)\nNT = None.__class__\n"
    facts = analyze(source, "m", False)
    assert facts.instances == (
        ("builtins.None", ("builtins.None",)),
        ("m.NT", ("builtins.None",)),
    )
    assert [(c.method, c.receivers) for c in facts.calls] == [("put", ("builtins.None",))]


def test_a_parenthesized_tuple_subscript_is_a_tuple_payload_a_bare_one_is_not() -> None:
    calls = _calls(
        "def f(q, d):\n    q.put(d[1, 2])\n    q.put(d[(1, 2)])\n    q.put(d[(1), 2])\n"
    )
    assert [[r.code for r in c.risks] for c in calls] == [[], ["tuple-literal"], []]


def test_a_multi_line_receiver_reads_without_its_block_indentation() -> None:
    source = (
        "class A:\n"
        "    def f(self, x):\n"
        "        ROUTES.replace(\n"
        "            'a', 'b'\n"
        "        ).put(x)\n"
        "        (\n"
        "            q  # 中文\n"
        "        ).put('''x\n"
        "        y''')\n"
    )
    assert [c.receiver_text for c in _calls(source)] == [
        "ROUTES.replace(\n    'a', 'b'\n)",
        "(\n    q  # 中文\n)",
    ]


def test_a_module_level_none_alias_is_an_instance_of_builtins_none() -> None:
    facts = analyze(b"handler = None\nclass C:\n    pass\nobj = C()\n", "m", False)
    assert dict(facts.instances) == {"m.obj": ("@ret:m.C",), "m.handler": ("builtins.None",)}
