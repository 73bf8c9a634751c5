"""Measure what SIGKILLs at random moments cost: lost and duplicated tasks, per pool.

Not a test (pytest does not collect it); ``test_kill_random.py`` runs a smaller version
in CI. RELIABILITY.md quotes this script's figures:

    .venv/bin/python tests/reliability/measure_kill_random.py --pool solo --pool prefork

Default settings (``make_celery_app``'s: the leased transport, lease timeout 30 s,
visibility timeout 3,600 s); only the unacked key names are made unique, because the
Redis is shared. ``--transport stock`` runs kombu's own Redis transport instead, with a
5 s visibility timeout and a 1 s restore sweep so that its unacked messages come back
within the run: what it loses then is lost for good.
Prints one JSON line per pool, then a summary JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kills import run_kills

STOCK_OPTIONS = {
    "visibility_timeout": 5,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    "unacked_mutex_expire": 10,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", action="append", choices=["solo", "prefork"])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--task-seconds", type=float, default=0.01)
    parser.add_argument("--transport", choices=["leased", "stock"], default="leased")
    parser.add_argument("--lease-timeout", type=float, default=None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    options: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    if args.transport == "stock":
        settings["broker_transport"] = "redis"
        options.update(STOCK_OPTIONS)
    if args.lease_timeout is not None:
        options["lease_timeout"] = args.lease_timeout
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for pool in args.pool or ["solo", "prefork"]:
            run = run_kills(
                args.redis_url,
                Path(tmp),
                pool=pool,
                tasks=args.tasks,
                kills=args.kills,
                rng=rng,
                task_seconds=args.task_seconds,
                options=options,
                settings=settings,
                drain_timeout=180.0,
            )
            figures = {"transport": args.transport, **run.as_dict()}
            results.append(figures)
            print(json.dumps(figures), flush=True)
    summary = {
        "name": "kill_random",
        "transport": args.transport,
        "seed": args.seed,
        "kills": sum(r["kills"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
