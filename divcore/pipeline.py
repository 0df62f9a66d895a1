"""Scenario files -> runner -> trajectory files -> renderers: the build.

Every output is a `Job` keyed by a hash of exactly what it depends on (the
resolved configuration, the code that makes it, the style); a job whose key
matches the one stored beside the last build is skipped. Jobs of a stage are
independent and run in a process pool. `run_files` is `divfit run`: no cache,
and nothing written unless every run succeeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import runner, trajectory
from .errors import BuildError
from .scenario import RunConfig, Scenario, load_scenario
from .scenario.fields import EXACT_SAMPLE_COST

PACKAGE = Path(__file__).resolve().parent
# The modules each kind of output depends on; editing one invalidates those outputs.
_CODE = {
    "data": ["core", "runner.py", "trajectory.py"],
    "media": ["core", "render", "style", "trajectory.py", "pipeline.py"],  # pipeline.py: figure titles
    "video": ["core", "render", "style", "video", "trajectory.py"],
    "assets": ["core", "render", "style", "site/payload.py", "site/assets.py", "trajectory.py", "atomic.py"],
    "site": ["site", "atomic.py", "../site"],
}
# videos are the heaviest outputs, so they start as soon as the data is there
STAGES = ("data", "video", "figures", "gif", "gallery", "assets", "site")
_SOURCE_SUFFIXES = {".py", ".json", ".mplstyle", ".html", ".css", ".js", ".md"}


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


def code_hash(kind: str) -> str:
    import matplotlib
    import scipy

    versions = f"numpy {np.__version__} scipy {scipy.__version__} matplotlib {matplotlib.__version__}"
    h = hashlib.sha256(versions.encode())
    for name in _CODE[kind]:
        root = (PACKAGE / name).resolve()
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _SOURCE_SUFFIXES) \
            if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(PACKAGE.parent)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


# ---------------------------------------------------------------- jobs


@dataclass
class Job:
    stage: str
    label: str  # e.g. "forward-reverse-kl/reverse"
    key: str
    key_path: Path
    outputs: list[Path]
    fn: Callable  # a module-level function, so it can run in a worker process
    args: tuple
    weight: float = 1.0  # expected cost, to start the heavy ones first
    seconds: float = field(default=0.0, compare=False)

    def up_to_date(self) -> bool:
        return (
            self.key_path.exists()
            and self.key_path.read_text() == self.key
            and all(p.exists() for p in self.outputs)
        )


def _write_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(key)
    os.replace(tmp, path)


def _execute(job: Job) -> float:
    start = time.monotonic()
    job.fn(*job.args)
    _write_key(job.key_path, job.key)  # only after every output is in place
    return time.monotonic() - start


def _make_record(scn: Scenario, run: RunConfig, path: Path) -> None:
    record, config = run_one(scn, run)
    trajectory.save(path, record, config)


def _make_figures(scn: Scenario, paths: list[Path], out_dir: Path, sweep: Path | None = None,
                  diag: Path | None = None, basins: tuple[Path, ...] = ()) -> None:
    from .render import figures
    from .render.view import RunView

    views = [RunView.load(p) for p in paths]
    figures.save(figures.summary(scn.title, views), out_dir / "summary")
    figures.save(figures.small_multiples(scn.title, views, scn.media.snapshots), out_dir / "snapshots")
    if sweep is not None:
        title = rf"{scn.title} (the optima of $D_\alpha(p\,\|\,q)$ against $\alpha$)"
        figures.save(figures.alpha_sweep(title, trajectory.load(sweep), runner.mixture(scn.target)), out_dir / "alpha-sweep")
    if diag is not None:
        d = scn.diagnostics
        title = f"{scn.title} (q = N({d.mean:g}, {d.std:g}²), {d.repeats} estimates per point)"
        figures.save(figures.diagnostics(title, trajectory.load(diag)), out_dir / "diagnostics")
    if basins:
        b = scn.basins
        title = f"{scn.title} ({b.size} × {b.size} starts, {b.steps} steps each)"
        figures.save(figures.basins(title, [trajectory.load(p) for p in basins]), out_dir / "basins")


def has_alpha(scn: Scenario) -> bool:
    return any(r.divergence == "alpha" for r in scn.runs)


def sweep_path(data_dir: Path, scn: Scenario) -> Path:
    """Where a scenario with alpha-divergence runs keeps the optima over a grid of
    alpha (a folder of its own: no run name can collide with it)."""
    return Path(data_dir) / scn.name / "sweeps" / "alpha.npz"


def diagnostics_path(data_dir: Path, scn: Scenario) -> Path:
    return Path(data_dir) / scn.name / "sweeps" / "diagnostics.npz"


def basins_path(data_dir: Path, scn: Scenario, run: RunConfig) -> Path:
    return Path(data_dir) / scn.name / "sweeps" / f"basins-{run.name}.npz"


def _make_basins(scn: Scenario, run: RunConfig, path: Path) -> None:
    trajectory.save(path, runner.basin_map(scn.target, run, scn.basins),
                    {"scenario": scn.name, "target": scn.target.to_dict(), "run": run.to_dict(),
                     "basins": scn.basins.to_dict()})


def _make_diagnostics(scn: Scenario, path: Path) -> None:
    from .core import diagnostics

    d = scn.diagnostics
    runs = [scn.run_dict(r)["run"] for r in scn.runs]
    cases = diagnostics.cases(runs)
    table = diagnostics.table(runner.mixture(scn.target), d.mean, d.std, cases, d.samples, d.repeats, d.seed)
    trajectory.save(path, table, {"scenario": scn.name, "target": scn.target.to_dict(),
                                  "diagnostics": d.to_dict(), "cases": cases})


def _make_sweep(scn: Scenario, path: Path) -> None:
    from .core import sweep

    trajectory.save(path, sweep.alpha_optima(runner.mixture(scn.target)),
                    {"scenario": scn.name, "target": scn.target.to_dict(), "sweep": "alpha"})


def _make_gif(scn: Scenario, paths: list[Path], out: Path) -> None:
    from .render import animate
    from .render.view import RunView

    animate.scenario_gif(scn.title, [RunView.load(p) for p in paths], out)


def _make_video(scn: Scenario, paths: list[Path], out_dir: Path, quality: str) -> None:
    from .video.render import render_in_subprocess

    render_in_subprocess({
        "title": scn.title, "records": [str(p) for p in paths], "seconds": scn.media.video_seconds,
        "quality": quality, **{k: str(v) for k, v in video_outputs(out_dir, scn).items()},
    })


def video_outputs(out_dir: Path, scn: Scenario) -> dict[str, Path]:
    return {"video": out_dir / f"{scn.name}.mp4", "poster": out_dir / f"{scn.name}-poster.png",
            "sidecar": out_dir / f"{scn.name}.video.json"}


def _make_gallery(cells: list[tuple[str, Path]], out: Path) -> None:
    from .render import animate
    from .render.view import RunView

    animate.gallery_gif([animate.Cell(RunView.load(p), title) for title, p in cells], out)


def _make_assets(name: str, title: str, paths: list[Path], out_dir: Path, sweep: Path | None,
                 diag: Path | None, basins: tuple[Path, ...] = ()) -> None:
    from .site import assets

    assets.make(name, title, paths, out_dir, sweep, diag, basins)


def _make_site(media: list, site_dir: Path, cache: Path, gallery: Path | None, content: Path) -> None:
    from .site import pages

    pages.render_site(media, site_dir, cache, gallery, content)


@dataclass
class Plan:
    """Every job of a build, stage by stage."""

    data_dir: Path
    media_dir: Path
    cache_dir: Path
    site_dir: Path
    stages: dict[str, list[Job]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def outputs(self, stage: str) -> list[Path]:
        return [p for job in self.stages[stage] for p in job.outputs]


def _folder_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def plan(scenarios: list[Scenario], build_dir: Path, stages=STAGES, quality: str = "medium",
         content: Path | None = None) -> Plan:
    """`content`: the site's prose folder (default site/content)."""
    build_dir = Path(build_dir)
    P = Plan(build_dir / "data", build_dir / "media", build_dir / "cache", build_dir / "site")
    data_code = code_hash("data")
    media_code = code_hash("media") if set(stages) - {"data"} else ""
    video_code = code_hash("video") if "video" in stages else ""
    assets_code = code_hash("assets") if "assets" in stages else ""
    record_keys: dict[tuple[str, str], str] = {}
    site_media = []
    for scn in scenarios:
        paths = []
        for run in scn.runs:
            path = record_path(P.data_dir, scn, run)
            key = _hash(data_code, trajectory.config_json(scn.run_dict(run)))
            record_keys[scn.name, run.name] = key
            paths.append(path)
            P.stages["data"].append(Job(
                "data", f"{scn.name}/{run.name}", key, P.cache_dir / "data" / scn.name / f"{run.name}.key",
                [path], _make_record, (scn, run, path),
                weight=run.batch_size * run.steps * max(run.samples, 8),
            ))
        sweep = sweep_path(P.data_dir, scn) if has_alpha(scn) else None
        sweep_key = ""
        if sweep is not None:
            sweep_key = _hash(data_code, "alpha-sweep", json.dumps(scn.target.to_dict(), sort_keys=True))
            P.stages["data"].append(Job(
                "data", f"{scn.name}/alpha-sweep", sweep_key, P.cache_dir / "data" / scn.name / "alpha-sweep.key",
                [sweep], _make_sweep, (scn, sweep), weight=1e9,
            ))
        diag = diagnostics_path(P.data_dir, scn) if scn.diagnostics is not None else None
        if diag is not None:
            cases = json.dumps([scn.run_dict(r)["run"] for r in scn.runs], sort_keys=True)
            diag_key = _hash(data_code, "diagnostics", json.dumps(scn.target.to_dict(), sort_keys=True),
                             json.dumps(scn.diagnostics.to_dict(), sort_keys=True), cases)
            sweep_key += diag_key
            P.stages["data"].append(Job(
                "data", f"{scn.name}/diagnostics", diag_key, P.cache_dir / "data" / scn.name / "diagnostics.key",
                [diag], _make_diagnostics, (scn, diag), weight=1e9,
            ))
        basins = tuple(basins_path(P.data_dir, scn, r) for r in scn.runs) if scn.basins is not None else ()
        for run, path in zip(scn.runs, basins):
            key = _hash(data_code, "basins", json.dumps(scn.target.to_dict(), sort_keys=True),
                        json.dumps(run.to_dict(), sort_keys=True), json.dumps(scn.basins.to_dict(), sort_keys=True))
            sweep_key += key
            P.stages["data"].append(Job(
                "data", f"{scn.name}/basins-{run.name}", key,
                P.cache_dir / "data" / scn.name / f"basins-{run.name}.key", [path], _make_basins, (scn, run, path),
                weight=scn.basins.size ** 2 * scn.basins.steps * (EXACT_SAMPLE_COST if not run.monte_carlo
                                                                  else max(run.samples, 8)),
            ))
        runs_key = _hash(*(record_keys[scn.name, r.name] for r in scn.runs))
        out = P.media_dir / scn.name
        if "video" in stages:
            key = _hash(video_code, runs_key, "video", quality, scn.title, str(scn.media.video_seconds))
            P.stages["video"].append(Job(
                "video", scn.name, key, P.cache_dir / "media" / scn.name / f"video-{quality}.key",
                list(video_outputs(out, scn).values()), _make_video, (scn, paths, out, quality),
                weight=10 * len(scn.runs),
            ))
        if "figures" in stages:
            key = _hash(media_code, runs_key, sweep_key, "figures", scn.title, json.dumps(scn.media.snapshots))
            bases = ("summary", "snapshots") + (("alpha-sweep",) if sweep is not None else ()) \
                + (("diagnostics",) if diag is not None else ()) + (("basins",) if basins else ())
            P.stages["figures"].append(Job(
                "figures", scn.name, key, P.cache_dir / "media" / scn.name / "figures.key",
                [out / f"{base}.{ext}" for base in bases for ext in ("pdf", "svg", "png")],
                _make_figures, (scn, paths, out, sweep, diag, basins), weight=len(scn.runs),
            ))
        if "gif" in stages:
            key = _hash(media_code, runs_key, "gif", scn.title)
            gif = out / f"{scn.name}.gif"
            P.stages["gif"].append(Job(
                "gif", scn.name, key, P.cache_dir / "media" / scn.name / "gif.key", [gif],
                _make_gif, (scn, paths, gif), weight=2 * len(scn.runs),
            ))
        if "assets" in stages:
            from .site import assets

            key = _hash(assets_code, runs_key, sweep_key, "assets", scn.title)
            P.stages["assets"].append(Job(
                "assets", scn.name, key, P.cache_dir / "media" / scn.name / "assets.key",
                assets.outputs(out / "site", [r.name for r in scn.runs], sweep is not None, diag is not None,
                               bool(basins)),
                _make_assets, (scn.name, scn.title, paths, out / "site", sweep, diag, basins), weight=len(scn.runs),
            ))
        if "site" in stages:
            from .site.pages import ScenarioMedia

            site_media.append(ScenarioMedia(scn, paths, out, out / "site",
                                            video_outputs(out, scn)["video"] if "video" in stages else None))
    if "gallery" in stages and scenarios:
        cells = [(scn.title, record_path(P.data_dir, scn, scn.run_named(scn.media.headline))) for scn in scenarios]
        key = _hash(media_code, "gallery", *(
            t + record_keys[scn.name, scn.media.headline] for (t, _), scn in zip(cells, scenarios)))
        gallery = P.media_dir / "gallery.gif"
        P.stages["gallery"].append(Job("gallery", "gallery", key, P.cache_dir / "media" / "gallery.key",
                                       [gallery], _make_gallery, (cells, gallery), weight=len(cells)))
    if "site" in stages and scenarios:
        # the pages depend on every scenario's text and on every output they link
        upstream = [j.key for stage in STAGES[:-1] for j in P.stages[stage]]
        texts = [json.dumps([scn.name, scn.title, scn.description, [scn.run_dict(r) for r in scn.runs]])
                 for scn in scenarios]
        from .site.pages import CONTENT

        content = Path(content or CONTENT)
        key = _hash(code_hash("site"), _folder_hash(content), quality, *upstream, *texts)
        gallery = P.media_dir / "gallery.gif" if "gallery" in stages else None
        P.stages["site"].append(Job("site", "site", key, P.cache_dir / "site.key", [P.site_dir / "index.html"],
                                    _make_site, (site_media, P.site_dir, P.cache_dir / "previews", gallery, content)))
    return P


