"""The names periodic detection recognises: endpoints, thread and task starts, control
methods, and calls that do I/O."""

from __future__ import annotations

ROUTE_METHODS = frozenset(
    {
        "get",
        "post",
        "put",
        "delete",
        "patch",
        "websocket",
        "api_route",
        "route",
        "websocket_route",
        "head",
        "options",
    }
)
# Calls that start a coroutine (its call is the first argument) or a callable (first
# argument, then its arguments; run_in_executor takes the executor first).
CORO_STARTS = frozenset({"create_task", "ensure_future", "run_coroutine_threadsafe", "gather"})
CALLABLE_STARTS = {
    "start_soon": 0,
    "submit": 0,
    "run_in_executor": 1,
    "to_thread": 0,
    "add_task": 0,
    "spawn": 0,
    "start_new_thread": 0,
}
CONTROL = frozenset(
    {
        "start",
        "start_in_background",
        "shutdown",
        "pause",
        "resume",
        "pause_job",
        "resume_job",
        "remove_job",
        "reschedule_job",
        "modify_job",
        "remove_all_jobs",
        "cancel_job",
        "clear",
        "stop",
        "cancel",
        "set",
        "add_job",
        "add_schedule",
        "remove_schedule",
    }
)
IO_PREFIXES = (
    "requests.",
    "httpx.",
    "aiohttp.",
    "urllib.",
    "smtplib.",
    "subprocess.",
    "boto3.",
    "socket.",
    "shutil.",
    "sqlite3.",
    "psycopg",
    "pymysql",
    "redis.",
    "builtins.open",
    "os.remove",
    "os.unlink",
    "os.scandir",
    "os.listdir",
    "glob.",
)
IO_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "commit",
        "query",
        "fetch",
        "fetchall",
        "fetchone",
        "request",
        "sendmail",
        "send_message",
        "urlopen",
        "scalars",
        "upload_file",
        "download_file",
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "unlink",
        "rmtree",
        "iterdir",
        "delete_many",
        "update_many",
        "insert_one",
        "insert_many",
        "find",
        "bulk_write",
        "scan_iter",
        "post",
        "head",
        "flush",
        "refresh",
        "merge",
        "delete",
    }
)
SCHEDULERS = ("apscheduler.",)
