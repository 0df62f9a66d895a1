"""The static site: read content, build pages, write files (like mkdocs).

Pages are rendered by jinja2 with autoescaping on: scenario titles and
descriptions are text, never HTML. Every link is relative, so the site works
under any sub-path and from file://. The whole site is assembled in a fresh
folder and swapped in only when every page is written, so a failed build
leaves the previous site whole.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from PIL import Image

from ..atomic import atomic_write
from ..errors import BuildError
from ..core.estimators import ESTIMATORS
from ..core.family import FAMILIES
from ..render import labels
from ..render.plane import load_view
from ..project import Site
from ..resources import CONTENT, STATIC, TEMPLATES
from ..scenario import Scenario
from ..style import palette
from . import assets, prose

FIGURE_FORMATS = ("pdf", "svg", "png")


@dataclass
class Page:
    path: str  # relative to the site root, e.g. "scenarios/textbook.html"
    template: str
    context: dict

    @property
    def root(self) -> str:
        return "../" * self.path.count("/")


@dataclass
class ScenarioMedia:
    """Where a scenario's built files are, under build/."""

    scenario: Scenario
    records: list[Path]
    media: Path  # build/media/<name>
    assets: Path  # build/media/<name>/site
    video: Path | None
    analyses: tuple[str, ...] = ()  # the kinds of analysis it has, each a figure and a CSV


def environment(site: Site = Site()) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["math"] = lambda tex: Markup(prose.math(tex))
    env.globals["palette"] = palette()  # the scrubber legend's swatches
    env.globals["site"] = site
    return env


# ------------------------------------------------------------ files


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _diagnostics_table(path: Path) -> list[dict]:
    """The diagnostics CSV grouped for the page: one group per estimator, one row per K."""
    import csv

    groups: dict[tuple, dict] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["divergence"], row["direction"], row["alpha"], row["estimator"], row["baseline"])
            run = {"divergence": row["divergence"], "direction": row["direction"],
                   "alpha": float(row["alpha"]) if row["alpha"] else None}
            g = groups.setdefault(key, {"formula": labels.divergence_tex(run), "estimator": labels.estimator_long(
                {**run, "estimator": row["estimator"], "baseline": row["baseline"]}), "rows": {}})
            cell = g["rows"].setdefault(int(row["K"]), {})
            for stat in ("mse", "bias", "bias_se", "snr"):
                cell[f"{stat}_{row['coordinate']}"] = float(row[stat]) if row[stat] else None
    return [{**g, "rows": sorted(g["rows"].items())} for g in groups.values()]


def _basins_table(path: Path) -> list[dict]:
    """The basins CSV as the page's table: per run, the share of starts with each outcome."""
    import csv

    from ..core.basins import DIVERGED, NOT_CONVERGED, OUTCOMES

    counts: dict[str, dict[str, int]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            c = counts.setdefault(row["run"], {})
            c[row["outcome"]] = c.get(row["outcome"], 0) + 1
    rows = []
    for run, c in counts.items():
        total = sum(c.values())
        share = lambda k: 100.0 * c.get(k, 0) / total  # noqa: E731
        local = sum(v for k, v in c.items() if k not in OUTCOMES.values() and k != "0")
        rows.append({"run": run, "starts": total, "global": share("0"), "local": 100.0 * local / total,
                     "not_converged": share(OUTCOMES[NOT_CONVERGED]), "diverged": share(OUTCOMES[DIVERGED])})
    return rows


def _figure_files(sm: ScenarioMedia, base: str, out: Path, rel: str, preview: bool = True) -> dict:
    """Link a figure's downloads into the site; pages show a light preview of it
    (made with the scenario's assets, linked with them)."""
    f = {ext: f"{rel}/{base}.{ext}" for ext in FIGURE_FORMATS}
    for ext in FIGURE_FORMATS:
        _link_or_copy(sm.media / f"{base}.{ext}", out / f"{base}.{ext}")
    if preview:
        f["preview"] = f"{rel}/{assets.preview_path(sm.assets, base).name}"
        with Image.open(sm.media / f"{base}.png") as im:
            f["aspect"] = im.height / im.width
    return f


def _scenario_files(sm: ScenarioMedia, site: Path) -> dict:
    """Link a scenario's outputs into the site; return their site-relative paths."""
    name = sm.scenario.name
    rel = f"media/{name}"
    out = site / rel
    files: dict = {"figures": {}, "records": [], "csv": [], "csv_of": {}, "video": None, "poster": None,
                   "diagnostics_table": None, "basins_table": None}
    previewed = assets.previewed(sm.analyses)
    for base in ("summary", "snapshots", *sm.analyses):
        files["figures"][base] = _figure_files(sm, base, out, rel, preview=base in previewed)
    for kind in sm.analyses:
        _link_or_copy(sm.assets / f"{kind}.csv", out / f"{kind}.csv")
        files["csv_of"][kind] = f"{rel}/{kind}.csv"
    if "diagnostics" in files["csv_of"]:
        files["diagnostics_table"] = _diagnostics_table(sm.assets / "diagnostics.csv")
    if "basins" in files["csv_of"]:
        files["basins_table"] = _basins_table(sm.assets / "basins.csv")
    _link_or_copy(sm.media / f"{name}.gif", out / f"{name}.gif")
    files["gif"] = f"{rel}/{name}.gif"
    for rec in sm.records:
        _link_or_copy(rec, out / rec.name)
        files["records"].append(f"{rel}/{rec.name}")
        csv = sm.assets / f"{rec.stem}.csv"
        _link_or_copy(csv, out / csv.name)
        files["csv"].append(f"{rel}/{csv.name}")
    for asset in sm.assets.iterdir():
        if asset.suffix in {".js", ".webp"} and not asset.name.startswith("."):
            _link_or_copy(asset, out / asset.name)
    files["scrubber"] = f"{rel}/scrubber.js"
    files["assets"] = f"{rel}/"
    if sm.video is not None:
        from ..video.render import companions

        made = companions(sm.video)
        for kind in ("video", "poster", "captions", "chapters"):
            _link_or_copy(made[kind], out / made[kind].name)
            files[kind] = f"{rel}/{made[kind].name}"
        files["poster_png"] = files["poster"]
        files["poster"] = f"{rel}/{assets.POSTER_PREVIEW}"
    return files


def _gallery_files(folder: Path, out: Path, rel: str) -> list[dict]:
    """Link the gallery's cells into the site; each cell with its site-relative files."""
    import json

    cells = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    for cell in cells:
        for kind in ("gif", "poster"):
            _link_or_copy(folder / cell[kind], out / cell[kind])
            cell[kind] = f"{rel}/{cell[kind]}"
    return cells


# ------------------------------------------------------------ pages


def scenario_context(scn: Scenario, files: dict, views: list | None = None) -> dict:
    """What a page's blocks (_blocks.html) need of a scenario: its runs' labels,
    its `files` and, given its runs' `views`, the legend (the figures' and the
    videos' own entries)."""
    runs = []
    for run in scn.runs:
        d = scn.run_dict(run)["run"]
        where = labels.parameterization(d, scn.target.dim)
        if scn.target.dim == 2:
            where += ", " + labels.family_2d(d)
        elif FAMILIES[d["family"]].fixed_std:
            where += ", σ fixed"
        runs.append({
            "name": run.name,
            "formula": labels.divergence_tex(d),
            "estimator": labels.estimator_long(d), "samples": d["samples"], "steps": d["steps"],
            "optimizer": labels.optimizer(d), "coordinates": where,
            "grid": d.get("start_grid"),
            "draws_weights": ESTIMATORS[d["estimator"]].draws_weights, "monte_carlo": run.monte_carlo,
        })
    legend = []
    if views:
        from ..render.plane import legend as plane_legend
        from ..render.view import legend as line_legend

        legend = (plane_legend if scn.target.dim == 2 else line_legend)(views)
    return {"scenario": scn, "runs": runs, "files": files, "planar": scn.target.dim == 2,
            "has_grid": any(r["grid"] for r in runs), "legend": legend}


def _prose_page(source: Path, contexts: dict[str, dict], env: Environment, root: str) -> str:
    """A Markdown page of `site/content`; its directives place scenarios' media."""
    text = source.read_text(encoding="utf-8")
    macros = env.get_template("_blocks.html").make_module({"root": root})

    def place(d: prose.Directive) -> str:
        if d.name not in contexts:
            raise BuildError(f"{source.name}: '::: {d.kind} {d.name}': no scenario named {d.name!r} in scenes/")
        if d.kind != "figure":
            return str(getattr(macros, d.kind)(contexts[d.name], True))
        which = d.detail or "summary"
        if which not in contexts[d.name]["files"]["figures"] or "preview" not in contexts[d.name]["files"]["figures"][which]:
            raise BuildError(f"{source.name}: '::: figure {d.name} {which}': {d.name} has no {which} figure")
        return str(macros.figure(contexts[d.name], True, which))

    return prose.render(text, place, where=source.name)


def story_order(content: Path, names: list[str]) -> list[str]:
    """Scenario names in the order the article first places them, then the rest
    by name: the front page's order, and the gallery's."""
    article = Path(content) / "article.md"
    told = [d.name for d in prose.directives(article.read_text(encoding="utf-8"))] if article.exists() else []
    rank = {name: i for i, name in reversed(list(enumerate(told)))}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def render_site(scenarios: list[ScenarioMedia], site_dir: Path, gallery: Path | None,
                content: Path = CONTENT, site: Site = Site()) -> Path:
    """Build the whole site in a fresh folder beside `site_dir`, then swap it in."""
    site_dir = Path(site_dir)
    staging = site_dir.with_name(f".{site_dir.name}-new-{os.getpid()}")
    old = site_dir.with_name(f".{site_dir.name}-old-{os.getpid()}")
    for leftover in site_dir.parent.glob(f".{site_dir.name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        shutil.copytree(STATIC, staging / "static")
        env = environment(site)
        contexts = {sm.scenario.name: scenario_context(sm.scenario, _scenario_files(sm, staging),
                                                       [load_view(p) for p in sm.records]) for sm in scenarios}
        cells = _gallery_files(gallery, staging / "media" / "gallery", "media/gallery") if gallery else []
        ordered = [contexts[name] for name in story_order(content, list(contexts))]
        pages = [Page("index.html", "index.html", {
            "intro": Markup(_prose_page(Path(content) / "index.md", contexts, env, "")),
            "scenarios": ordered, "gallery": cells})]
        article = Path(content) / "article.md"
        pages.append(Page("article.html", "article.html", {
            "body": Markup(_prose_page(article, contexts, env, "")), "title": prose.title(article.read_text("utf-8"))}))
        for ctx in ordered:
            pages.append(Page(f"scenarios/{ctx['scenario'].name}.html", "scenario.html", ctx))
        analyses = {"estimators": [c for c in ordered if c["files"]["diagnostics_table"]],
                    "sweeps": [c for c in ordered if "alpha-sweep" in c["files"]["csv_of"]],
                    "basins": [c for c in ordered if c["files"]["basins_table"]]}
        nav = [("index.html", "Scenarios"), ("article.html", "Article")]
        if any(analyses.values()):  # a project without analyses has no page for them
            pages.append(Page("diagnostics.html", "diagnostics.html", analyses))
            nav.append(("diagnostics.html", "Diagnostics"))
        for page in pages:
            html = env.get_template(page.template).render(root=page.root, page=page.path, nav=nav, **page.context)
            atomic_write(staging / page.path, html.encode("utf-8"))
        if site_dir.exists():
            os.replace(site_dir, old)
        os.replace(staging, site_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return site_dir / "index.html"
