"""Scenario files -> runner -> trajectory files: the data stage of the build.

`run_files` is what `divfit run` does: validate every file first, then run
them all, writing each record only when every run succeeded. `build_data` is
the data stage of `divfit build`: every scenario in a folder, skipping a run
whose record is up to date (same resolved configuration, same code).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import runner, trajectory
from .scenario import RunConfig, Scenario, load_scenario

PACKAGE = Path(__file__).resolve().parent
# The modules a trajectory record depends on; editing any of them invalidates every record.
_RECORD_CODE = ["core", "runner.py", "trajectory.py"]


def load_all(paths: Iterable[Path]) -> list[Scenario]:
    """Parse every file first, so one bad file means nothing runs."""
    return [load_scenario(p) for p in paths]


def record_path(out_dir: Path, scenario: Scenario, run: RunConfig) -> Path:
    return Path(out_dir) / scenario.name / f"{run.name}.npz"


def run_one(scenario: Scenario, run: RunConfig, progress: Callable | None = None):
    record = runner.run(scenario.target, run, progress)
    return record, scenario.run_dict(run)


def run_files(paths: Iterable[Path], out_dir: Path, progress_factory=None) -> list[Path]:
    scenarios = load_all(paths)
    written = []
    with trajectory.Staged() as staged:
        for scn in scenarios:
            for run in scn.runs:
                bar = progress_factory(f"{scn.name}/{run.name}", run.steps) if progress_factory else None
                record, config = run_one(scn, run, bar)
                written.append(staged.save(record_path(out_dir, scn, run), record, config))
    return written


def code_hash() -> str:
    h = hashlib.sha256(np.__version__.encode())
    for name in _RECORD_CODE:
        root = PACKAGE / name
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def record_key(scenario: Scenario, run: RunConfig, code: str) -> str:
    return hashlib.sha256((code + trajectory.config_json(scenario.run_dict(run))).encode()).hexdigest()


def _key_path(cache_dir: Path, scenario: Scenario, run: RunConfig) -> Path:
    return Path(cache_dir) / "data" / scenario.name / f"{run.name}.key"


def _build_one(job):
    scenario, run, path, key_path, key = job
    record, config = run_one(scenario, run)
    trajectory.save(path, record, config)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_path.with_suffix(".key.tmp")
    tmp.write_text(key)
    os.replace(tmp, key_path)
    return path


def build_data(scenes_dir: Path, out_dir: Path, cache_dir: Path, jobs: int = 1, report=print):
    """Run every scenario in `scenes_dir` whose record is missing or stale."""
    paths = sorted(Path(scenes_dir).glob("*.toml"))
    scenarios = load_all(paths)
    code = code_hash()
    todo, reused = [], 0
    for scn in scenarios:
        for run in scn.runs:
            path, key_path = record_path(out_dir, scn, run), _key_path(cache_dir, scn, run)
            key = record_key(scn, run, code)
            if path.exists() and key_path.exists() and key_path.read_text() == key:
                reused += 1
            else:
                todo.append((scn, run, path, key_path, key))
    # biggest runs first so the pool is not left waiting on one straggler
    todo.sort(key=lambda j: -j[1].batch_size * j[1].steps * max(j[1].samples, 1))
    done = []
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for path in pool.map(_build_one, todo):
                done.append(path)
                report(f"wrote {path}")
    else:
        for job in todo:
            done.append(_build_one(job))
            report(f"wrote {done[-1]}")
    return done, reused