@dataclass
class Report:
    built: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def execute(P: Plan, jobs: int = 1, report: Callable[[str, int, int, str], None] | None = None) -> Report:
    """Run every stale job, stage after stage; independent jobs in parallel.
    `report(stage, done, total, label)` hears of each finished job."""
    out = Report()
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        for stage in STAGES:
            todo = [j for j in P.stages[stage] if not j.up_to_date()]
            out.reused[stage] = len(P.stages[stage]) - len(todo)
            out.built[stage] = len(todo)
            start = time.monotonic()
            todo.sort(key=lambda j: -j.weight)
            if report is not None and todo:
                report(stage, 0, len(todo), "starting")
            results = iter(pool.map(_execute, todo) if pool and len(todo) > 1 else map(_execute, todo))
            for i, job in enumerate(todo, 1):
                try:
                    seconds = next(results)
                except Exception as err:
                    raise BuildError(f"{stage} of {job.label} failed: {type(err).__name__}: {err}") from err
                if report is not None:
                    report(stage, i, len(todo), f"{job.label} ({seconds:.1f}s)")
            out.seconds[stage] = time.monotonic() - start
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return out


@contextmanager
def build_lock(build_dir: Path):
    """One build at a time per build folder: a second one is refused, not
    interleaved. The operating system drops the lock when its process dies,
    so a killed build never leaves a stale lock behind."""
    import fcntl

    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise BuildError(f"{build_dir} is being built by {holder}; wait for that build to finish") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(scenes: list[Path], build_dir: Path, jobs: int = 1, stages=STAGES, report=None, quality: str = "medium",
          content: Path | None = None):
    scenarios = load_all(scenes)
    with build_lock(build_dir):
        P = plan(scenarios, build_dir, stages, quality, content)
        return P, execute(P, jobs, report)
