"""Benchmark: ``scan`` (text pre-filter + ast analysis + processes) against the obvious
baselines, over the test virtualenv's site-packages, in one run: libcst parsing every file in
one process (parse only), and scan without its pre-filter (every file analysed, same
detection; its findings must equal scan's). Prints the raw figures, the ratios, peak memory,
and a JSON object as its last line.

    python bench/bench_scan.py            # the whole site-packages
    python bench/bench_scan.py --quick    # a few packages copied to a temp dir
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

QUICK_PACKAGES = ("kombu", "billiard")


def _parse_only(path: str) -> dict[str, object]:
    """The obvious baseline: libcst parses every file, one process, nothing else."""
    import libcst as cst

    from queue2celery.migrate import collect_files

    start = time.perf_counter()
    parsed = errors = 0
    files = collect_files(Path(path))
    for f in files:
        try:
            data = f.path.read_bytes().removeprefix(b"\xef\xbb\xbf")
            if _too_deep(data):
                errors += 1
                continue
            cst.parse_module(data)
            parsed += 1
        except Exception:
            errors += 1
    return {
        "mode": "parse",
        "seconds": time.perf_counter() - start,
        "files": len(files),
        "parsed": parsed,
        "errors": errors,
        "sites": [],
        "handlers": [],
        "candidates": [],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _too_deep(data: bytes) -> bool:
    from queue2celery.migrate._files import too_deeply_nested

    return too_deeply_nested(data) is not None


def _measure(path: str, mode: str, jobs: int) -> dict[str, object]:
    """One mode, in this (fresh) process: time, findings and peak memory."""
    from queue2celery.migrate import MigrateConfig, scan

    if mode == "parse":
        return _parse_only(path)

    start = time.perf_counter()
    result = scan(Path(path), MigrateConfig(), jobs=jobs, prefilter=(mode == "scan"))
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "mode": mode,
        "seconds": seconds,
        "files": result.files_scanned,
        "parsed": result.files_parsed,
        "errors": len(result.errors),
        "sites": [s.to_dict() for s in result.sites],
        "handlers": [h.to_dict() for h in result.handlers],
        "candidates": [c.to_dict() for c in result.candidates],
        # ru_maxrss is in KiB on Linux: the largest of this process and of any one worker.
        "peak_rss_mib": max(own, children) / 1024,
    }


def _run_mode(path: Path, mode: str, jobs: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--path", str(path), "-j", str(jobs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _quick_tree(site: Path, into: Path) -> Path:
    for name in QUICK_PACKAGES:
        if (site / name).is_dir():
            shutil.copytree(site / name, into / name, ignore=shutil.ignore_patterns("__pycache__"))
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few packages, not all")
    parser.add_argument("--path", default=None, help="tree to scan (default: site-packages)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--skip-full",
        action="store_true",
        help="leave out the analyse-every-file mode (no pre-filter)",
    )
    parser.add_argument("--child", choices=("scan", "full", "parse"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    site = Path(args.path or sysconfig.get_paths()["purelib"])
    if args.child:
        print(json.dumps(_measure(str(site), args.child, args.jobs)))
        return 0
    with tempfile.TemporaryDirectory(prefix="q2c-bench-") as tmp:
        tree = _quick_tree(site, Path(tmp)) if args.quick else site
        fast = _run_mode(tree, "scan", args.jobs)
        parse = _run_mode(tree, "parse", 1)
        slow = parse if args.skip_full else _run_mode(tree, "full", args.jobs)
    if not args.skip_full:
        assert fast["sites"] == slow["sites"], "scan and parse-every-file found different sites"
        assert fast["handlers"] == slow["handlers"], "scan and parse-every-file differ on handlers"
        assert fast["candidates"] == slow["candidates"], "the two modes differ on candidates"
    ratio = float(slow["seconds"]) / float(fast["seconds"])  # type: ignore[arg-type]
    parse_ratio = float(parse["seconds"]) / float(fast["seconds"])  # type: ignore[arg-type]
    print(f"tree: {tree if not args.quick else 'quick subset of ' + str(site)}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, -j {args.jobs}")
    for row in (fast, parse) if args.skip_full else (fast, slow, parse):
        print(
            f"{row['mode']:>4}: {row['seconds']:8.2f} s  files {row['files']}  "
            f"parsed {row['parsed']}  errors {row['errors']}  sites {len(row['sites'])}  "  # type: ignore[arg-type]
            f"peak RSS {row['peak_rss_mib']:.0f} MiB"
        )
    print(f"ratio (libcst parse of every file, one process / scan): {parse_ratio:.1f}x")
    if not args.skip_full:
        print(f"ratio (parse-every-file with detection / scan): {ratio:.1f}x, same findings")
    summary = {
        "name": "scan",
        "ratio": round(ratio, 2),
        "parse_only_ratio": round(parse_ratio, 2),
        "parse_only_seconds": round(float(parse["seconds"]), 3),  # type: ignore[arg-type]
        "candidates": len(fast["candidates"]),  # type: ignore[arg-type]
        "scan_seconds": round(float(fast["seconds"]), 3),  # type: ignore[arg-type]
        "full_seconds": round(float(slow["seconds"]), 3),  # type: ignore[arg-type]
        "files": fast["files"],
        "parsed_by_scan": fast["parsed"],
        "parsed_by_full": slow["parsed"],
        "sites": len(fast["sites"]),  # type: ignore[arg-type]
        "handlers": len(fast["handlers"]),  # type: ignore[arg-type]
        "scan_peak_rss_mib": round(float(fast["peak_rss_mib"]), 1),  # type: ignore[arg-type]
        "full_peak_rss_mib": round(float(slow["peak_rss_mib"]), 1),  # type: ignore[arg-type]
        "jobs": args.jobs,
        "quick": args.quick,
        "python": sys.version.split()[0],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
