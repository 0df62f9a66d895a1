"""Validation and resolution of scenario files.

Per-key checks are generic walks over the field table (fields.py); only the
rules that tie keys together are written out here. The first problem found,
in file order (title, description, target, fit, runs), is raised.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, NamedTuple

from ..core.landscape import default_box
from ..core import basins
from ..core.target import Mixture
from . import fields as F
from ..core.bivariate.gaussian import FAMILIES_2D, MIN_SD
from ..core.bivariate.target import is_spd
from .model import Basins, Basins2, Component, Component2, Diagnostics, FigureStyle, Media, RunConfig, Scenario, Start, Start2, Target

PSEUDO_FILE = "<string>"
_TOML_ALLOWED = "the file must be valid TOML (https://toml.io)"
_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_END = re.compile(r"\s*\(at end of document\)\s*$")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHOW_MAX = 60


def _one_line(text: str) -> str:
    # str.splitlines breaks on more than "\n" (e.g. \x1c, \u2028), so escape
    # every non-printable character rather than only newlines.
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ScenarioError(Exception):
    """Invalid scenario input; str() is the one-line `FILE: PATH: what; allowed`."""

    def __init__(self, file: str, path: str, what: str, allowed: str):
        self.file, self.path, self.what, self.allowed = str(file), path, what, allowed
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = (self.file, self.path, self.what)
        return "{}: {}: {}; {}".format(*map(_one_line, parts), _one_line(self.allowed))

    def __reduce__(self):  # keep it picklable across worker processes
        return (type(self), (self.file, self.path, self.what, self.allowed))


def _num(x: float) -> str:
    if isinstance(x, int):
        return str(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _show(value: Any) -> str:
    """A short one-line rendering of a TOML value."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."


