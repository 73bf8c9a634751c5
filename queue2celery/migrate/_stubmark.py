"""The mark ``queue2celery init`` leaves in a consumer stub it could not fill in
(``q2c: init-stub``), read by ``check`` from the bytes scan already read: a module of its
own so that ``check`` never imports init's planning code for it."""

from __future__ import annotations

__all__ = ["STUB_MARK", "stub_marks", "stub_message"]

STUB_MARK = "q2c: init-stub"
_MARK = STUB_MARK.encode()


def stub_marks(data: bytes) -> list[tuple[int, str]]:
    """``(line, function name)`` of each ``def`` line holding the mark in a file's bytes."""
    if _MARK not in data:
        return []
    found = []
    for number, line in enumerate(data.splitlines(), 1):
        if _MARK in line and line.lstrip().startswith(b"def "):
            found.append((number, line.split(b"(")[0].split()[-1].decode("utf-8", "replace")))
    return found


def stub_message(name: str) -> str:
    return (
        f"{name} is a stub queue2celery init wrote: write what the consumer "
        f"loop does with one item, then delete the '{STUB_MARK}' mark"
    )
