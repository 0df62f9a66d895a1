"""divfit from Python: run a scenario, get its records, draw them.

    import divcore
    result = divcore.run("scenes/three-modes.toml", steps=200)
    result["reverse-left"]["mean"]     # the arrays of the run's .npz record
    fig = result.figure("distribution", run="reverse-left", step=50, width="3.25in", font="serif")
    fig.savefig("left.pdf")
    result                             # in Jupyter: the scrubber, self-contained

Nothing here touches matplotlib's backend or pyplot's figures: figures are
made with `matplotlib.figure.Figure` and keep their style wherever saved.
"""

from __future__ import annotations

import base64
import copy
import html
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .scenario import FigureStyle, Scenario, ScenarioError, parse_figure, parse_table
from .scenario.fields import RUN
from .scenario.parse import read_table, read_text, scenario_name

# what a keyword of run() may set: any key of a run, for every run
OVERRIDABLE = tuple(n for n in RUN.names if n != "name")
# a run's start is one of these; setting one drops the other
_EITHER = {"start": "starts", "starts": "start"}
FIGURES = ("summary", "snapshots", "distribution", "landscape", "history")


def _table(source: Any) -> tuple[dict, str, str]:
    """(the scenario's TOML table, the name errors give it, its scenario name)."""
    if isinstance(source, Mapping):
        return _plain(source), "<dict>", "scenario"
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and "=" not in source):
        file = str(source)
        return read_table(read_text(source), file), file, scenario_name(file)
    if isinstance(source, str):
        return read_table(source, "<string>"), "<string>", "scenario"
    raise TypeError(f"a scenario is a path, a TOML string or a dict, not {type(source).__name__}")


