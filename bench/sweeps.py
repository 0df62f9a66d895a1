"""`make bench`: a basin map spread over Dask workers, and its memory.

Times one basin map of the basins scene (41 x 41 starts, 2,000 steps) run
block by block in this process and on a LocalCluster of one and of two worker
processes (started here), and prints the ratios; checks the three give the
same bytes. Then the peak memory (tracemalloc, which sees numpy's arrays) of
the same map recorded whole, every start's every state, as basin maps were
before, against the tail-only blocks they are made of now.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time
import tracemalloc
from pathlib import Path

import numpy as np

from divcore import runner, trajectory
from divcore.core import basins
from divcore.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "basins.toml"
RUN = "reverse-reinforce-64"


def digest(record: dict) -> str:
    buf = io.BytesIO()
    trajectory.to_bytes_file(record, buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()[:12]


def on_cluster(workers: int, target, run, spec) -> tuple[float, str]:
    """Through the client `divfit build --executor dask` makes (its worker set-up included)."""
    from distributed import LocalCluster

    from divcore.executors import Dask

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster:
        executor = Dask(cluster.scheduler_address)
        client = executor.client
        client.run(lambda: runner.basin_block(target, run, dataclasses.replace(spec, size=3, steps=3), slice(0, 9)))
        start = time.perf_counter()  # the workers are up and have imported divcore
        futures = [client.submit(runner.basin_block, target, run, spec, sl, pure=False)
                   for sl in runner.basin_blocks(run, spec)]
        record = runner.basin_join(target, run, spec, client.gather(futures))
        seconds = time.perf_counter() - start
        executor.close()
        return seconds, digest(record)


def peak(fn) -> tuple[float, object]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 1024**2, out


def main() -> None:
    scn = load_scenario(SCENE)
    run, spec = scn.run_named(RUN), scn.basins
    n = spec.size**2
    blocks = len(runner.basin_blocks(run, spec))
    print(f"basin map: {scn.name}/{RUN}, {spec.size} x {spec.size} starts x {spec.steps} steps, "
          f"{blocks} blocks of {basins.BLOCK} starts")
    start = time.perf_counter()
    here = digest(runner.basin_map(scn.target, run, spec))
    alone = time.perf_counter() - start
    one, d1 = on_cluster(1, scn.target, run, spec)
    two, d2 = on_cluster(2, scn.target, run, spec)
    same = "same bytes" if here == d1 == d2 else f"DIFFERENT bytes: {here} {d1} {d2}"
    print(f"  in this process        {alone:7.1f} s")
    print(f"  LocalCluster, 1 worker {one:7.1f} s  ({one / alone:.2f}x this process: Dask's overhead)")
    print(f"  LocalCluster, 2 workers{two:7.1f} s  ({one / two:.2f}x faster than 1 worker; {same})")

    small = dataclasses.replace(scn.run_named("reverse-reinforce-4"))
    p = runner.mixture(scn.target)
    grid = runner.basin_config(small, spec)
    seeds = small.seed + np.arange(n, dtype=np.int64)
    before, _ = peak(lambda: runner.simulate(p, grid, seeds=seeds))
    after, _ = peak(lambda: runner.basin_map(scn.target, small, spec))
    print(f"peak memory of {scn.name}/reverse-reinforce-4's map (tracemalloc): every state recorded "
          f"{before:.0f} MiB, tail-only blocks {after:.1f} MiB ({before / after:.0f}x less)")
    per_task = basins.task_bytes(spec.steps, 1) / 1024**2
    print(f"  the guard's estimate of one task's memory: {per_task:.1f} MiB; "
          f"at 201 x 201 the map held whole would need {201**2 * (spec.steps + 1) * 7 * 8 / 1024**3:.1f} GiB")


if __name__ == "__main__":
    main()
