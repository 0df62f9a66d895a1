"""The `divfit` command line (also `python -m divcore`).

Exit status: 0 success; 2 invalid input, with a one-line `error: FILE: KEY.PATH: ...`
message; 1 any other failure. No command leaves partial output files behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..scenario import ScenarioError, json_schema, load_scenario
from .progress import Progress

EXIT_INVALID = 2
EXIT_FAILURE = 1


def _cmd_check(args) -> int:
    status = 0
    for path in args.files:
        try:
            load_scenario(path)
        except ScenarioError as err:
            print(f"error: {err}", file=sys.stderr)
            status = EXIT_INVALID
    return status


def _cmd_run(args) -> int:
    from .. import pipeline

    written = pipeline.run_files(args.files, args.out, progress_factory=Progress)
    for path in written:
        print(path)
    return 0


def _cmd_schema(args) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_build(args) -> int:
    from .. import pipeline

    start = time.monotonic()
    quiet = not sys.stderr.isatty()
    report = (lambda msg: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    done, reused = pipeline.build_data(args.scenes, args.out / "data", args.out / "cache", jobs=args.jobs, report=report)
    print(f"data: {len(done)} run(s) computed, {reused} up to date, in {time.monotonic() - start:.1f}s -> {args.out / 'data'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="divfit", description="Fit q to p by a divergence, reproducibly: scenario files in, trajectories out.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="validate scenario files; prints nothing on success")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("run", help="run scenarios; writes DIR/<scenario>/<run>.npz and prints the paths")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--out", type=Path, default=Path("build/data"), metavar="DIR", help="output folder (default build/data)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("build", help="the whole pipeline (what `make site` calls)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N", help="parallel workers (default: the number of cores)")
    p.add_argument("--quality", choices=("low", "medium", "high"), default="medium", help="video quality preset")
    p.add_argument("--scenes", type=Path, default=Path("scenes"), metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=Path("build"), metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_build)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("error: interrupted; no output was written", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 -- the contract is one line, not a traceback
        if os.environ.get("DIVFIT_DEBUG"):
            raise
        print(f"error: {type(err).__name__}: {err} (set DIVFIT_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_FAILURE
