"""The build's scheduler on a plan of stand-in jobs: each job starts only after
the jobs it needs, the one holding the most work back first; a failure names
its job and runs nothing that needs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from divcore import pipeline
from divcore.errors import BuildError
from divcore.executors import Task


def _plan(tmp_path: Path, log: list, fail: str | None = None) -> pipeline.Plan:
    P = pipeline.Plan(tmp_path / "data", tmp_path / "media", tmp_path / "cache", tmp_path / "site")

    def job(stage, label, weight=1.0, needs=()):
        def make():
            if label == fail:
                raise RuntimeError("boom")
            log.append(f"{stage}:{label}")

        j = pipeline.Job(stage, label, "k", tmp_path / "keys" / f"{label}.key", [], (Task(make, ()),), weight,
                         tuple(needs))
        P.stages[stage].append(j)
        return j

    a1, a2 = job("data", "a/run"), job("data", "a/basins", weight=1e9)
    b1 = job("data", "b/run")
    video_b = job("video", "b", needs=[b1])
    figures_a = job("figures", "a", needs=[a1, a2])
    figures_b = job("figures", "b", needs=[b1])
    job("site", "site", needs=[a1, a2, b1, video_b, figures_a, figures_b])
    return P


def test_every_job_runs_after_what_it_needs_and_the_longest_chain_first(tmp_path):
    log: list[str] = []
    P = _plan(tmp_path, log)
    rep = pipeline.execute(P, jobs=1)
    name = lambda j: f"{j.stage}:{j.label}"  # noqa: E731
    assert sorted(log) == sorted(name(j) for s in pipeline.STAGES for j in P.stages[s])
    done = {label: i for i, label in enumerate(log)}
    for stage in pipeline.STAGES:
        for j in P.stages[stage]:
            assert all(done[name(n)] < done[name(j)] for n in j.needs), name(j)
    # b's data has a video behind it (the heaviest stage), so it goes before a's
    assert done["data:b/run"] < done["data:a/run"]
    assert log[-1] == "site:site" and rep.built["data"] == 3 and rep.critical[-1][:2] == ("site", "site")
    assert set(json.loads((P.cache_dir / "timings.json").read_text())) == {f"{j.stage}:{j.label}"
                                                                         for s in P.stages.values() for j in s}


def test_a_second_run_does_only_what_is_stale(tmp_path):
    log: list[str] = []
    pipeline.execute(_plan(tmp_path, log), jobs=1)
    log.clear()
    rep = pipeline.execute(_plan(tmp_path, log), jobs=1)
    assert log == [] and sum(rep.built.values()) == 0 and rep.critical == []


def test_a_failure_names_its_job_and_runs_nothing_that_needs_it(tmp_path):
    log: list[str] = []
    with pytest.raises(BuildError, match="^data of b/run failed: RuntimeError: boom$"):
        pipeline.execute(_plan(tmp_path, log, fail="b/run"), jobs=1)
    assert "video:b" not in log and "figures:b" not in log and "site:site" not in log


def _die():
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _nap():
    import time

    time.sleep(2.0)


def test_a_worker_that_dies_is_named_with_every_job_it_may_have_been_running(tmp_path):
    """A killed worker (out of memory, a crash in C) fails every task in flight
    at once: the error names them all, where it named whichever failed first."""
    P = pipeline.Plan(tmp_path / "data", tmp_path / "media", tmp_path / "cache", tmp_path / "site")
    for stage, label, fn in (("figures", "calm", _nap), ("video", "doomed", _die)):
        P.stages[stage].append(pipeline.Job(stage, label, "k", tmp_path / f"{label}.key", [], (Task(fn, ()),)))
    with pytest.raises(BuildError, match=r"^a worker process died .* while running figures of calm, video of doomed$"):
        pipeline.execute(P, jobs=2)
