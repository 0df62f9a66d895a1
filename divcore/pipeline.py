"""Scenario files -> runner -> trajectory files -> renderers: the build.

Every output is a `Job` keyed by a hash of exactly what it depends on (the
resolved configuration, the code that makes it, the style); a job whose key
matches the one stored beside the last build is skipped. A job names the jobs
whose outputs it reads and starts as soon as they are done (a scenario's
figures do not wait for another one's video). A job is one or more tasks:
the data jobs compute values (a sweep in independent blocks, joined by one
more task) that the build writes itself, so they can run on any executor
(`executors`: a local process pool or a Dask cluster); the jobs that draw
read and write the build folder and run on this machine. `run_files` is
`divfit run`: no cache, and nothing written unless every run succeeds.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import queue
import shutil
import time
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import runner, trajectory
from .core import landscape, space
from .core.divergences import DIVERGENCES
from .core.family import FAMILIES
from .atomic import atomic_write
from .errors import BuildError
from .executors import Local, Task
from .project import Site
from .resources import CONTENT, SITE
from .scenario import FigureStyle, RunConfig, Scenario, load_scenario
from .scenario.fields import EXACT_SAMPLE_COST

PACKAGE = Path(__file__).resolve().parent
# The modules each kind of output depends on; editing one invalidates those outputs.
_CODE = {
    "data": ["core", "runner.py", "trajectory.py"],
    "media": ["core", "render", "style", "trajectory.py"],
    "video": ["core", "render", "style", "video", "trajectory.py"],
    "assets": ["core", "render", "style", "site/payload.py", "site/assets.py", "trajectory.py", "atomic.py"],
    "site": ["site", "atomic.py", "resources.py", SITE],
}
# every job reads only outputs of stages before its own
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
    for path in written:  # a landscape a build kept beside an earlier record is not this one's
        trajectory.landscape_path(path).unlink(missing_ok=True)
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
    """`parts` run independently (anywhere, when not `local`); `join`, when
    given, is one more task called with their values appended as a list; the
    client then hands the value (the join's, else the only part's) to `save`,
    which writes the outputs. A `local` job's tasks read and write the build
    folder themselves, so they run on this machine."""

    stage: str
    label: str  # e.g. "forward-reverse-kl/reverse"
    key: str
    key_path: Path
    outputs: list[Path]
    parts: tuple[Task, ...]
    weight: float = 1.0  # expected cost relative to the other jobs of its stage
    needs: tuple["Job", ...] = ()  # the jobs whose outputs this one reads
    join: Task | None = None
    save: Callable[[object], None] | None = None
    local: bool = True

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


def _save(path: Path, config: dict, record: dict) -> None:
    trajectory.save(path, record, config)


RUN_BLOCK = 512  # members per task of a run with many (starts x repeat); any size gives the same bytes


def _drawn_over_a_landscape(target, run: RunConfig) -> bool:
    return target.dim == 1 and not FAMILIES[run.family].fixed_std


def _join_run(target, run: RunConfig, blocks: list[dict]) -> tuple[dict, landscape.Landscape | None]:
    """The record from its blocks and, for a run drawn over a landscape, that
    landscape (`RunView.landscape`'s grid and values): evaluated once
    here, where the figures, the GIF, the video and the scrubber would each
    evaluate it again."""
    record = runner.run_join(target, run, blocks)
    if not _drawn_over_a_landscape(target, run):
        return record, None
    sp = space.for_run(run, 1)
    return record, landscape.for_record(runner.mixture(target), sp.div, sp.param, record)


def _save_run(path: Path, config: dict, joined: tuple[dict, landscape.Landscape | None]) -> None:
    record, land = joined
    trajectory.save_with_landscape(path, record, config, land)


def _record_job(label: str, key: str, key_path: Path, scn: Scenario, run: RunConfig, path: Path) -> Job:
    """A run's record: its members in blocks, the optima (and the landscape it
    is drawn over) in the join."""
    blocks = runner.member_blocks(run, RUN_BLOCK)
    kept = [trajectory.landscape_path(path)] if _drawn_over_a_landscape(scn.target, run) else []
    return Job("data", label, key, key_path, [path, *kept],
               tuple(Task(runner.run_block, (scn.target, run, sl)) for sl in blocks),
               weight=run.batch_size * run.steps * max(run.samples, 8),
               join=Task(_join_run, (scn.target, run)), save=functools.partial(_save_run, path, scn.run_dict(run)),
               local=False)


def _views(paths: list[Path]) -> list:
    """The records of a scenario's runs, read for drawing in their dimension."""
    from .render.plane import load_view

    return [load_view(p) for p in paths]


def _make_figures(scn: Scenario, paths: list[Path], out_dir: Path, analyses: dict[str, list[Path]],
                  style: FigureStyle) -> None:
    from .render import figures

    views = _views(paths)
    figures.save(figures.summary(scn.title, views, style), out_dir / "summary")
    figures.save(figures.small_multiples(scn.title, views, scn.media.snapshots, style), out_dir / "snapshots")
    for kind, data in analyses.items():
        figures.save(figures.ANALYSES[kind](scn.title, [trajectory.load(p) for p in data], style), out_dir / kind)


def has_alpha(scn: Scenario) -> bool:
    return any(DIVERGENCES[r.divergence].has_alpha for r in scn.runs)


def sweep_path(data_dir: Path, scn: Scenario) -> Path:
    """Where a scenario with alpha-divergence runs keeps the optima over a grid of
    alpha (a folder of its own: no run name can collide with it)."""
    return Path(data_dir) / scn.name / "sweeps" / "alpha.npz"


def diagnostics_path(data_dir: Path, scn: Scenario) -> Path:
    return Path(data_dir) / scn.name / "sweeps" / "diagnostics.npz"


def basins_path(data_dir: Path, scn: Scenario, run: RunConfig) -> Path:
    return Path(data_dir) / scn.name / "sweeps" / f"basins-{run.name}.npz"


def _basins_tasks(scn: Scenario, run: RunConfig) -> tuple[tuple[Task, ...], Task, dict]:
    """A basin map in blocks of starts (`runner.basin_block`), joined by `runner.basin_join`."""
    parts = tuple(Task(runner.basin_block, (scn.target, run, scn.basins, sl))
                  for sl in runner.basin_blocks(run, scn.basins))
    meta = {"scenario": scn.name, "target": scn.target.to_dict(), "run": run.to_dict(), "basins": scn.basins.to_dict()}
    return parts, Task(runner.basin_join, (scn.target, run, scn.basins)), meta


def _diagnostic_cell(target, mean: float, std: float, case: dict, K: int, repeats: int, seed: int):
    from .core import diagnostics

    return diagnostics.cell(runner.mixture(target), mean, std, case, K, repeats, seed)


def _diagnostics_join(target, mean: float, std: float, cases: list[dict], ks, cells: list) -> dict:
    from .core import diagnostics

    return diagnostics.join(runner.mixture(target), mean, std, cases, ks, cells)


def _diagnostics_tasks(scn: Scenario) -> tuple[tuple[Task, ...], Task, dict]:
    """One task per (estimator case, K) at the table's q."""
    from .core import diagnostics

    d = scn.diagnostics
    cases = diagnostics.cases([scn.run_dict(r)["run"] for r in scn.runs])
    parts = tuple(Task(_diagnostic_cell, (scn.target, d.mean, d.std, case, int(K), d.repeats, d.seed))
                  for case in cases for K in d.samples)
    meta = {"scenario": scn.name, "target": scn.target.to_dict(), "diagnostics": d.to_dict(), "cases": cases}
    return parts, Task(_diagnostics_join, (scn.target, d.mean, d.std, cases, d.samples)), meta


def _alpha_at(target, a: float) -> dict:
    from .core import sweep

    return sweep.at(runner.mixture(target), a)


def _alpha_join(alphas, found: list) -> dict:
    from .core import sweep

    return sweep.join(alphas, found)


def _sweep_tasks(scn: Scenario) -> tuple[tuple[Task, ...], Task, dict]:
    """One task per alpha of the grid."""
    from .core import sweep

    alphas = sweep.DEFAULT_ALPHAS
    parts = tuple(Task(_alpha_at, (scn.target, float(a))) for a in alphas)
    meta = {"scenario": scn.name, "target": scn.target.to_dict(), "sweep": "alpha"}
    return parts, Task(_alpha_join, (alphas,)), meta


@dataclass(frozen=True)
class Analysis:
    """A data file a scenario asks for beyond its runs: made in the data stage,
    drawn as the figure and written as the CSV of its `kind`."""

    kind: str  # "alpha-sweep", "diagnostics" or "basins" (render.figures.ANALYSES, site.assets.ANALYSES)
    label: str  # e.g. "basins-reverse", for progress and errors
    path: Path
    key: str
    tasks: Callable  # tasks(*args) -> (parts, join, the record's config)
    args: tuple
    weight: float


def analyses(scn: Scenario, data_dir: Path, data_code: str) -> list[Analysis]:
    """Everything `scn` asks for beyond its runs, keyed by what it depends on."""
    target = json.dumps(scn.target.to_dict(), sort_keys=True)
    out = []
    if has_alpha(scn):
        out.append(Analysis("alpha-sweep", "alpha-sweep", sweep_path(data_dir, scn),
                            _hash(data_code, "alpha-sweep", target), _sweep_tasks, (scn,), 1e9))
    if scn.diagnostics is not None:
        runs = json.dumps([scn.run_dict(r)["run"] for r in scn.runs], sort_keys=True)
        key = _hash(data_code, "diagnostics", target, json.dumps(scn.diagnostics.to_dict(), sort_keys=True), runs)
        out.append(Analysis("diagnostics", "diagnostics", diagnostics_path(data_dir, scn), key,
                            _diagnostics_tasks, (scn,), 1e9))
    if scn.basins is not None:
        spec = json.dumps(scn.basins.to_dict(), sort_keys=True)
        for run in scn.runs:
            key = _hash(data_code, "basins", target, json.dumps(run.to_dict(), sort_keys=True), spec)
            cost = EXACT_SAMPLE_COST if not run.monte_carlo else max(run.samples, 8)
            out.append(Analysis("basins", f"basins-{run.name}", basins_path(data_dir, scn, run), key,
                                _basins_tasks, (scn, run), scn.basins.size ** 2 * scn.basins.steps * cost))
    return out


def _make_gif(scn: Scenario, paths: list[Path], out: Path) -> None:
    from .render import animate

    animate.scenario_gif(scn.title, _views(paths), out)


def _make_video(scn: Scenario, paths: list[Path], out_dir: Path, quality: str) -> None:
    # in the build's own process: manim's settings are set and restored around the render, and
    # what a video typesets (glyphs, labels) is kept for the next one the process renders. A
    # fresh interpreter per video cost a second of imports and all its text again (0.89x the
    # stage's work without it)
    from .video.render import render, spec_of

    render(spec_of(scn, paths, quality, video_outputs(out_dir, scn)))


def video_outputs(out_dir: Path, scn: Scenario) -> dict[str, Path]:
    from .video.render import companions

    return companions(Path(out_dir) / f"{scn.name}.mp4")


def _make_gallery(cells: list[tuple[str, Path]], out_dir: Path) -> None:
    from .render import animate
    from .render.plane import load_view

    animate.gallery([animate.Cell(load_view(p), title) for title, p in cells], out_dir)


def _make_assets(name: str, title: str, paths: list[Path], out_dir: Path, analyses: dict[str, list[Path]],
                 figures: dict[str, Path], poster: Path | None, previews: Path) -> None:
    from .site import assets

    assets.make(name, title, paths, out_dir, analyses, figures, poster, previews)


def _make_site(media: list, site_dir: Path, gallery: Path | None, content: Path, site: Site) -> None:
    from .site import pages

    pages.render_site(media, site_dir, gallery, content, site)


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


@dataclass
class Scene:
    """A scenario as the planners see it: where its records go, what they are
    keyed by, and its analyses."""

    scn: Scenario
    paths: list[Path]  # one record per run
    keys: dict[str, str]  # run name -> its record's key
    analyses: list[Analysis]
    media: Path  # build/media/<scenario>

    @property
    def runs_key(self) -> str:
        return _hash(*(self.keys[r.name] for r in self.scn.runs))

    @property
    def analyses_key(self) -> str:
        return "".join(a.key for a in self.analyses)

    def analysis_paths(self) -> dict[str, list[Path]]:
        out: dict[str, list[Path]] = {}
        for a in self.analyses:
            out.setdefault(a.kind, []).append(a.path)
        return out


def _scene(P: Plan, scn: Scenario, data_code: str) -> Scene:
    paths = [record_path(P.data_dir, scn, run) for run in scn.runs]
    keys = {run.name: _hash(data_code, trajectory.config_json(scn.run_dict(run))) for run in scn.runs}
    return Scene(scn, paths, keys, analyses(scn, P.data_dir, data_code), P.media_dir / scn.name)


def _cache(P: Plan, *parts: str) -> Path:
    return P.cache_dir.joinpath(*parts)


# ------------------------------------------------------------ one planner per stage


def _plan_data(P: Plan, s: Scene) -> list[Job]:
    scn = s.scn
    jobs = [_record_job(f"{scn.name}/{run.name}", s.keys[run.name], _cache(P, "data", scn.name, f"{run.name}.key"),
                        scn, run, path) for run, path in zip(scn.runs, s.paths)]
    for a in s.analyses:
        parts, join, meta = a.tasks(*a.args)
        jobs.append(Job("data", f"{scn.name}/{a.label}", a.key, _cache(P, "data", scn.name, f"{a.label}.key"),
                        [a.path], parts, weight=a.weight, join=join, save=functools.partial(_save, a.path, meta),
                        local=False))
    return jobs


def _plan_video(P: Plan, s: Scene, code: str, quality: str) -> list[Job]:
    scn = s.scn
    key = _hash(code, s.runs_key, "video", quality, scn.title, str(scn.media.video_seconds),
                json.dumps(scn.media.snapshots))
    return [Job("video", scn.name, key, _cache(P, "media", scn.name, "video.key"),
                list(video_outputs(s.media, scn).values()), (Task(_make_video, (scn, s.paths, s.media, quality)),),
                weight=10 * len(scn.runs))]


def _plan_figures(P: Plan, s: Scene, code: str, figure: FigureStyle) -> list[Job]:
    scn = s.scn
    style = scn.figure.over(figure)  # the scenario's own settings over the project's
    key = _hash(code, s.runs_key, s.analyses_key, "figures", scn.title, json.dumps(scn.media.snapshots),
                json.dumps(asdict(style)))
    bases = ("summary", "snapshots", *s.analysis_paths())
    return [Job("figures", scn.name, key, _cache(P, "media", scn.name, "figures.key"),
                [s.media / f"{base}.{ext}" for base in bases for ext in ("pdf", "svg", "png")],
                (Task(_make_figures, (scn, s.paths, s.media, s.analysis_paths(), style)),), weight=len(scn.runs))]


def _plan_gif(P: Plan, s: Scene, code: str) -> list[Job]:
    scn = s.scn
    gif = s.media / f"{scn.name}.gif"
    return [Job("gif", scn.name, _hash(code, s.runs_key, "gif", scn.title), _cache(P, "media", scn.name, "gif.key"),
                [gif], (Task(_make_gif, (scn, s.paths, gif)),), weight=2 * len(scn.runs))]


def _plan_assets(P: Plan, s: Scene, code: str, media: dict[str, list[Job]]) -> list[Job]:
    """`media`: the scenario's figures and video jobs, where planned: their
    figures and poster are previewed with the assets."""
    from .site import assets

    scn = s.scn
    figures = {base: s.media / f"{base}.png" for base in assets.previewed(s.analysis_paths())} if "figures" in media else {}
    poster = video_outputs(s.media, scn)["poster"] if "video" in media else None
    key = _hash(code, s.runs_key, s.analyses_key, "assets", scn.title, *(j.key for jobs in media.values() for j in jobs))
    out = s.media / "site"
    return [Job("assets", scn.name, key, _cache(P, "media", scn.name, "assets.key"),
                assets.outputs(out, [r.name for r in scn.runs], s.analysis_paths(), figures, poster is not None),
                (Task(_make_assets, (scn.name, scn.title, s.paths, out, s.analysis_paths(), figures, poster,
                                     _cache(P, "previews"))),),
                weight=len(scn.runs))]


GALLERY_CELLS = 6  # the front page's animated grid: the first scenarios the article tells
GALLERY_DIR = "gallery"  # under build/media


def _plan_gallery(P: Plan, scenes: list[Scene], code: str, content: Path, headlines: dict[str, Job]) -> list[Job]:
    """`headlines`: each scenario's job that records its headline run."""
    from .site.pages import story_order

    first = story_order(content, [s.scn.name for s in scenes])[:GALLERY_CELLS]
    shown = sorted((s for s in scenes if s.scn.name in first), key=lambda s: first.index(s.scn.name))
    cells = [(s.scn.title, record_path(P.data_dir, s.scn, s.scn.run_named(s.scn.media.headline))) for s in shown]
    key = _hash(code, "gallery", *(s.scn.title + s.keys[s.scn.media.headline] for s in shown))
    gallery = P.media_dir / GALLERY_DIR
    outputs = [gallery / f"{s.scn.name}.{ext}" for s in shown for ext in ("gif", "webp")] + [gallery / "index.json"]
    job = Job("gallery", "gallery", key, _cache(P, "media", "gallery.key"), outputs,
              (Task(_make_gallery, (cells, gallery)),), weight=len(cells))
    return [_needing(job, [headlines[s.scn.name] for s in shown])]


def _plan_site(P: Plan, scenes: list[Scene], stages, quality: str, content: Path, site: Site) -> list[Job]:
    from .site.pages import ScenarioMedia

    # the pages depend on every scenario's text and on every output they link
    upstream = [j.key for stage in STAGES[:-1] for j in P.stages[stage]]
    texts = [json.dumps([s.scn.name, s.scn.title, s.scn.description, [s.scn.run_dict(r) for r in s.scn.runs]])
             for s in scenes]
    key = _hash(code_hash("site"), _folder_hash(content), json.dumps(asdict(site)), quality, *upstream, *texts)
    media = [ScenarioMedia(s.scn, s.paths, s.media, s.media / "site",
                           video_outputs(s.media, s.scn)["video"] if "video" in stages else None,
                           tuple(s.analysis_paths())) for s in scenes]
    gallery = P.media_dir / GALLERY_DIR if "gallery" in stages else None
    return [Job("site", "site", key, _cache(P, "site.key"), [P.site_dir / "index.html"],
                (Task(_make_site, (media, P.site_dir, gallery, content, site)),))]


def plan(scenarios: list[Scenario], build_dir: Path, stages=STAGES, quality: str = "medium",
         content: Path | None = None, site: Site | None = None, figure: FigureStyle | None = None) -> Plan:
    """Every job of the build, planned stage by stage. `content`: the site's
    prose folder (default site/content); `site`: what the pages say about the
    site (title, author, address); `figure`: the project's figure settings,
    under each scenario's own."""
    build_dir = Path(build_dir)
    P = Plan(build_dir / "data", build_dir / "media", build_dir / "cache", build_dir / "site")
    # the code each kind of output depends on, hashed once per build
    code = {kind: code_hash(kind) for kind in ("data", "media", "video", "assets")
            if kind == "data" or kind in stages or (kind == "media" and set(stages) & {"figures", "gif", "gallery"})}
    scenes = [_scene(P, scn, code["data"]) for scn in scenarios]
    per_scene = {
        "video": lambda s: _plan_video(P, s, code["video"], quality),
        "figures": lambda s: _plan_figures(P, s, code["media"], figure or FigureStyle()),
        "gif": lambda s: _plan_gif(P, s, code["media"]),
    }
    headlines = {}
    for s in scenes:
        data = _plan_data(P, s)
        P.stages["data"] += data
        records = data[: len(s.scn.runs)]  # then the analyses
        headlines[s.scn.name] = records[[r.name for r in s.scn.runs].index(s.scn.media.headline)]
        needs = {"video": records, "gif": records, "figures": data}
        media = {}
        for stage, planner in per_scene.items():
            if stage in stages:
                media[stage] = [_needing(job, needs[stage]) for job in planner(s)]
                P.stages[stage] += media[stage]
        if "assets" in stages:
            previewed = {k: media[k] for k in ("figures", "video") if k in media}
            P.stages["assets"] += [_needing(job, data + [j for jobs in previewed.values() for j in jobs])
                                   for job in _plan_assets(P, s, code["assets"], previewed)]
    content = Path(content or CONTENT)
    if "gallery" in stages and scenes:
        P.stages["gallery"] += _plan_gallery(P, scenes, code["media"], content, headlines)
    if "site" in stages and scenes:
        everything = [j for stage in STAGES[:-1] for j in P.stages[stage]]
        P.stages["site"] += [_needing(j, everything) for j in _plan_site(P, scenes, stages, quality, content,
                                                                                    site or Site())]
    return P


def _needing(job: Job, needs: list[Job]) -> Job:
    job.needs = tuple(needs)
    return job


@dataclass
class Report:
    built: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # the stage's jobs' time, summed
    wall: float = 0.0
    critical: list[tuple[str, str, float]] = field(default_factory=list)  # (stage, label, seconds), in order
    removed: list[Path] = field(default_factory=list)  # what `remove_stale` took out of the build folder


# What a job of each stage takes on one core at medium quality, for jobs not
# timed yet; a build remembers what each of its jobs took for the next one.
_GUESS = {"data": 5.0, "video": 40.0, "figures": 10.0, "gif": 8.0, "gallery": 60.0, "assets": 1.0, "site": 15.0}


def _timings_path(P: Plan) -> Path:
    return P.cache_dir / "timings.json"


def _known_timings(P: Plan) -> dict[str, float]:
    try:
        return json.loads(_timings_path(P).read_text())
    except (OSError, ValueError):
        return {}


def _priorities(todo: list[Job], dependents: dict[int, list[Job]], timings: dict[str, float]) -> dict[int, float]:
    """Each stale job's expected seconds plus the longest chain of stale jobs
    waiting on it: the build starts the job that holds the most back."""
    typical = {stage: float(np.median([j.weight for j in todo if j.stage == stage]) or 1.0)
               for stage in {j.stage for j in todo}}
    rank: dict[int, float] = {}
    for job in sorted(todo, key=lambda j: -STAGES.index(j.stage)):  # dependents come first
        guess = _GUESS[job.stage] * float(np.clip(job.weight / typical[job.stage], 0.1, 20.0))
        own = timings.get(f"{job.stage}:{job.label}", guess)
        rank[id(job)] = own + max((rank[id(d)] for d in dependents.get(id(job), ())), default=0.0)
    return rank


class _Progress:
    """A job's tasks in flight: its parts' values as they come back, then its join."""

    def __init__(self, job: Job):
        self.job = job
        self.values: list = [None] * len(job.parts)
        self.left = len(job.parts)
        self.work = 0.0  # every task's seconds, summed
        self.span = 0.0  # its longest part plus its join: the job's length on enough workers


def execute(P: Plan, jobs: int = 1, report: Callable[[str, int, int, str], None] | None = None,
            executor=None) -> Report:
    """Run every stale job, each as soon as the jobs it needs are done (the one
    with the longest chain behind it first). Local jobs run in a pool of
    `jobs` processes on this machine (inline when `jobs` is 1); the others'
    tasks run on `executor` (an `executors.Dask`; default the same local pool).
    `report(stage, done, total, label)` hears of each finished job. Ctrl-C or
    a failed task cancels what is queued; a job's key is written only after
    its outputs, so an interrupted build redoes exactly what it did not finish."""
    start = time.monotonic()
    out = Report()
    todo = []
    for stage in STAGES:
        stale = [j for j in P.stages[stage] if not j.up_to_date()]
        out.built[stage], out.reused[stage] = len(stale), len(P.stages[stage]) - len(stale)
        out.seconds[stage] = 0.0
        todo += stale
    pending = {id(j) for j in todo}
    waiting = {id(j): {id(n) for n in j.needs if id(n) in pending} for j in todo}
    dependents: dict[int, list[Job]] = {}
    for j in todo:
        for n in j.needs:
            if id(n) in pending:
                dependents.setdefault(id(n), []).append(j)
    known = _known_timings(P)
    rank = _priorities(todo, dependents, known)
    ready = [j for j in todo if not waiting[id(j)]]
    done = {stage: 0 for stage in STAGES}
    chain: dict[int, tuple[float, list]] = {}  # the longest measured path ending at each job
    timings: dict[str, float] = {}
    local = Local(jobs if len(todo) > 1 else 1)
    remote = executor or local
    lanes = {id(local): 0, id(remote): 0}  # tasks in flight on each
    finished_q: queue.Queue = queue.Queue()
    in_flight: dict[int, tuple] = {}  # id(future) -> (future, its job's progress, part index or None for the join)

    def submit(progress: _Progress, task: Task, index: int | None) -> None:
        lane = local if progress.job.local else remote
        lanes[id(lane)] += 1
        fut = lane.submit(task, priority=rank[id(progress.job)])
        in_flight[id(fut)] = (fut, progress, index, lane)
        fut.add_done_callback(finished_q.put)

    def finished(job: Job, work: float, span: float) -> None:
        done[job.stage] += 1
        out.seconds[job.stage] += work
        timings[f"{job.stage}:{job.label}"] = round(span, 2)
        before = max((chain[id(n)] for n in job.needs if id(n) in chain), default=(0.0, []), key=lambda c: c[0])
        chain[id(job)] = (before[0] + span, before[1] + [(job.stage, job.label, span)])
        if report is not None:
            report(job.stage, done[job.stage], out.built[job.stage], f"{job.label} ({span:.1f}s)")
        for d in dependents.get(id(job), ()):
            waiting[id(d)].discard(id(job))
            if not waiting[id(d)]:
                ready.append(d)

    def complete(fut) -> None:
        _, progress, index, lane = in_flight.pop(id(fut))
        lanes[id(lane)] -= 1
        job = progress.job
        try:
            value, seconds = fut.result()
        except BrokenProcessPool as err:
            # a worker died (killed, out of memory, a crash in C): every task in flight fails
            # with it, so which job it was running cannot be told from the first to fail
            running = sorted({f"{p.job.stage} of {p.job.label}" for _, p, _, _ in in_flight.values()}
                             | {f"{job.stage} of {job.label}"})
            raise BuildError(f"a worker process died (killed, or out of memory?) while running "
                             f"{', '.join(running)}") from err
        except Exception as err:
            raise BuildError(f"{job.stage} of {job.label} failed: {type(err).__name__}: {err}") from err
        progress.work += seconds
        if index is not None:
            progress.values[index] = value
            progress.span = max(progress.span, seconds)
            progress.left -= 1
            if progress.left:
                return
            if job.join is not None:
                submit(progress, Task(job.join.fn, (*job.join.args, progress.values)), None)
                return
            value = value if len(job.parts) == 1 else progress.values
        else:
            progress.span += seconds
        if job.save is not None:
            job.save(value)
        _write_key(job.key_path, job.key)  # only after every output is in place
        finished(job, progress.work, progress.span)

    def room(job: Job) -> bool:
        lane = local if job.local else remote
        return lanes[id(lane)] < lane.slots

    ok = False
    try:
        while ready or in_flight:
            ready.sort(key=lambda j: rank[id(j)])
            for job in list(reversed(ready)):  # the highest rank first
                if not room(job):
                    continue
                ready.remove(job)
                progress = _Progress(job)
                for i, task in enumerate(job.parts):
                    submit(progress, task, i)
                if local.jobs == 1 and (job.local or remote is local):
                    break  # ran inline: what it released may outrank the rest
            while True:
                try:
                    complete(finished_q.get(timeout=0.2))
                    break
                except queue.Empty:
                    if not in_flight:
                        break
        ok = True
    finally:
        local.close(cancel=not ok)
        if executor is not None and not ok:
            executor.close(cancel=True)
        if timings:
            atomic_write(_timings_path(P), json.dumps({**known, **timings}, indent=1, sort_keys=True).encode())
    out.wall = time.monotonic() - start
    out.critical = max(chain.values(), default=(0.0, []), key=lambda c: c[0])[1]
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
          content: Path | None = None, site: Site | None = None, figure: FigureStyle | None = None, executor=None,
          prune: bool = False):
    """`executor`: where the data jobs' tasks run (an `executors.Dask`; default
    this machine's pool of `jobs`); it is closed when the build ends. `prune`:
    `scenes` is the whole scenes folder, so what the last such build made and
    this one does not is stale (`remove_stale`)."""
    try:
        scenarios = load_all(scenes)
        with build_lock(build_dir):
            P = plan(scenarios, build_dir, stages, quality, content, site, figure)
            out = execute(P, jobs, report, executor)
            if prune:
                out.removed = remove_stale(P, Path(build_dir), [scn.name for scn in scenarios])
            return P, out
    finally:
        if executor is not None:
            executor.close()


MEDIA_STAGES = STAGES[1:-1]  # between the records and the pages


def _made(P: Plan, build_dir: Path, names: list[str]) -> dict:
    """What a build of the whole scenes folder makes that can go stale: its
    scenarios, its records, kept landscapes, analyses and their keys, and
    each media stage's files, of the stages it planned (relative to the
    build folder)."""
    rel = lambda path: str(path.relative_to(build_dir))  # noqa: E731
    files = {rel(path) for job in P.stages["data"] for path in (*job.outputs, job.key_path)}
    media = {stage: sorted({rel(path) for path in P.outputs(stage)}) for stage in MEDIA_STAGES if P.stages[stage]}
    return {"scenarios": sorted(names), "files": sorted(files), "media": media}


def remove_stale(P: Plan, build_dir: Path, names: list[str]) -> list[Path]:
    """Remove what the last build of the whole scenes folder made and this one
    does not: the records, kept landscapes, analyses and keys of runs and
    scenarios since removed or renamed (which a reader of build/data would
    take for current), the media of scenarios no longer built, and a built
    scenario's media files no longer made (an analysis's figures after it was
    dropped). Only what
    that build listed in cache/made.json goes: records `divfit run` wrote, or
    another scenes folder's, stay. Returns the paths removed."""
    manifest = P.cache_dir / "made.json"
    made = _made(P, build_dir, names)
    try:
        before = json.loads(manifest.read_text())
    except (OSError, ValueError):
        before = {}
    removed: list[Path] = []
    roots = (P.data_dir, P.cache_dir / "data", P.media_dir)
    stale = set(before.get("files", ())) - set(made["files"])
    media = before.get("media")
    now = {path for files in made["media"].values() for path in files}
    kept = (*names, GALLERY_DIR)
    for stage, files in (media.items() if isinstance(media, dict) else ()):
        if stage in made["media"]:
            stale |= set(files) - now
        else:  # a stage this build did not plan keeps what it made, for scenarios still built
            made["media"][stage] = [p for p in files if Path(p).parts[1:2] and Path(p).parts[1] in kept]
    for rel in sorted(stale):
        path = build_dir / rel
        if not (path.is_file() or path.is_symlink()):
            continue
        path.unlink()
        removed.append(path)
        for folder in path.parents:  # the folders it leaves empty, a scenario's too
            if folder in roots or not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()
            removed.append(folder)
    for name in sorted(set(before.get("scenarios", ())) - set(names)):
        for root in (P.media_dir, P.cache_dir / "media"):  # written by builds of that scenario alone
            folder = root / name
            if folder.is_symlink():
                folder.unlink()
            elif folder.is_dir():
                shutil.rmtree(folder)
            else:
                continue
            removed.append(folder)
    atomic_write(manifest, json.dumps(made, indent=1).encode())
    return removed
