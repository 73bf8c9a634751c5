"""Benchmark: what periodic detection adds to ``scan``: the same scan with and without it,
over the test virtualenv's site-packages, in one run (each in a fresh process). Prints the
figures, the ratio, and a JSON object as its last line.

    python bench/bench_periodic_scan.py            # the whole site-packages
    python bench/bench_periodic_scan.py -j 1       # one process
    python bench/bench_periodic_scan.py --quick    # kombu and billiard only
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path


def _measure(path: str, periodic: bool, jobs: int) -> dict[str, object]:
    from queue2celery.migrate import MigrateConfig, scan

    if not periodic:
        module = importlib.import_module("queue2celery.migrate.scan")
        module.find_periodic = lambda *args, **kwargs: ([], [])  # type: ignore[attr-defined]
    start = time.perf_counter()
    result = scan(Path(path), MigrateConfig(), jobs=jobs)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "periodic": periodic,
        "seconds": time.perf_counter() - start,
        # CPU seconds of this process and its workers: steadier than wall time on a busy box
        "cpu_seconds": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        "files": result.files_scanned,
        "jobs_found": len(result.periodic),
        "sites": len(result.sites),
    }


def _quick_tree(site: Path, into: Path) -> str:
    for name in ("kombu", "billiard"):
        if (site / name).is_dir():
            shutil.copytree(site / name, into / "tree" / name)
    return str(into / "tree")


def _child(path: str, periodic: bool, jobs: int) -> dict[str, object]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "1" if periodic else "0",
            "--path",
            path,
            "-j",
            str(jobs),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default=sysconfig.get_paths()["purelib"])
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--child", choices=["0", "1"])
    parser.add_argument("--quick", action="store_true", help="kombu and billiard only")
    args = parser.parse_args()
    if args.quick and args.child is None:
        args.path = _quick_tree(Path(args.path), Path(tempfile.mkdtemp(prefix="q2c-bench-")))
    if args.child is not None:
        print(json.dumps(_measure(args.path, args.child == "1", args.jobs)))
        return
    without = _child(args.path, False, args.jobs)
    with_periodic = _child(args.path, True, args.jobs)
    assert without["sites"] == with_periodic["sites"], "periodic detection changed the sites"
    ratio = float(with_periodic["seconds"]) / float(without["seconds"])  # type: ignore[arg-type]
    cpu = float(with_periodic["cpu_seconds"]) / float(without["cpu_seconds"])  # type: ignore[arg-type]
    print(f"files: {with_periodic['files']}, jobs: {args.jobs}")
    print(f"scan without periodic detection: {without['seconds']:.2f} s")
    print(
        f"scan with periodic detection:    {with_periodic['seconds']:.2f} s "
        f"({with_periodic['jobs_found']} periodic jobs)"
    )
    print(f"CPU: {without['cpu_seconds']:.2f} s without, {with_periodic['cpu_seconds']:.2f} s with")
    print(f"ratio: {ratio:.2f}x wall, {cpu:.2f}x CPU")
    print(
        json.dumps(
            {
                "name": "periodic_scan",
                "without": without,
                "with": with_periodic,
                "ratio": ratio,
                "cpu": cpu,
            }
        )
    )
    if args.quick:
        shutil.rmtree(Path(args.path).parent, ignore_errors=True)


if __name__ == "__main__":
    main()
