"""Links inside README and the guides lead somewhere: files exist, #anchors name a heading."""

from __future__ import annotations

import re

import pytest
from _blocks import DOCS, REPO

_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
_CODE_SPAN = re.compile(r"`[^`]*`")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*$")


def _slug(title: str) -> str:
    # GitHub's rule: lower case, punctuation dropped (letters of any script kept), spaces -> -.
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _prose(doc: str) -> list[str]:
    lines, inside = [], False
    for line in (REPO / doc).read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def _anchors(doc: str) -> set[str]:
    return {_slug(m.group("title")) for line in _prose(doc) if (m := _HEADING.match(line))}


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_and_anchor_resolves(doc: str) -> None:
    broken = []
    for line in _prose(doc):
        # Code is not a link: `HANDLERS[job["type"]](**job["payload"])` is shown, not followed.
        for match in _LINK.finditer(_CODE_SPAN.sub("code", line)):
            target = match.group("target")
            if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            where = path or doc
            if not (REPO / where).exists():
                broken.append(f"{target}: no file {where}")
            elif anchor and where.endswith(".md") and anchor not in _anchors(where):
                broken.append(f"{target}: no heading #{anchor} in {where}")
    assert not broken, f"{doc}: " + "; ".join(broken)
