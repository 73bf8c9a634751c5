"""Result objects of scan, rewrite and check (the library returns these; only the CLI prints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._periodic_model import PeriodicJob
from ._risks import Risk

__all__ = [
    "CHECK_CODES",
    "Candidate",
    "CheckResult",
    "FileChange",
    "FileError",
    "Finding",
    "HandlerSite",
    "PeriodicJob",
    "RewriteResult",
    "ScanResult",
    "Site",
]

KINDS = (
    "queue_put",
    "background_task",
    "manager_add_task",
    "manager_enqueue",
    "create_task",
    "thread_start",
    "executor_submit",
)

#: ``check`` codes: one per kind of legacy site, Q2C003 for a likely site scan could not
#: resolve (a candidate), and Q2C900 for a file that does not parse.
CHECK_CODES = {
    "queue_put": "Q2C001",
    "background_task": "Q2C002",
    "candidate": "Q2C003",
    "manager_add_task": "Q2C004",
    "manager_enqueue": "Q2C004",
    "create_task": "Q2C005",
    "thread_start": "Q2C006",
    "executor_submit": "Q2C007",
    "parse_error": "Q2C900",
    "init_stub": "Q2C901",
}


@dataclass(frozen=True)
class Site:
    """A legacy enqueue call. ``queue`` is the mapping key: the queue or manager object for
    ``queue_put``/``manager_add_task``, the function handed over for ``background_task``.
    ``target`` is the mapped Celery task, None when unmapped."""

    path: str
    line: int
    col: int
    kind: str
    queue: str | None
    target: str | None
    risks: tuple[Risk, ...] = ()
    via: str | None = None  # manager_enqueue: "method <cls.m>" or "wrapper <f>"
    function: str | None = None  # create_task/thread_start/executor_submit: what runs
    captures: tuple[str, ...] = ()  # that function is a closure over these names

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "kind": self.kind,
            "queue": self.queue,
            "target": self.target,
            "risks": [{"code": r.code, "message": r.message} for r in self.risks],
        }
        if self.via is not None:
            out["via"] = self.via
        if self.function is not None:
            out["function"] = self.function
            out["captures"] = list(self.captures)
        return out


@dataclass(frozen=True)
class Candidate:
    """A call that looks like a legacy site but whose receiver scan could not resolve."""

    path: str
    line: int
    col: int
    method: str
    receiver: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "method": self.method,
            "receiver": self.receiver,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class HandlerSite:
    """A function registered on a legacy queue or task manager (``@q.handler``,
    ``q.add_handler``, ``m.register_handler``). ``queue`` is the queue or manager object,
    ``name`` the handler (task) name, ``function`` the registered function's fully qualified
    name (None when it is not a named function); retries are None unless given as literals.
    ``risks`` name the module-level state it shares with the process that enqueues."""

    path: str
    line: int
    col: int
    queue: str
    name: str | None
    function: str | None
    max_retries: int | float | None = None
    retry_delay: int | float | None = None
    risks: tuple[Risk, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "queue": self.queue,
            "name": self.name,
            "function": self.function,
            "max_retries": self.max_retries,
            "retry_delay": self.retry_delay,
            "risks": [{"code": r.code, "message": r.message} for r in self.risks],
        }


@dataclass(frozen=True)
class FileError:
    """A file that could not be read or parsed (it is skipped, the others proceed)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class ScanResult:
    """What ``scan`` found under one root. ``files_scanned``: every Python file looked at;
    ``files_parsed``: those analysed in depth with libcst (the others could not hold a site
    or a handler, by the text and ``ast`` filters); ``errors``: files that could not be
    read or parsed."""

    files_scanned: int
    files_parsed: int
    sites: tuple[Site, ...]
    errors: tuple[FileError, ...]
    handlers: tuple[HandlerSite, ...] = ()
    periodic: tuple[PeriodicJob, ...] = ()  # periodic work (loops, schedule, APScheduler)
    candidates: tuple[Candidate, ...] = ()

    @property
    def files_skipped(self) -> int:
        """Files the text filters showed cannot hold a site (never parsed)."""
        return self.files_scanned - self.files_parsed - len(self.errors)

    @property
    def ok(self) -> bool:
        """Every file was read and parsed (``scan`` exits 1 otherwise)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The ``scan --json`` document (docs/json.md)."""
        return {
            "files_scanned": self.files_scanned,
            "sites": [s.to_dict() for s in self.sites],
            "errors": [e.to_dict() for e in self.errors],
            "handlers": [h.to_dict() for h in self.handlers],
            "periodic": [p.to_dict() for p in self.periodic],
            "candidates": [c.to_dict() for c in self.candidates],
            "files_parsed": self.files_parsed,
        }

    def unmapped(self, kind: str) -> list[str]:
        """Mapping keys of the unmapped sites of ``kind``, sorted, each once (not closures,
        which cannot be mapped, nor work that must stay on this host)."""
        return sorted(
            {
                s.queue
                for s in self.sites
                if s.kind == kind
                and s.target is None
                and s.queue
                and "<locals>" not in s.queue
                and not any(r.code in ("host-bound", "sentinel") for r in s.risks)
            }
        )


@dataclass(frozen=True)
class FileChange:
    """One file rewrite changed (or would change, with ``--diff``)."""

    path: str
    diff: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RewriteResult:
    """What ``rewrite`` did: changed files (written unless ``dry_run``), errors, warnings."""

    files_scanned: int
    changes: tuple[FileChange, ...]
    errors: tuple[FileError, ...]
    warnings: tuple[tuple[str, str], ...]  # (path, message) for sites left unchanged
    dry_run: bool

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Finding:
    """One ``check`` line: ``path:line:col: Q2Cnnn message``."""

    path: str
    line: int
    col: int
    code: str
    message: str
    warning: bool = False  # said, but check does not fail on it

    def __str__(self) -> str:
        label = "warning: " if self.warning else ""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {label}{self.message}"


@dataclass(frozen=True)
class CheckResult:
    """Remaining legacy sites (and unparseable files) as check findings; ``warnings``: legacy
    puts rewrite keeps on purpose (a consumer's re-queue, a startup reload), which do not fail."""

    files_scanned: int
    findings: tuple[Finding, ...]
    warnings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings
