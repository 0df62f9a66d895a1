"""The `divfit` command line (also `python -m divcore`).

Exit status: 0 success; 2 invalid input, with a one-line `error: FILE: KEY.PATH: ...`
message; 1 any other failure. No command leaves partial output files behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..errors import BuildError
from ..executors import EXECUTORS, SCHEDULER_ENV
from ..project import QUALITIES
from ..video.render import QUALITY_HELP
from ..scenario import ScenarioError, load_scenario, schema_text
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
    sys.stdout.write(schema_text())
    return 0


def _reporter():
    """A progress bar per build stage on a terminal; silent in CI and pipes
    (the closing summary still prints)."""
    if not sys.stderr.isatty():
        return None
    bars: dict[str, Progress] = {}

    def report(stage: str, done: int, total: int, label: str) -> None:
        bar = bars.setdefault(stage, Progress(f"{stage:>8}", total))
        bar.label = f"{stage:>8} {label[:40]:<40}" if done < total else f"{stage:>8} {'done':<40}"
        bar(done, total)

    return report


def _summary(P, rep, start: float) -> None:
    for stage in rep.built:
        total = rep.built[stage] + rep.reused[stage]
        if total:
            work = f" ({rep.seconds[stage]:.1f}s of work)" if rep.built[stage] else ""
            print(f"{stage:>8}: {rep.built[stage]} built, {rep.reused[stage]} up to date{work}")
    if rep.removed:
        print(f" removed: {len(rep.removed)} left by runs or scenarios no longer in the scenes")
    print(f"   total: {time.monotonic() - start:.1f}s")
    if rep.critical:
        path = " -> ".join(f"{stage} {label} {seconds:.1f}s" for stage, label, seconds in rep.critical)
        print(f"critical path: {sum(s for _, _, s in rep.critical):.1f}s ({path})")
    index = P.site_dir / "index.html"
    if index.exists():
        print(f"site: {index}")


def _render(args, stages) -> int:
    from .. import pipeline
    from ..video import unavailable

    if "video" in stages and unavailable():
        raise BuildError(f"cannot make videos: {unavailable()}")

    quality = getattr(args, "quality", "medium")
    P, rep = pipeline.build(args.files, args.out, jobs=args.jobs, stages=stages, report=_reporter(), quality=quality)
    for stage in stages[1:]:
        for path in P.outputs(stage):
            print(path)
    return 0


def _cmd_figures(args) -> int:
    return _render(args, ("data", "figures"))


def _cmd_gif(args) -> int:
    return _render(args, ("data", "gif"))


def _cmd_video(args) -> int:
    return _render(args, ("data", "video"))


def _cmd_slides(args) -> int:
    from .. import pipeline
    from ..video import unavailable
    from ..video.slides import write

    if unavailable():
        raise BuildError(f"cannot make slides: {unavailable()}")
    P, _ = pipeline.build([args.file], args.out, jobs=args.jobs, stages=("data", "video"), report=_reporter(),
                          quality=args.quality)
    scn = load_scenario(args.file)
    video = pipeline.video_outputs(P.media_dir / scn.name, scn)["video"]
    print(write(video, Path(args.out) / "slides" / scn.name, scn.title))
    return 0


class NoScenes(ScenarioError):
    def __init__(self, folder):
        super().__init__(str(folder), "(folder)", "no scenario files (*.toml) found",
                         "a folder of scenario files, or --scenes DIR")


def build_here(args, report=None, announce=print, prune: bool = True):
    """What `divfit build` does, and each rebuild of `divfit serve`: the project
    in this folder (its divfit.toml read afresh), the options overriding it.
    `prune`: remove what the last such build made and this one does not
    (`pipeline.remove_stale`)."""
    from .. import pipeline
    from ..executors import connect
    from ..project import load_project
    from ..video import unavailable

    project = load_project(".")
    folder = args.scenes or project.scenes
    scenes = sorted(Path(folder).glob("*.toml"))
    if not scenes:
        raise NoScenes(folder)
    stages = pipeline.STAGES
    if unavailable():
        stages = tuple(s for s in stages if s != "video")
        announce(f"note: videos skipped: {unavailable()}")
    executor = connect(getattr(args, "executor", "local"), getattr(args, "scheduler", None))
    return pipeline.build(scenes, args.out, jobs=args.jobs, stages=stages, report=report,
                          quality=args.quality or project.quality, content=args.content or project.content,
                          site=project.site, figure=project.figure, executor=executor, prune=prune)


def _cmd_build(args) -> int:
    start = time.monotonic()
    P, rep = build_here(args, _reporter(), announce=lambda line: print(line, file=sys.stderr))
    _summary(P, rep, start)
    return 0


def _cmd_serve(args) -> int:
    from .serve import serve

    return serve(args, build_here)


def _cmd_init(args) -> int:
    from ..project import init

    folder = init(args.folder)
    print(f"wrote {folder}/: divfit.toml, scenes/, content/")
    print(f"next: cd {folder} && divfit build   (or divfit serve to preview while you write)")
    return 0


def _invalid(file, err: Exception) -> int:
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    print(f"error: {file}: {text}", file=sys.stderr)
    return EXIT_INVALID


def _cmd_figure(args) -> int:
    from .. import api
    from ..atomic import atomic_write
    from ..render import figures

    settings = {k: getattr(args, k) for k in ("width", "font", "size", "aspect") if getattr(args, k) is not None}
    api.figure_style(settings, "command line")  # bad settings fail before the scenario runs
    if args.out is not None and args.out.suffix.lower() not in (".pdf", ".svg", ".png"):
        print(f"error: --out {args.out}: unknown format {args.out.suffix or '(none)'}; a .pdf, .svg or .png file",
              file=sys.stderr)
        return EXIT_INVALID
    result = api.run(args.file)
    single = args.kind in figures.PANELS
    run = args.run or (next(iter(result)) if single else None)
    out = args.out or Path(f"{result.scenario.name}-{args.kind}{'-' + run if run else ''}.pdf")
    try:
        fig = result.figure(args.kind, run=run, step=args.step, member=args.member, **settings)
    except (ValueError, KeyError) as err:
        return _invalid(args.file, err)
    print(atomic_write(out, figures.to_bytes(fig, out.suffix[1:].lower())))
    return 0


def _cmd_export(args) -> int:
    from .. import api
    from ..atomic import atomic_write
    from ..site.assets import run_csv

    result = api.run(args.file)
    names = args.run or list(result)
    try:
        views = [result.view(name, args.member) for name in names]
        for v in views:
            if not 0 <= v.member < v.record["divergence"].shape[0]:
                raise ValueError(f"run {v.name!r} has members 0..{v.record['divergence'].shape[0] - 1}, "
                                 f"not {v.member}")
    except (ValueError, KeyError) as err:
        return _invalid(args.file, err)
    for v in views:
        print(atomic_write(args.out / f"{result.scenario.name}-{v.name}.csv",
                           run_csv(v, [v.member], pgfplots=True).encode()))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("divfit")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N", help="parallel workers (default: the number of cores)")
    p.add_argument("--quality", choices=QUALITIES, default=None,
                   help=f"video quality preset: {QUALITY_HELP} (default: the project's, else medium)")
    p.add_argument("--scenes", type=Path, default=None, metavar="DIR",
                   help="the scenario files (*.toml) to build (default scenes)")
    p.add_argument("--out", type=Path, default=Path("build"), metavar="DIR",
                   help="build folder: data/, media/, cache/ and the site in site/ (default build)")
    p.add_argument("--content", type=Path, default=None, metavar="DIR",
                   help="the site's prose: index.md and article.md (default: the project's content/, else divfit's own)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="divfit", description="Fit q to p by a divergence, reproducibly: scenario files in, trajectories out.")
    ap.add_argument("--version", action="version", version=f"divfit {_version()}")
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

    for name, func, what in (("figures", _cmd_figures, "summary and small-multiples figures (PDF, SVG, PNG)"),
                             ("gif", _cmd_gif, "an animated GIF of the runs"),
                             ("video", _cmd_video, "a lecture video (MP4, H.264) and its poster PNG")):
        p = sub.add_parser(name, help=f"{what}, under build/media/<scenario>/; runs the scenarios first if needed")
        if name == "video":
            p.add_argument("--quality", choices=QUALITIES, default="medium",
                           help=f"{QUALITY_HELP} (default medium)")
        p.add_argument("files", nargs="+", type=Path, metavar="FILE")
        p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N", help="parallel workers")
        p.add_argument("--out", type=Path, default=Path("build"), metavar="DIR", help="build folder (default build)")
        p.set_defaults(func=func)

    p = sub.add_parser("slides", help="a scenario's video as an offline presentation that stops at each chapter "
                       "(build/slides/<scenario>/index.html; open it in a browser, no network needed)")
    p.add_argument("file", type=Path, metavar="FILE", help="a scenario file")
    p.add_argument("--quality", choices=QUALITIES, default="medium", help=f"{QUALITY_HELP} (default medium)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N", help="parallel workers")
    p.add_argument("--out", type=Path, default=Path("build"), metavar="DIR", help="build folder (default build)")
    p.set_defaults(func=_cmd_slides)

    build = sub.add_parser("build", aliases=["site"],
                           help="the whole pipeline, ending with the static site in build/site (what `make site` calls)")
    serve = sub.add_parser("serve", help="build, serve build/site on 127.0.0.1 and rebuild (and reload the page) on save")
    for p in (build, serve):
        _build_options(p)
    build.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="where the runs and sweeps are computed: local (this machine's --jobs processes, "
                       "the default) or dask (a Dask cluster's workers; the drawing stays here)")
    build.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help=f"the Dask scheduler for --executor dask, e.g. tcp://10.0.0.5:8786 "
                       f"(default ${SCHEDULER_ENV})")
    build.set_defaults(func=_cmd_build)
    serve.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    serve.set_defaults(func=_cmd_serve)

    p = sub.add_parser("figure", help="one figure of a scenario typeset for a page (a panel for a subfigure, "
                       "or the summary or snapshots), written as PDF, SVG or PNG")
    p.add_argument("file", type=Path, metavar="FILE", help="a scenario file")
    p.add_argument("kind", choices=("summary", "snapshots", "distribution", "landscape", "history"),
                   help="summary, snapshots, or one panel of a run: distribution, landscape or history")
    p.add_argument("--run", metavar="NAME", help="the run (default: every run; one panel: the first run)")
    p.add_argument("--step", type=int, metavar="N", help="one panel's step (default: the last)")
    p.add_argument("--member", type=int, metavar="I", help="the member of a batch run (default: the one figures draw)")
    p.add_argument("--width", metavar="LENGTH", help='exact width: "3.25in", "8cm", "85mm" or "246pt" '
                   "(default: the scenario's [figure] width, else the figure's own)")
    p.add_argument("--font", choices=("sans", "serif", "cm"), help="sans, serif (Times-like) or cm (Computer Modern)")
    p.add_argument("--size", type=float, metavar="PT", help="text size in points (default 9)")
    p.add_argument("--aspect", type=float, metavar="H/W", help="each panel's height over its width")
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="where to write, .pdf, .svg or .png (default <scenario>-<kind>[-<run>].pdf here)")
    p.set_defaults(func=_cmd_figure)

    p = sub.add_parser("export", help="a run's states as CSV for pgfplots or a spreadsheet, one file per run")
    p.add_argument("file", type=Path, metavar="FILE", help="a scenario file")
    p.add_argument("--run", action="append", metavar="NAME", help="a run to export (repeatable; default: every run)")
    p.add_argument("--member", type=int, metavar="I", help="the member of a batch run (default: the one figures draw)")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help="folder for <scenario>-<run>.csv (default: here)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("init", help="write a small working project (divfit.toml, scenes/, content/) into DIR")
    p.add_argument("folder", type=Path, metavar="DIR", help="a new or empty folder")
    p.set_defaults(func=_cmd_init)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INVALID
    except BuildError as err:
        if os.environ.get("DIVFIT_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        # the reader stopped reading (`divfit schema | head`): there is no one left to
        # tell, and the interpreter's last flush of stdout must not fail loudly either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted; every file is written whole or not at all, and a rerun picks up from here",
              file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 -- the contract is one line, not a traceback
        if os.environ.get("DIVFIT_DEBUG"):
            raise
        print(f"error: {type(err).__name__}: {err} (set DIVFIT_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_FAILURE