def _plain(value: Any) -> Any:
    """A copy of a scenario dict as TOML would give it: tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.copy(value)


def load(source: Any, **overrides) -> Scenario:
    """The scenario of a path, a TOML string or a dict, with `overrides` (run
    keys such as steps=200 or lr=0.05) set in every run; validated as a file is."""
    data, file, name = _table(source)
    for key in overrides:
        if key not in OVERRIDABLE:
            raise ScenarioError(file, key, f"{key!r} is not a run key that can be overridden",
                                "keys: " + ", ".join(OVERRIDABLE))
    if overrides:
        runs = data.get("runs")
        for run in runs if isinstance(runs, list) else ():
            if isinstance(run, dict):
                for key, value in overrides.items():
                    run.pop(_EITHER.get(key, ""), None)
                    run[key] = _plain(value)
    return parse_table(data, file, name)


def run(source: Any, **overrides) -> "Result":
    """Run every run of a scenario (a path, a TOML string or a dict), with
    `overrides` (run keys) set in every run: the records `divfit run` writes,
    held in memory."""
    from .pipeline import run_one

    scn = load(source, **overrides)
    records = {}
    for r in scn.runs:
        record, config = run_one(scn, r)
        records[r.name] = {**record, "config": config}
    return Result(scn, records)


def figure_style(settings: dict, file: str = "<figure settings>") -> FigureStyle:
    """Keyword figure settings (width, font, size, aspect) read as a [figure]
    table is; a bare number as width is inches."""
    given = dict(settings)
    if isinstance(given.get("width"), (int, float)) and not isinstance(given["width"], bool):
        given["width"] = f"{given['width']!r}in"
    return parse_figure(given, file, "figure")


class Result(Mapping):
    """A scenario's runs, in memory: `result[name]` holds the arrays of that
    run's record (the .npz keys, `config` as a dict), `result.scenario` what
    was run."""

    def __init__(self, scenario: Scenario, records: dict[str, dict]):
        self.scenario = scenario
        self._records = records

    def __getitem__(self, name: str) -> dict:
        try:
            return self._records[name]
        except KeyError:
            raise KeyError(f"no run named {name!r}; runs: {', '.join(self._records)}") from None

    def __iter__(self):
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"<divfit result {self.scenario.name!r}: runs {', '.join(self._records)}>"

    def _repr_html_(self) -> str:
        """Jupyter shows a result as its scrubber, self-contained."""
        from .site.embed import iframe

        return iframe(self.scenario, [self.view(name) for name in self])

    def html(self) -> str:
        """The scrubber as a standalone HTML page (styles, script and data inline)."""
        from .site.embed import document

        return document(self.scenario, [self.view(name) for name in self])

    def gif(self, path: str | os.PathLike | None = None) -> "Media":
        """The scenario's animated GIF (as the site has it), written to `path`
        (default: <scenario>.gif here)."""
        from .render import animate

        out = Path(path or f"{self.scenario.name}.gif")
        animate.scenario_gif(self.scenario.title, [self.view(name) for name in self], out)
        return Media(out, "image/gif")

    def video(self, path: str | os.PathLike | None = None, quality: str = "low") -> "Media":
        """The scenario's lecture video (manim; the `video` extra), written to
        `path` (default: <scenario>.mp4 here) with its poster, captions and
        chapters (WebVTT) beside it."""
        from . import trajectory
        from .errors import BuildError
        from .video import unavailable
        from .video.render import companions, render_in_subprocess, spec_of

        from .project import QUALITIES

        if quality not in QUALITIES:
            raise ValueError(f"unknown quality {quality!r}; one of {', '.join(QUALITIES)}")
        if unavailable():
            raise BuildError(f"no video: {unavailable()}")
        out = Path(path or f"{self.scenario.name}.mp4")
        with tempfile.TemporaryDirectory(prefix="divfit-video-") as tmp:
            records = []
            for name, record in self._records.items():  # the renderer reads records from files
                arrays = {k: v for k, v in record.items() if k != "config"}
                records.append(trajectory.save(Path(tmp) / f"{name}.npz", arrays, record["config"]))
            # everything beside the video but the sidecar, which only the site reads
            outputs = {**companions(out), "sidecar": Path(tmp) / "video.json"}
            render_in_subprocess(spec_of(self.scenario, records, quality, outputs))
        return Media(out, "video/mp4")

    def view(self, run: str | None = None, member: int | None = None):
        """A run (default: the first) as the renderers read it."""
        from .render.plane import view_of

        return view_of(self[run or next(iter(self._records))], member=member)

    def figure(self, kind: str = "summary", run: str | None = None, step: int | None = None,
               member: int | None = None, **settings):
        """A matplotlib Figure: `summary` or `snapshots` of every run (or only
        `run`), or one panel (`distribution`, `landscape`, `history`) of `run`
        (default: the first) at `step` (default: the last). Settings: width (a
        length such as "3.25in", "8cm", "240pt", or a number of inches), font
        ("sans", "serif", "cm"), size (points), aspect; unset ones come from the
        scenario's [figure] table."""
        from .render import figures

        if kind not in FIGURES:
            raise ValueError(f"unknown figure {kind!r}; one of {', '.join(FIGURES)} "
                             "(the analyses' figures are made by divfit build)")
        style = figure_style(settings).over(self.scenario.figure)
        if kind in figures.PANELS:
            return figures.panel(kind, self.view(run, member), step, style)
        if step is not None:
            raise ValueError(f"a {kind} figure shows the runs' own steps; step is for one panel")
        views = [self.view(name, member) for name in ([run] if run else self)]
        if kind == "summary":
            return figures.summary(self.scenario.title, views, style)
        return figures.small_multiples(self.scenario.title, views, self.scenario.media.snapshots, style)


class Media:
    """A file written on request (a GIF, a video): its `path`, and in Jupyter the file itself, inline."""

    def __init__(self, path: Path, mime: str):
        self.path = Path(path)
        self.mime = mime

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"<divfit {self.mime} {str(self.path)!r}>"

    def _repr_html_(self) -> str:
        src = f"data:{self.mime};base64,{base64.b64encode(self.path.read_bytes()).decode('ascii')}"
        name = html.escape(self.path.name)
        if self.mime.startswith("video/"):
            return f'<video controls playsinline src="{src}" style="max-width: 100%" title="{name}"></video>'
        return f'<img src="{src}" alt="{name}" style="max-width: 100%">'
