"""The local outbox: messages kept in SQLite while the broker is down, sent once it is back.

A row is the exact message a publish would have pushed (same task id), so a replay is
indistinguishable from the original send. Each task runs once:

* two replayers never take the same row: rows are claimed in a ``BEGIN IMMEDIATE``
  transaction, and a claim only goes stale after ``claim_timeout`` seconds;
* a row is deleted only after Redis accepted the push;
* a message may have reached Redis although its publish timed out, and a replayer may crash
  between the push and the delete; so the push is guarded by the task's sent marker
  (``q2c:sent:<id>``, set by every publish in the same Lua script): ``SET NX`` fails for a
  task id that was pushed before, and it is not pushed again.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from ..celery_tasks.status import DEFAULT_SENT_TTL, sent_key
from ..errors import BrokerUnavailable, ConfigError
from ._publisher import Prepared

__all__ = ["DEFAULT_SPOOL_PATH", "SPOOL_ENV_VAR", "ReplayResult", "Spool"]

SPOOL_ENV_VAR = "Q2C_SPOOL_PATH"
DEFAULT_SPOOL_PATH = "./.q2c-spool.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL UNIQUE,
    task_name TEXT NOT NULL,
    queue_key TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at REAL NOT NULL,
    claimed_by TEXT,
    claimed_at REAL,
    key_prefix TEXT NOT NULL DEFAULT ''
)
"""

# KEYS[1] sent marker, KEYS[2] queue list; ARGV[1] message, ARGV[2] marker TTL.
_PUSH_ONCE = """
if redis.call('SET', KEYS[1], redis.call('TIME')[1], 'NX', 'EX', tonumber(ARGV[2])) then
    redis.call('LPUSH', KEYS[2], ARGV[1])
    return 1
end
return 0
"""


@dataclass(frozen=True)
class ReplayResult:
    """What one replay did."""

    sent: int
    already_sent: int
    remaining: int


class Spool:
    """A SQLite outbox file; safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_SPOOL_PATH) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Spooled messages carry whole payloads: readable by the owner only.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
                if "key_prefix" not in columns:
                    # A spool written before the prefix was kept: its rows had none.
                    conn.execute(
                        "ALTER TABLE outbox ADD COLUMN key_prefix TEXT NOT NULL DEFAULT ''"
                    )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the spool {str(self.path)!r}: {exc}; set {SPOOL_ENV_VAR} or "
                "spool_path= to a writable file"
            ) from exc

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Spool:
        env = os.environ if environ is None else environ
        return cls(env.get(SPOOL_ENV_VAR) or DEFAULT_SPOOL_PATH)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode; transactions are explicit (BEGIN IMMEDIATE) where they matter.
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        with closing(conn):
            yield conn

    def add(self, messages: list[Prepared]) -> None:
        """Keep messages for later; the same task id twice is kept once."""
        now = time.time()
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR IGNORE INTO outbox"
                " (task_id, task_name, queue_key, message, created_at, key_prefix)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(m.task_id, m.task_name, m.key, m.message, now, m.prefix) for m in messages],
            )
            conn.execute("COMMIT")

    def count(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def task_ids(self) -> list[str]:
        with self._connect() as conn:
            return [row[0] for row in conn.execute("SELECT task_id FROM outbox ORDER BY seq")]

    def _claim(self, claimer: str, batch: int, claim_timeout: float) -> list[tuple[Any, ...]]:
        now = time.time()
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE outbox SET claimed_by = ?, claimed_at = ? WHERE seq IN ("
                " SELECT seq FROM outbox WHERE claimed_by IS NULL OR claimed_at < ?"
                " ORDER BY seq LIMIT ?)",
                (claimer, now, now - claim_timeout, batch),
            )
            rows = conn.execute(
                "SELECT task_id, task_name, queue_key, message, key_prefix FROM outbox"
                " WHERE claimed_by = ? ORDER BY seq",
                (claimer,),
            ).fetchall()
            conn.execute("COMMIT")
        return rows

    def _finish(self, claimer: str, delete: bool) -> None:
        with self._connect() as conn:
            if delete:
                conn.execute("DELETE FROM outbox WHERE claimed_by = ?", (claimer,))
            else:
                conn.execute("UPDATE outbox SET claimed_by = NULL WHERE claimed_by = ?", (claimer,))

    def replay(
        self,
        client: redis.Redis,
        *,
        marker_ttl: int = DEFAULT_SENT_TTL,
        batch: int = 500,
        claim_timeout: float = 60.0,
        redacted_url: str = "the broker",
    ) -> ReplayResult:
        """Push every spooled message once; raises BrokerUnavailable if Redis does not answer."""
        push_once = client.register_script(_PUSH_ONCE)
        sent = already = 0
        while True:
            claimer = uuid.uuid4().hex
            rows = self._claim(claimer, batch, claim_timeout)
            if not rows:
                break
            try:
                with client.pipeline(transaction=True) as pipe:
                    for task_id, _name, queue_key, message, prefix in rows:
                        # queue_key is the full key (global_keyprefix included); the
                        # marker is the broker's, under the same prefix.
                        push_once(
                            keys=[sent_key(task_id, prefix), queue_key],
                            args=[message, marker_ttl],
                            client=pipe,
                        )
                    results = pipe.execute()
            except redis.RedisError as exc:
                self._finish(claimer, delete=False)
                raise BrokerUnavailable(
                    f"could not replay the spool {str(self.path)!r}: {redacted_url} did not "
                    f"answer ({type(exc).__name__}: {exc}); {self.count()} message(s) are kept, "
                    "run `queue2celery spool replay` again once Redis is up"
                ) from exc
            pushed = sum(1 for r in results if r == 1)
            sent += pushed
            already += len(rows) - pushed
            self._finish(claimer, delete=True)
        return ReplayResult(sent=sent, already_sent=already, remaining=self.count())