def _type_name(value: Any) -> str:
    for kind, name in (
        (bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
        (list, "array"), (dict, "table"), (datetime.datetime, "date-time"),
        (datetime.date, "date"), (datetime.time, "time"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _got(value: Any) -> str:
    return f"got {_type_name(value)} {_show(value)}"


def _did_you_mean(word: Any, options: tuple[str, ...]) -> str:
    if not isinstance(word, str):
        return ""
    by_lower = {o.lower(): o for o in options}
    match = by_lower.get(word.lower()) or next(
        iter(difflib.get_close_matches(word, options, n=1, cutoff=0.6)), None
    )
    return f' (did you mean "{match}"?)' if match else ""


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _range_text(f: F.Field) -> str:
    if f.minimum is not None and f.maximum is not None:
        return f" from {_num(f.minimum)} to {_num(f.maximum)}"
    if f.exclusive_minimum is not None and f.maximum is not None:
        return f" > {_num(f.exclusive_minimum)} and <= {_num(f.maximum)}"
    if f.minimum is not None:
        return f" >= {_num(f.minimum)}"
    if f.exclusive_minimum is not None:
        return f" > {_num(f.exclusive_minimum)}"
    if f.maximum is not None:
        return f" <= {_num(f.maximum)}"
    return ""


def allowed(f: F.Field) -> str:
    """What a field accepts, in words (the `allowed` half of messages)."""
    if f.allowed_text:
        return f.allowed_text
    if f.enum:
        return "one of " + _quoted(f.enum)
    if f.kind == "string":
        return "a string"
    if f.kind == "number":
        return "a finite number" + _range_text(f)
    if f.kind == "integer":
        note = " (used by Monte Carlo estimators only)" if f.range_if_monte_carlo else ""
        return "an integer" + _range_text(f) + note
    if f.kind == "boolean":
        return "true or false"
    if f.kind == "table":
        return "a table { " + ", ".join(f.names) + " }"
    low, high = f.min_items or 0, f.max_items
    count = f"{low} to {high}" if high is not None else f"at least {low}"
    return f"an array of {count} items, each {allowed(f.items)}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Setting(NamedTuple):
    value: Any
    path: str | None  # where the value was written; None for a built-in default


# the plane's family with a full covariance (the one whose starts may be correlated)
_FULL_2D = next(f.key for f in FAMILIES_2D.values() if not f.diagonal)

# Keys that belong elsewhere get a pointer instead of a bare "unknown key".
_MISPLACED = {("fit", "name"): "each run needs its own name, given in [[runs]]"}


class _Reader:
    def __init__(self, file: str):
        self.file = file
        self.dim = 1  # the target's, once read: it picks the field tree
        self.tree = F.TREES[1]

    @property
    def RUN(self) -> F.Field:
        return self.tree.child("runs").items

    def fail(self, path: str, what: str, allowed_: str):
        raise ScenarioError(self.file, path, what, allowed_)

    # -- generic walk over the field table ---------------------------------

    def value(self, v: Any, f: F.Field, path: str) -> Any:
        check = {
            "string": self.string, "number": self.number, "integer": self.integer,
            "boolean": self.boolean, "table": self.table, "array": self.array,
        }[f.kind]
        return check(v, f, path)

    def string(self, v: Any, f: F.Field, path: str) -> str:
        if not isinstance(v, str):
            self.fail(path, f"expected a string, {_got(v)}", allowed(f))
        if f.enum and v not in f.enum:
            self.fail(path, f"unknown {f.name} {_show(v)}{_did_you_mean(v, f.enum)}", allowed(f))
        if f.min_length is not None and len(v) < f.min_length:
            self.fail(path, f"{f.name} must not be empty", allowed(f))
        if f.pattern and not _matches(f.pattern, v):
            self.fail(path, f"invalid {f.name} {_show(v)}", allowed(f))
        if f.max_length is not None and len(v) > f.max_length:
            self.fail(path, f"{f.name} is {len(v)} characters long, more than {f.max_length}", allowed(f))
        return v

    def number(self, v: Any, f: F.Field, path: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(path, f"expected a number, {_got(v)}", allowed(f))
        try:
            x = float(v)
        except OverflowError:  # TOML integers are unbounded in tomllib
            self.fail(path, f"{f.name} is too large, got {_show(v)}", allowed(f))
        if not math.isfinite(x):
            self.fail(path, f"{f.name} must be finite, got {_show(v)}", allowed(f))
        self.in_range(x, v, f, path)
        return x

    def integer(self, v: Any, f: F.Field, path: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(path, f"expected an integer, {_got(v)}", allowed(f))
        if not f.range_if_monte_carlo:
            self.in_range(v, v, f, path)
        return v

    def in_range(self, x: float, raw: Any, f: F.Field, path: str, note: str = "") -> None:
        if f.exclusive_minimum is not None and not x > f.exclusive_minimum:
            bound = f"> {_num(f.exclusive_minimum)}"
        elif f.minimum is not None and x < f.minimum:
            bound = f">= {_num(f.minimum)}"
        elif f.maximum is not None and x > f.maximum:
            bound = f"<= {_num(f.maximum)}"
        elif f.exclusive_maximum is not None and not x < f.exclusive_maximum:
            bound = f"< {_num(f.exclusive_maximum)}"
        else:
            return
        self.fail(path, f"{f.name} must be {bound}, got {_show(raw)}{note}", allowed(f))

    def boolean(self, v: Any, f: F.Field, path: str) -> bool:
        if not isinstance(v, bool):
            self.fail(path, f"expected a boolean, {_got(v)}", allowed(f))
        return v

    def table(self, v: Any, f: F.Field, path: str) -> dict:
        if not isinstance(v, dict):
            self.fail(path or "(top level)", f"expected a table, {_got(v)}", allowed(f))
        self.unknown_keys(v, f, path)
        out = {}
        for child in f.fields:
            where = _join(path, child.name)
            if child.name in v:
                out[child.name] = self.value(v[child.name], child, where)
            elif child.required:
                self.fail(where, "missing required key", allowed(child))
        return out

    def unknown_keys(self, v: dict, f: F.Field, path: str) -> None:
        for key in v:
            if key in f.names:
                continue
            hint = _MISPLACED.get((path, key)) or F.OTHER_DIMENSION[self.dim].get(key)
            hint = f" ({hint})" if hint else _did_you_mean(key, f.names)
            # Odd keys would make the path ambiguous; name them in the message instead.
            where = _join(path, key) if _BARE_KEY.fullmatch(key) else (path or "(top level)")
            self.fail(where, f"unknown key {_show(key)}{hint}", "allowed keys: " + ", ".join(f.names))

    def array(self, v: Any, f: F.Field, path: str, each: Callable | None = None) -> tuple:
        if not isinstance(v, list):
            self.fail(path, f"expected an array, {_got(v)}", allowed(f))
        if f.min_items is not None and len(v) < f.min_items:
            self.fail(path, f"{f.name} needs at least {f.min_items} item(s), got {len(v)}", allowed(f))
        if f.max_items is not None and len(v) > f.max_items:
            self.fail(path, f"{f.name} has {len(v)} items, more than {f.max_items}", allowed(f))
        each = each or (lambda i, item, where: self.value(item, f.items, where))
        return tuple(each(i, item, f"{path}[{i}]") for i, item in enumerate(v))

    # -- the scenario --------------------------------------------------------

    def scenario(self, data: dict, name: str) -> Scenario:
        self.dim = self.read_dim(data)
        self.tree = top = F.TREES[self.dim]
        self.unknown_keys(data, top, "")
        given: dict[str, Any] = {}
        for f in top.fields:
            if f.name == "runs":
                break
            if f.name in data:
                given[f.name] = self.value(data[f.name], f, f.name)
            elif f.required:
                self.fail(f.name, "missing required key", allowed(f))
        fit = given.get("fit", {})
        self.same_table_rules(fit, "fit")
        if "runs" not in data:
            self.fail("runs", "missing required key", allowed(top.child("runs")))
        seen: dict[str, int] = {}
        runs = self.array(
            data["runs"], top.child("runs"), "runs", lambda i, item, where: self.run(i, item, where, fit, seen)
        )
        target = self.target(given["target"])
        return Scenario(
            name=name,
            title=given["title"],
            description=given.get("description", top.child("description").default),
            target=target,
            runs=runs,
            media=self.media(given.get("media", {}), runs),
            figure=self.figure(given.get("figure", {})),
            diagnostics=self.diagnostics(given.get("diagnostics")),
            basins=self.basins(given.get("basins"), target, runs),
        )

    def read_dim(self, data: dict) -> int:
        """The target's dimension, read first: it decides how every other key is read."""
        target = data.get("target") if isinstance(data, dict) else None
        if not isinstance(target, dict) or "dim" not in target:
            return 1
        return self.value(target["dim"], F.DIM, "target.dim")

    def target(self, given: dict) -> Target:
        if self.dim == 1:
            return _target(given)
        raw = given["components"]
        total = math.fsum(c["weight"] for c in raw)
        comps = []
        for i, c in enumerate(raw):
            where = f"target.components[{i}]"
            cov = self.covariance(c, where)
            comps.append(Component2(tuple(c["mean"]), cov, c["weight"] / total))
        return Target(tuple(comps))

    def covariance(self, c: dict, where: str):
        """A component's covariance: from cov, or from std and corr."""
        if "cov" in c and "std" in c:
            self.fail(f"{where}.std", "cov and std are both given", "give either cov, or std (with corr)")
        if "cov" in c:
            if "corr" in c:
                self.fail(f"{where}.corr", "corr goes with std, not with cov", "put the correlation into cov")
            (a, b), (b2, d) = c["cov"]
            if b != b2:
                self.fail(f"{where}.cov", f"the covariance is not symmetric ({_num(b)} != {_num(b2)})",
                          F.COMPONENT_2D.child("cov").allowed_text)
            if not is_spd(c["cov"]):
                self.fail(f"{where}.cov", "the covariance is not positive definite",
                          F.COMPONENT_2D.child("cov").allowed_text)
            for v, axis in ((a, "x"), (d, "y")):
                if not F.STD_MIN <= math.sqrt(v) <= F.STD_MAX:
                    self.fail(f"{where}.cov", f"the standard deviation along {axis} is {math.sqrt(v):g}",
                              f"standard deviations from {F.STD_MIN:g} to {F.STD_MAX:g}")
            return ((a, b), (b, d))
        if "std" not in c:
            self.fail(where, "neither cov nor std is given", "give cov, or std (with corr)")
        (sx, sy), r = c["std"], c.get("corr", 0.0)
        cov = ((sx * sx, r * sx * sy), (r * sx * sy, sy * sy))
        self.nondegenerate(cov, f"{where}.corr" if "corr" in c else f"{where}.std")
        return cov

    def nondegenerate(self, cov, path: str) -> None:
        """A covariance from std and corr, refused where rounding leaves it
        singular or thinner than q may become (|corr| too near 1)."""
        (a, b), (_, d) = cov
        thin = math.sqrt(max(d - b * b / a, 0.0)) if a > 0 else 0.0
        if not is_spd(cov) or thin < MIN_SD:
            self.fail(path, f"the covariance is degenerate: its conditional width is {thin:.3g}",
                      f"|corr| further from 1, so that sd * sqrt(1 - corr^2) is at least {MIN_SD:g}")

    def plane_starts(self, start: _Setting, starts: _Setting, family: _Setting, where: str):
        """2-D starts: one start, or a grid of starting means, each with the grid's
        own covariance (std, and corr with it) if it gives std, else the run's
        start's (from [fit] or the default)."""
        grid = starts.value if _grid_wins(start, starts, where) else None
        own = start.value
        source, path = own, start.path or f"{where}.start"
        if grid is not None:
            if "corr" in grid and "std" not in grid:
                self.fail(f"{starts.path}.corr", "corr is given without std",
                          "give std (and corr) for the grid's own covariance, or neither for the start's")
            if "std" in grid:
                source, path = grid, starts.path
        (sx, sy), corr = (float(v) for v in source["std"]), float(source.get("corr", 0.0))
        if corr != 0.0 and family.value in F.FAMILIES_2D and FAMILIES_2D[family.value].diagonal:
            self.fail(f"{path}.corr", f"family {_show(family.value)} is mean-field: its starts have no correlation",
                      f"corr = 0, or family = {_show(_FULL_2D)}")
        cov = Start2((0.0, 0.0), (sx, sy), corr).cov
        self.nondegenerate(cov, f"{path}.corr")
        if grid is not None:
            means = tuple((float(x), float(y)) for x, y in grid["mean"])
            return tuple(Start2(m, (sx, sy), corr) for m in means), (means,)
        mx, my = own["mean"]
        return (Start2((float(mx), float(my)), (sx, sy), corr),), None

    def diagnostics(self, given: dict | None) -> Diagnostics | None:
        if given is None:
            return None
        samples = tuple(int(k) for k in given.get("samples", F.DEFAULT_DIAGNOSTIC_SAMPLES))
        repeats = int(given.get("repeats", F.DIAGNOSTICS.child("repeats").default))
        work = repeats * sum(samples)
        if work > F.MAX_DIAGNOSTIC_WORK:
            self.fail("diagnostics.repeats", f"repeats x sum(samples) = {work} exceeds {F.MAX_DIAGNOSTIC_WORK}",
                      "fewer repeats or smaller K")
        q = given["q"]
        return Diagnostics(mean=float(q["mean"]), std=float(q["std"]), samples=samples, repeats=repeats,
                           seed=int(given.get("seed", 0)))

    def basins(self, given: dict | None, target: Target, runs: tuple[RunConfig, ...]) -> Basins | Basins2 | None:
        if given is None:
            return None
        if self.dim == 2:
            return self.basins_2d(given, target, runs)
        f = F.BASINS
        (m0, m1), (s0, s1) = default_box(Mixture.create(target.means, target.stds, target.weights))
        box = ((max(m0, -F.MEAN_LIMIT), min(m1, F.MEAN_LIMIT)), (max(s0, F.STD_MIN), min(s1, F.STD_MAX)))
        ranges = []
        for key, default in zip(("mean", "std"), box):
            lo, hi = (float(v) for v in given.get(key, default))
            if not lo < hi:
                self.fail(f"basins.{key}", f"the range [{_num(lo)}, {_num(hi)}] is empty", "[lowest, highest] with lowest < highest")
            ranges.append((lo, hi))
        size = int(given.get("size", f.child("size").default))
        steps = int(given.get("steps", f.child("steps").default))
        # the checks name [basins], which asks for the maps, whatever set the run's keys
        for run in runs:
            if run.family != F.FULL_FAMILY:
                self.fail("basins", f"run {_show(run.name)} uses family {_show(run.family)}; "
                          "basin maps need the full Gaussian family",
                          f"family = {_show(F.FULL_FAMILY)} in every run, or no [basins]")
        self.basin_work(runs, size, steps, F.EXACT_SAMPLE_COST, "", dim=1)
        return Basins(size=size, mean=ranges[0], std=ranges[1], steps=steps,
                      tolerance=float(given.get("tolerance", f.child("tolerance").default)))

    def basin_work(self, runs: tuple[RunConfig, ...], size: int, steps: int, exact_cost: int, where: str,
                   dim: int) -> None:
        """Each run's map within the seeds, the work cap and a task's memory; an
        exact gradient counts as `exact_cost` samples."""
        need = basins.task_bytes(steps, dim)
        if need > F.MAX_TASK_MEMORY:
            self.fail("basins.steps", f"each block of {basins.BLOCK} starts would hold their last "
                      f"{basins.tail_length(steps) + 1} states, about {need / 1024**3:.1f} GiB, more than "
                      f"{F.MAX_TASK_MEMORY / 1024**3:.0f} GiB", "fewer steps (the last tenth of them is kept)")
        for run in runs:
            if run.seed + size * size - 1 > F.MAX_SEED:
                self.fail("basins.size", f"the map's {size * size} starts from run {_show(run.name)}'s seed {run.seed} "
                          f"run seeds past {F.MAX_SEED}", f"seed + size^2 - 1 <= {F.MAX_SEED}")
            work = size * size * steps * (exact_cost if not run.monte_carlo else run.samples)
            if work > F.MAX_BASIN_WORK:
                self.fail("basins.size", f"size^2 x steps x K = {work} for run {_show(run.name)} exceeds "
                          f"{F.MAX_BASIN_WORK} (an exact gradient{where} counts as K = {exact_cost})",
                          "a smaller grid, fewer steps or smaller K")

    def basins_2d(self, given: dict, target: Target, runs: tuple[RunConfig, ...]) -> Basins2:
        f = F.BASINS_2D
        ranges = []
        for axis, key in enumerate(("x", "y")):
            lo, hi = given.get(key, (min(m[axis] - 3 * math.sqrt(c[axis][axis]) for m, c in zip(target.means, target.covs)),
                                     max(m[axis] + 3 * math.sqrt(c[axis][axis]) for m, c in zip(target.means, target.covs))))
            lo, hi = max(float(lo), -F.MEAN_LIMIT), min(float(hi), F.MEAN_LIMIT)
            if not lo < hi:
                self.fail(f"basins.{key}", f"the range [{_num(lo)}, {_num(hi)}] is empty", "[lowest, highest] with lowest < highest")
            ranges.append((lo, hi))
        size = int(given.get("size", f.child("size").default))
        steps = int(given.get("steps", f.child("steps").default))
        self.basin_work(runs, size, steps, F.EXACT_SAMPLE_COST_2D, " on the plane", dim=2)
        return Basins2(size=size, x=ranges[0], y=ranges[1], steps=steps,
                       tolerance=float(given.get("tolerance", f.child("tolerance").default)))

    def media(self, given: dict, runs: tuple[RunConfig, ...]) -> Media:
        names = tuple(r.name for r in runs)
        headline = given.get("headline", names[0])
        if headline not in names:
            self.fail(
                "media.headline",
                f"no run is named {_show(headline)}{_did_you_mean(headline, names)}",
                f"one of {_quoted(names)}",
            )
        snapshots = given.get("snapshots", F.DEFAULT_SNAPSHOTS)
        seconds = float(given.get("video_seconds", F.DEFAULT_VIDEO_SECONDS))
        return Media(headline=headline, snapshots=tuple(float(x) for x in snapshots), video_seconds=seconds)

    def figure(self, given: dict, path: str = "figure") -> FigureStyle:
        width = given.get("width")
        if width is not None:
            unit = width[-2:]
            inches = float(width[:-2]) * F.LENGTH_UNITS[unit]
            lo, hi = F.FIGURE_WIDTH_IN
            if not lo <= inches <= hi:
                self.fail(_join(path, "width"), f"width {_show(width)} is {inches:.3g} in", allowed(
                    F.FIGURE.child("width")))
            width = inches
        return FigureStyle(width=width, font=given.get("font"), size=given.get("size"), aspect=given.get("aspect"))

    def same_table_rules(self, given: dict, path: str) -> None:
        """Conflicts between keys written in one table ([fit] or one run)."""
        if "start" in given and "starts" in given:
            self.fail(
                _join(path, "starts"),
                "start and starts are both given",
                "give either start = { mean, std } or starts = { mean = [...], std = [...] }",
            )
        estimator = given.get("estimator")
        for key, option in F.ESTIMATOR_OPTIONS.items():
            value = given.get(key, option.default)
            if value != option.default and estimator is not None and estimator not in F.OPTION_TAKERS[key]:
                self._option_misuse(_join(path, key), key, value, estimator)

    def _option_misuse(self, path: str, key: str, value: str, estimator: str):
        takers = F.OPTION_TAKERS[key]
        default = F.ESTIMATOR_OPTIONS[key].default
        self.fail(
            path,
            f"{key} {_show(value)} applies only to estimator {_quoted(takers).replace(', ', ' or ')}, "
            f"not {_show(estimator)}",
            f"{key} = {_show(default)} for estimator {_show(estimator)}",
        )

    def run(self, i: int, item: Any, where: str, fit: dict, seen: dict[str, int]) -> RunConfig:
        given = self.table(item, self.RUN, where)
        name = given["name"]
        if name in seen:
            self.fail(
                f"{where}.name",
                f"duplicate run name {_show(name)} (already used by runs[{seen[name]}])",
                "every run of a scenario needs a distinct name",
            )
        seen[name] = i
        self.same_table_rules(given, where)

        def setting(key: str) -> _Setting:
            if key in given:
                return _Setting(given[key], f"{where}.{key}")
            if key in fit:
                return _Setting(fit[key], f"fit.{key}")
            return _Setting(self.RUN.child(key).default, None)

        for key in ("divergence", "direction"):
            if setting(key).value is F.MISSING:
                self.fail(
                    f"{where}.{key}",
                    "missing required key",
                    f"set {key} in the run or in [fit]: {allowed(self.RUN.child(key))}",
                )
        div, direction, est = (setting(k) for k in ("divergence", "direction", "estimator"))
        alpha = setting("alpha")
        takes_alpha = div.value in F.ALPHA_DIVERGENCES
        takers = _quoted(F.ALPHA_DIVERGENCES)
        if takes_alpha and alpha.value is F.MISSING:
            self.fail(f"{where}.alpha", f"missing required key for divergence {_show(div.value)}",
                      f"set alpha in the run or in [fit]: a number from {-F.ALPHA_LIMIT:g} to {F.ALPHA_LIMIT:g}")
        if not takes_alpha and alpha.path == f"{where}.alpha":
            self.fail(alpha.path, f"alpha applies only to divergence {takers}, not {_show(div.value)}",
                      f"divergence = {takers}, or remove alpha")
        valid = F.ESTIMATORS[(div.value, direction.value)]
        def inherited(s: _Setting) -> str:  # errors found at a [fit] key name the run
            return f' (run "{name}")' if s.path and s.path.startswith("fit.") else ""

        if est.value not in valid:
            self.fail(
                est.path,
                f"estimator {_show(est.value)} does not apply to divergence {_show(div.value)} "
                f"with direction {_show(direction.value)}{inherited(est)}",
                f"for {div.value}/{direction.value} use one of {_quoted(valid)}",
            )
        monte_carlo = est.value != F.EXACT

        options = {}
        for key, option in F.ESTIMATOR_OPTIONS.items():
            chosen = setting(key)
            if chosen.value != option.default and est.value not in F.OPTION_TAKERS[key]:
                if chosen.path == f"{where}.{key}":
                    self._option_misuse(chosen.path, key, chosen.value, est.value)
                chosen = _Setting(option.default, None)  # an inherited default that does not apply
            options[key] = chosen

        samples = setting("samples")
        if monte_carlo:
            note = f" for Monte Carlo estimator {_show(est.value)}{inherited(samples)}"
            self.in_range(samples.value, samples.value, self.RUN.child("samples"), samples.path, note)
            for key, chosen in options.items():
                need = F.ESTIMATOR_OPTIONS[key].choices[chosen.value].min_samples
                if samples.value < need:
                    self.fail(
                        samples.path,
                        f"{key} {_show(chosen.value)} needs samples >= {need}, got {samples.value}{inherited(samples)}",
                        f"samples >= {need}, or another {key}",
                    )

        if self.dim == 2:
            starts, grid = self.plane_starts(setting("start"), setting("starts"), setting("family"), where)
        else:
            starts, grid = _starts(setting("start"), setting("starts"), where)
        values = {k: setting(k).value for k in self.RUN.names}
        config = RunConfig(
            name=name,
            divergence=div.value,
            direction=direction.value,
            estimator=est.value,
            baseline=options["baseline"].value,
            family=values["family"],
            parameterization=values["parameterization"],
            starts=starts,
            start_grid=grid,
            optimizer=values["optimizer"],
            natural_gradient=values["natural_gradient"],
            clip=float(values["clip"]),
            lr=float(values["lr"]),
            lr_decay=float(values["lr_decay"]),
            steps=values["steps"],
            samples=samples.value if monte_carlo else 0,
            seed=values["seed"],
            repeat=values["repeat"],
            record_particles=values["record_particles"] and monte_carlo,
            alpha=float(alpha.value) if takes_alpha else None,
        )
        self.size_guard(config, where)
        return config

    def size_guard(self, run: RunConfig, where: str) -> None:
        if run.seed + run.repeat - 1 > F.MAX_SEED:
            self.fail(
                where,
                f"repeat {run.repeat} from seed {run.seed} runs seeds past {F.MAX_SEED}",
                f"seed + repeat - 1 <= {F.MAX_SEED}",
            )
        batch = run.batch_size
        shape = f"batch {batch} ({len(run.starts)} start(s) x repeat {run.repeat})"
        if batch > F.MAX_BATCH:
            self.fail(where, f"{shape} exceeds {F.MAX_BATCH}", "reduce repeat or the starts grid")
        states = batch * run.steps
        if states > F.MAX_STATES:
            self.fail(
                where,
                f"{shape} x steps {run.steps} = {states} exceeds {F.MAX_STATES}",
                "reduce steps, repeat or the starts grid",
            )
        if run.record_particles and states * run.samples > F.MAX_PARTICLES:
            self.fail(
                where,
                f"{shape} x steps {run.steps} x samples {run.samples} = {states * run.samples} "
                f"recorded particles exceeds {F.MAX_PARTICLES}",
                "set record_particles = false or reduce steps/samples/batch",
            )


def _matches(pattern: str, text: str) -> bool:
    # JSON Schema patterns search; an anchored one must cover the whole text
    # (Python's "$" would also accept a trailing newline).
    if pattern.startswith("^") and pattern.endswith("$"):
        return re.fullmatch(pattern[1:-1], text) is not None
    return re.search(pattern, text) is not None


def _target(given: dict) -> Target:
    raw = given["components"]
    total = math.fsum(c["weight"] for c in raw)
    return Target(tuple(Component(c["mean"], c["std"], c["weight"] / total) for c in raw))


def _grid_wins(start: _Setting, starts: _Setting, where: str) -> bool:
    """Whether the run starts from its `starts` grid: the table that is more
    specific (the run over [fit]) wins, whichever of start/starts it gives."""
    run_gives = lambda s: s.path is not None and s.path.startswith(where + ".")  # noqa: E731
    return run_gives(starts) or (not run_gives(start) and starts.path is not None)


def _starts(start: _Setting, starts: _Setting, where: str):
    if _grid_wins(start, starts, where):
        means, stds = starts.value["mean"], starts.value["std"]
        return tuple(Start(m, s) for m in means for s in stds), (means, stds)
    value = start.value
    return (Start(float(value["mean"]), float(value["std"])),), None


def _toml_error(err: tomllib.TOMLDecodeError, file: str) -> ScenarioError:
    message = str(err)
    found = _POSITION.search(message)
    if found:
        path = f"line {found.group(1)}, column {found.group(2)}"
        message = message[: found.start()]
    elif _END.search(message):
        path, message = "end of document", _END.sub("", message)
    else:
        path = "(file)"
    return ScenarioError(file, path, message or "invalid TOML", _TOML_ALLOWED)


def scenario_name(file: str) -> str:
    name = Path(file).stem
    if not file.startswith("<") and not _matches(F.NAME_PATTERN, name):
        raise ScenarioError(
            file,
            "(file)",
            f"the file stem {_show(name)} is not a valid scenario name",
            f"rename the file to match {F.NAME_PATTERN}.toml",
        )
    return name


def read_table(text: str, file: str = PSEUDO_FILE) -> dict:
    """Scenario TOML as its table, unvalidated; bad TOML is a ScenarioError naming its line."""
    if not isinstance(text, str):
        raise ScenarioError(file, "(file)", f"expected text, got {type(text).__name__}", _TOML_ALLOWED)
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as err:
        raise _toml_error(err, file) from None
    except ValueError:  # int() refuses literals beyond sys.get_int_max_str_digits()
        what = "a number in the file has too many digits"
        raise ScenarioError(file, "(file)", what, _TOML_ALLOWED) from None
    except RecursionError:
        what = "arrays or tables are nested too deeply"
        raise ScenarioError(file, "(file)", what, _TOML_ALLOWED) from None


def parse_scenario(text: str, file: str = PSEUDO_FILE) -> Scenario:
    """Validate and resolve scenario TOML; `file` names it in errors and gives its name."""
    file = str(file)
    name = scenario_name(file)
    return _Reader(file).scenario(read_table(text, file), name)


def parse_table(data: Any, file: str = "<dict>", name: str = "scenario") -> Scenario:
    """Validate and resolve a scenario given as the table its TOML would parse to."""
    return _Reader(str(file)).scenario(data, name)


def parse_figure(table: Any, file: str, path: str = "figure") -> FigureStyle:
    """A [figure] table outside a scenario (a project's divfit.toml), read by the same rules."""
    reader = _Reader(file)
    return reader.figure(reader.value(table, F.FIGURE, path), path)


def read_text(path) -> str:
    """A scenario file's text; unreadable or non-UTF-8 files are ScenarioErrors."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        what = f"cannot read the file ({err.strerror or type(err).__name__})"
        raise ScenarioError(file, "(file)", what, "a readable scenario .toml file") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        before = raw[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        raise ScenarioError(
            file,
            f"line {line}, column {column}",
            f"the file is not valid UTF-8 (byte 0x{raw[err.start]:02x})",
            "save the file as UTF-8 encoded TOML",
        ) from None


def load_scenario(path) -> Scenario:
    """Read and parse a scenario file."""
    return parse_scenario(read_text(path), str(path))
