"""Builds on a real Dask cluster (a LocalCluster of two worker processes,
started here): the same bytes as a local build, a worker killed in the middle
of a task survived, an unreachable scheduler refused in one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from divcore import pipeline  # noqa: E402
from divcore.cli import main  # noqa: E402
from divcore.executors import Dask  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

LINE = """
title = "Basins on the line"
description = "Where reverse KL's runs end, and how noisy the estimators are at one q."
[target]
components = [{ mean = -2.5, std = 0.6, weight = 0.5 }, { mean = 2.0, std = 0.9, weight = 0.5 }]
[fit]
start = { mean = 0.3, std = 1.5 }
lr = 0.05
steps = 40
[basins]
size = 24
steps = 120
[diagnostics]
q = { mean = 0.5, std = 1.2 }
samples = [2, 8]
repeats = 300
[media]
video_seconds = 2
[[runs]]
name = "exact"
divergence = "kl"
direction = "reverse"
[[runs]]
name = "reinforce"
divergence = "kl"
direction = "reverse"
estimator = "reinforce"
samples = 8
repeat = 5
"""

ALPHA = """
title = "Alpha"
description = "An alpha-divergence, and its optima over a grid of alpha."
[target]
components = [{ mean = -2.0, std = 0.8, weight = 0.5 }, { mean = 2.0, std = 0.8, weight = 0.5 }]
[fit]
start = { mean = 0.5, std = 1.0 }
lr = 0.05
steps = 30
[media]
video_seconds = 2
[[runs]]
name = "half"
divergence = "alpha"
alpha = 0.5
direction = "reverse"
"""


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as c:
        yield c


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    (root / "scenes").mkdir()
    (root / "scenes/line.toml").write_text(LINE)
    (root / "scenes/alpha.toml").write_text(ALPHA)
    (root / "content").mkdir()
    (root / "content/index.md").write_text("Two small scenes.\n")
    (root / "content/article.md").write_text("# Small\n\n::: scrubber line\n\n::: figure alpha\n")
    return root


def _args(root: Path, out: Path, *more: str) -> list[str]:
    return ["build", "--scenes", str(root / "scenes"), "--out", str(out), "--jobs", "2", "--quality", "low",
            "--content", str(root / "content"), *more]


def tree(folder: Path) -> dict:
    """Every output's bytes (the cache's timings and keys aside: they are the build's notes, not its outputs)."""
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and "cache" not in p.relative_to(folder).parts and p.name != ".lock"}


# the pages and what they show, without the videos and the gallery (drawn on the
# client whatever the executor, and the slowest to draw)
STAGES = ("data", "figures", "gif", "assets", "site")


def _build(project: Path, out: Path, executor=None, scenes=None, stages=STAGES):
    scenes = scenes or sorted((project / "scenes").glob("*.toml"))
    return pipeline.build(scenes, out, jobs=2, stages=stages, quality="low", content=project / "content",
                          executor=executor)


@pytest.fixture(scope="module")
def local_out(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "build"
    _build(project, out)
    return out


@pytest.fixture(scope="module")
def local_build(local_out):
    return tree(local_out)


def test_a_build_on_dask_writes_the_bytes_of_the_local_build(project, cluster, local_build, tmp_path):
    out = tmp_path / "build"
    _build(project, out, Dask(cluster.scheduler_address))
    got = tree(out)
    assert set(got) == set(local_build)
    assert [str(p) for p in got if got[p] != local_build[p]] == []
    assert any(p.name == "basins-reinforce.npz" for p in got) and (out / "site/index.html").is_file()


@pytest.fixture
def impatient(monkeypatch):
    """Give up on a scheduler after 2 s rather than 10: nothing listens there."""
    from divcore import executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 2.0)


def test_the_scheduler_can_come_from_the_environment(project, tmp_path, monkeypatch, capsys, impatient):
    out = tmp_path / "build"
    with socket_closed() as address:
        monkeypatch.setenv("DIVFIT_SCHEDULER", address)
        assert main(_args(project, out, "--executor", "dask")) == 1
    assert f"cannot reach the Dask scheduler at {address}" in capsys.readouterr().err
    monkeypatch.delenv("DIVFIT_SCHEDULER")
    assert main(_args(project, out, "--executor", "dask")) == 1
    assert "--executor dask needs --scheduler ADDRESS (or DIVFIT_SCHEDULER)" in capsys.readouterr().err
    assert not out.exists()


def test_an_unreachable_scheduler_is_one_line_and_writes_nothing(project, tmp_path, capsys, impatient):
    out = tmp_path / "build"
    with socket_closed() as address:
        assert main(_args(project, out, "--executor", "dask", "--scheduler", address)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: cannot reach the Dask scheduler at {address}: ")
    assert not out.exists()
    assert main(_args(project, out, "--executor", "dask", "--scheduler", "no-port-here")) == 1
    assert "no-port-here" in capsys.readouterr().err and not out.exists()


class socket_closed:
    """An address on this machine where nothing listens."""

    def __enter__(self) -> str:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return f"tcp://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        pass


def test_a_worker_killed_mid_task_is_survived_with_the_same_bytes(project, cluster, local_build, tmp_path):
    out = tmp_path / "build"
    executor = Dask(cluster.scheduler_address)
    watcher = distributed.Client(cluster.scheduler_address, set_as_default=False)
    pids = watcher.run(os.getpid)  # worker address -> its process
    killed: list[str] = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [w for w, tasks in watcher.processing().items() if any("timed" in t for t in tasks)]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.01)

    thread = threading.Thread(target=kill_a_busy_worker)
    thread.start()
    try:
        _build(project, out, executor, scenes=[project / "scenes/line.toml"], stages=("data",))
    finally:
        thread.join()
        watcher.close()
    assert killed, "no task was seen running on a worker"
    data = {p: b for p, b in local_build.items() if p.parts[:2] == ("data", "line")}
    assert tree(out) == data


def test_ctrl_c_cancels_the_clusters_tasks_and_leaves_the_site_whole(project, cluster, local_out, tmp_path):
    shutil.copytree(project, tmp_path / "project")
    shutil.copytree(local_out, tmp_path / "build")
    before = tree(tmp_path / "build/site")
    scene = tmp_path / "project/scenes/line.toml"
    scene.write_text(scene.read_text().replace("[basins]\nsize = 24\nsteps = 120", "[basins]\nsize = 40\nsteps = 3000"))
    assert "size = 40" in scene.read_text()  # long enough to be interrupted
    watcher = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        # the command a user types, interrupted while the cluster works
        proc = subprocess.Popen([sys.executable, "-m", "divcore", *_args(tmp_path / "project", tmp_path / "build",
                                 "--executor", "dask", "--scheduler", cluster.scheduler_address)],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not any(watcher.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(watcher.processing().values()), "no task reached the cluster"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130 and err.startswith("error: interrupted"), err
        tasks = lambda: watcher.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))  # noqa: E731
        deadline = time.monotonic() + 30
        while tasks() and time.monotonic() < deadline:  # the build's, cancelled or released with its client
            time.sleep(0.1)
        assert tasks() == 0
    finally:
        watcher.close()
    assert tree(tmp_path / "build/site") == before
