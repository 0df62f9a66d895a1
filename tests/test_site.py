"""The static site: prose and math, the scrubber payload, the pages and their
links and weight, and the pages in a real browser (headless Chromium driven by
Playwright) against the site served on 127.0.0.1."""

from __future__ import annotations

import base64
import dataclasses
import functools
import gzip
import http.server
import html
import json
import os
import re
import shutil
import threading
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import av
import numpy as np
import pytest

from divcore import pipeline, runner, trajectory
from divcore.core import space
from divcore.render import labels
from divcore.render.view import RunView, featured_member
from divcore.scenario import fields as F
from divcore.scenario import load_scenario, parse_scenario
from divcore.site import assets, payload, prose
from divcore.style import RUG_LEVELS, rug_level

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 300_000  # bytes, gzip, per scenario page without its video

EVIL = """
title = "<script>window.__pwned = 1</script> Evil & \\"quoted\\""
description = "<b>not bold</b> <img src=x onerror=\\"window.__pwned = 2\\">"
[target]
components = [{ mean = -2.0, std = 0.8, weight = 0.5 }, { mean = 2.0, std = 0.8, weight = 0.5 }]
[fit]
start = { mean = 0.5, std = 1.0 }
lr = 0.05
steps = 40
[[runs]]
name = "only"
divergence = "kl"
direction = "reverse"
"""


# ------------------------------------------------------------ prose and math


def test_the_articles_directives_name_real_scenes():
    names = {p.stem for p in (ROOT / "scenes").glob("*.toml")}
    used = prose.directives((ROOT / "site/content/article.md").read_text())
    assert used and {d.name for d in used} <= names
    assert {d.kind for d in used} >= {"scrubber", "video"}


# ------------------------------------------------------------ built site


# The site these tests read has the scenes of scenes/ but NOT_IN_SITE (below),
# each cut down to what the tests below
# look at: its headline run (the gallery's) and the runs named in SMALL_RUNS,
# at most SMALL_STEPS steps (a GIF has a frame per step up to 150), a 7 x 7
# basin map, 400 estimates per diagnostics point, one snapshot and the
# shortest video. Built as written, its 69 runs took over 15 minutes on two
# cores, mostly in figures, GIFs and videos whose cost grows with the runs,
# not the steps. test_every_scene_file_runs_as_written runs the scene files
# as written for a few steps.
SMALL_STEPS = 40
SMALL_RUNS = {  # scene: (runs kept beside the headline, steps)
    # the weight curve is drawn for importance sampling and for no other run
    "importance-sampling-k": (("exact", "k256"), SMALL_STEPS),
    # starts picked on two landscapes; more frames than a 15-start grid may ship, and a replay past step 60
    "forward-reverse-kl": (("forward",), 200),
    "chi-square": (("forward",), SMALL_STEPS),  # two runs that the keyboard moves together
    # the diagnostics table: every estimator of KL and chi-square, both ways
    "estimator-noise": (("kl-forward", "chi2-forward", "chi2-reverse"), SMALL_STEPS),
    "basins": (("reverse-exact",), SMALL_STEPS),  # an exact map beside a Monte Carlo one
    "k-sweep": (("is-k256", "reinforce-k256"), 400),  # rugs past the rug budget
    # on the plane: a start grid beside a single start, and both families' CSV columns
    "bishop-two-modes": (("reverse-right",), SMALL_STEPS),
    "full-vs-mean-field": (("mean-field",), SMALL_STEPS),
}
# Scenes the browser tests' site leaves out: every way of drawing they have
# (landscapes in each parameterization, estimators' rugs, a 2-D mean-field run)
# is drawn by a scene the site keeps, and each costs about 30 s of the
# suite's CPU. They are checked by what is cheap: test_every_scene_file_runs_as_written
# and test_the_small_scenes_are_the_scene_files_cut_down; the site's article
# is the real one without the blocks that place them.
NOT_IN_SITE = {"adam-vs-natural", "sticking-the-landing", "sticking-the-landing-modes", "textbook", "three-modes",
               "unequal-weights", "bishop-mean-field"}
SMALL_BASINS = 7
FEW_STEPS = 5  # the scene files as written, in test_every_scene_file_runs_as_written
SMALL_REPEATS = 400


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    return repr(value)


def _toml_file(doc: dict) -> str:
    lines = [f"{k} = {_toml(v)}" for k, v in doc.items() if not isinstance(v, (dict, list))]
    for key, value in doc.items():
        for table in [value] if isinstance(value, dict) else value if isinstance(value, list) else []:
            lines.append(f"[{key}]" if isinstance(value, dict) else f"[[{key}]]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def small_scene(path: Path) -> str:
    """The scene file at `path` cut down for the test site."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    extra, steps = SMALL_RUNS.get(path.stem, ((), SMALL_STEPS))
    names = [r["name"] for r in doc["runs"]]
    assert set(extra) <= set(names), f"{path.name} has no run {sorted(set(extra) - set(names))}: update SMALL_RUNS"
    media = doc.setdefault("media", {})
    keep = {media.get("headline", names[0]), *extra}
    doc["runs"] = [r for r in doc["runs"] if r["name"] in keep]
    fit = doc.setdefault("fit", {})
    fit["steps"] = min(fit.get("steps", steps), steps)
    for run in doc["runs"]:
        run["steps"] = min(run.get("steps", steps), steps)
    if "basins" in doc:
        doc["basins"].update(size=SMALL_BASINS, steps=min(doc["basins"].get("steps", steps), steps))
    if "diagnostics" in doc:
        doc["diagnostics"]["repeats"] = min(doc["diagnostics"].get("repeats", SMALL_REPEATS), SMALL_REPEATS)
    media["video_seconds"] = F.MEDIA.child("video_seconds").minimum
    media["snapshots"] = [1.0]  # the snapshots figure draws a panel per run and snapshot
    return _toml_file(doc)


def test_the_small_scenes_are_the_scene_files_cut_down():
    for path in sorted((ROOT / "scenes").glob("*.toml")):
        real, small = load_scenario(path), parse_scenario(small_scene(path), path.name)
        _, steps = SMALL_RUNS.get(path.stem, ((), SMALL_STEPS))
        assert small.target == real.target and small.title == real.title and small.description == real.description
        assert real.media.headline in [r.name for r in small.runs]
        for run in small.runs:
            want = real.run_named(run.name)
            assert run == dataclasses.replace(want, steps=min(want.steps, steps))
        assert (small.basins is None) == (real.basins is None) and (small.diagnostics is None) == (real.diagnostics is None)
        if small.basins:
            assert small.basins.size == SMALL_BASINS and small.basins.steps <= steps
        if small.diagnostics:
            assert small.diagnostics == dataclasses.replace(real.diagnostics,
                                                            repeats=min(real.diagnostics.repeats, SMALL_REPEATS))


@pytest.mark.parametrize("path", sorted((ROOT / "scenes").glob("*.toml")), ids=lambda p: p.stem)
def test_every_scene_file_runs_as_written(path, tmp_path):
    """What the small site leaves out: every run of every scene file, with its
    own starts, estimator and settings, a few steps; its basin maps' starts and
    its diagnostics at their fewest; the runs table of its page."""

    from divcore.site import pages

    scn = load_scenario(path)
    p = runner.mixture(scn.target)
    fewest = dataclasses.replace(scn.basins, size=F.BASINS.child("size").minimum) if scn.basins else None
    for run in scn.runs:
        for cfg in [run] + ([runner.basin_config(run, fewest)] if fewest else []):
            few = dataclasses.replace(cfg, steps=FEW_STEPS)
            sp = space.for_run(few, p.dim)
            rec = runner.simulate(p, few, sp=sp)
            value = sp.values(p, rec)  # each state's exact divergence, on the line or the plane
            assert value.shape == (cfg.batch_size, FEW_STEPS + 1), run.name
            assert (rec["status"] == runner.RAN_ALL_STEPS).all() and not np.isnan(value).any(), run.name
            assert (rec["phi"][:, -1] != rec["phi"][:, 0]).any(axis=1).all(), run.name  # every member moved
    if scn.diagnostics is not None:
        d = dataclasses.replace(scn.diagnostics, repeats=F.DIAGNOSTICS.child("repeats").minimum)
        parts, join, meta = pipeline._diagnostics_tasks(dataclasses.replace(scn, diagnostics=d))
        table = join.fn(*join.args, [task.fn(*task.args) for task in parts])  # the build's tasks, one by one
        trajectory.save(tmp_path / "diagnostics.npz", table, meta)
        assert assets.ANALYSES["diagnostics"]([trajectory.load(tmp_path / "diagnostics.npz")]).count("\n") > 1
    runs = pages.scenario_context(scn, {})["runs"]
    assert [prose.math(r["formula"]).count("<math") for r in runs] == [1] * len(scn.runs)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Every starter scene, cut down, plus one with hostile text, built at low quality.
    DIVFIT_TEST_BUILD=DIR keeps the build in DIR, so a rerun only rebuilds what changed."""
    kept = os.environ.get("DIVFIT_TEST_BUILD")
    tmp = Path(kept) if kept else tmp_path_factory.mktemp("site")
    scenes = tmp / "scenes"
    shutil.rmtree(scenes, ignore_errors=True)
    scenes.mkdir(parents=True)
    for f in site_scenes():
        (scenes / f.name).write_text(small_scene(f), encoding="utf-8")
    (scenes / "evil.toml").write_text(EVIL)
    P, _ = pipeline.build(sorted(scenes.glob("*.toml")), tmp / "build", jobs=os.cpu_count() or 1, quality="low",
                          content=site_content(tmp / "content"))
    return P


def site_scenes() -> list[Path]:
    return [f for f in sorted((ROOT / "scenes").glob("*.toml")) if f.stem not in NOT_IN_SITE]


def site_content(folder: Path) -> Path:
    """site/content with the article's blocks of the scenes the test site leaves out taken out."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "site/content", folder)
    article = folder / "article.md"
    kept = [line for line in article.read_text(encoding="utf-8").splitlines(keepends=True)
            if not any(re.match(rf"::: \w+ {re.escape(name)}\b", line) for name in NOT_IN_SITE)]
    article.write_text("".join(kept), encoding="utf-8")
    return folder


def test_the_test_sites_article_leaves_out_only_the_blocks_of_scenes_it_has_not(tmp_path):
    real = prose.directives((ROOT / "site/content/article.md").read_text())
    kept = prose.directives((site_content(tmp_path / "content") / "article.md").read_text())
    assert kept == [d for d in real if d.name not in NOT_IN_SITE] and len(kept) < len(real)


def _scene(P, scenario: str):
    return load_scenario(P.data_dir.parent.parent / "scenes" / f"{scenario}.toml")


def _record(P, scenario: str, run: str) -> dict:
    return trajectory.load(P.data_dir / scenario / f"{run}.npz")


def _payload(P, scenario: str) -> dict:
    text = (P.site_dir / "media" / scenario / "scrubber.js").read_text()
    return json.loads(text.split("] = ", 1)[1].rstrip().rstrip(";"))


def test_payload_frames_match_the_records(built):
    data = _payload(built, "importance-sampling-k")
    assert len(data["frames"]) <= payload.MAX_FRAMES and data["frames"][0] == 0
    for run in data["runs"]:
        rec = _record(built, "importance-sampling-k", run["name"])
        b = run["featured"]
        steps = np.minimum(data["frames"], rec["grad"].shape[1])
        member = run["members"][b]
        np.testing.assert_allclose(member["value"], rec["divergence"][b, steps], rtol=1e-5)
        np.testing.assert_allclose(member["mean"], rec["mean"][b, steps], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(member["std"], rec["std"][b, steps], rtol=1e-5)


def test_quantised_particles_decode_to_the_recorded_ones(built):
    data = _payload(built, "importance-sampling-k")
    lo, hi = data["x"]
    run = next(r for r in data["runs"] if r["name"] == "k4")
    rec = _record(built, "importance-sampling-k", "k4")
    rug = np.frombuffer(base64.b64decode(run["members"][0]["rug"]), dtype=np.uint8)
    assert run["rugMax"] == 4
    rug = rug.reshape(len(data["frames"]), run["rugMax"], 2)
    for i in (1, 10, len(data["frames"]) // 2):
        t = data["frames"][i]
        z, c = rec["particles"][0, t], rec["particle_weights"][0, t]
        shown = rug[i][rug[i, :, 1] > 0]
        inside = (z >= lo) & (z <= hi)
        assert len(shown) == inside.sum()
        np.testing.assert_allclose(lo + shown[:, 0] / 255 * (hi - lo), z[inside], atol=(hi - lo) / 255)
        want = rug_level(c)[inside] + 1 + np.where(c[inside] >= 0, 0, RUG_LEVELS)
        np.testing.assert_array_equal(shown[:, 1], want)


def test_a_start_grid_ships_every_member_within_the_frame_budget(built):
    data = _payload(built, "forward-reverse-kl")
    for run in data["runs"]:
        assert len(run["members"]) == 15 and run["grid"]
        assert run["members"][run["featured"]]["start"] == [1.0, 1.2]
    assert len(data["frames"]) * 30 <= payload.MEMBER_FRAMES
    # the budget binds: a frame for every step would not fit
    steps = max(r["steps"] for r in data["runs"])
    assert len(payload.frame_steps(steps, payload.MAX_FRAMES)) * 30 > payload.MEMBER_FRAMES


def test_csv_has_every_state_of_every_member(built):
    rec = _record(built, "forward-reverse-kl", "reverse")
    rows = (built.site_dir / "media/forward-reverse-kl/reverse.csv").read_text().splitlines()
    assert rows[0] == ",".join(assets.CSV_COLUMNS[:-1])
    B, S1 = rec["mean"].shape
    assert len(rows) == 1 + B * S1
    member, step, mean, std, *_ = rows[1 + 5 * S1 + 7].split(",")
    assert (int(member), int(step)) == (5, 7)
    assert float(mean) == pytest.approx(rec["mean"][5, 7], rel=1e-9)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "poster") and value:
                self.links.append(value)


def _local_links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return [u for u in parser.links if not re.match(r"^(https?:|mailto:|data:|#)", u)]


def test_every_link_resolves_to_a_file(built):
    site = built.site_dir
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).as_posix() for p in pages} >= {"index.html", "article.html",
                                                                "scenarios/forward-reverse-kl.html"}
    missing = []
    for page in pages:
        for url in _local_links(page):
            target = (page.parent / url.split("#")[0].split("?")[0]).resolve()
            if not target.is_file() or site.resolve() not in target.parents:
                missing.append(f"{page.relative_to(site)} -> {url}")
        # the images the scrubber loads by name
    for js in site.glob("media/*/scrubber.js"):
        for run in json.loads(js.read_text().split("] = ", 1)[1].rstrip().rstrip(";"))["runs"]:
            if "landscape" in run and not (js.parent / run["landscape"]["image"]).is_file():
                missing.append(f"{js} -> {run['landscape']['image']}")
    assert missing == []


class _Loaded(HTMLParser):
    """What a browser fetches with the page: scripts, images, posters, stylesheets."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img") and a.get("src"):
            self.urls.append(a["src"])
        elif tag == "video" and a.get("poster"):
            self.urls.append(a["poster"])
        elif tag == "link" and a.get("rel") == "stylesheet":
            self.urls.append(a["href"])


def _page_weight(page: Path) -> int:
    """Gzip bytes of the page and everything it loads, lazy images included,
    the video excepted (its poster included): a bound on what a visit costs."""
    parser = _Loaded()
    parser.feed(page.read_text(encoding="utf-8"))
    paths = {(page.parent / url).resolve() for url in parser.urls}
    paths |= set(page.parent.parent.glob(f"media/{page.stem}/land-*"))  # drawn by the scrubber
    return len(gzip.compress(page.read_bytes())) + sum(len(gzip.compress(p.read_bytes())) for p in paths)


def test_every_scenario_page_fits_the_weight_budget(built):
    weights = {p.stem: _page_weight(p) for p in (built.site_dir / "scenarios").glob("*.html")}
    over = {k: v for k, v in weights.items() if v > BUDGET}
    assert len(weights) == len(site_scenes()) + 1 and over == {}


def test_titles_and_descriptions_are_escaped_text(built):
    html = (built.site_dir / "scenarios/evil.html").read_text()
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned" in html
    assert "<b>not bold</b>" not in html and "onerror=\"window" not in html


def test_a_second_build_does_no_work_and_leaves_the_site_as_it_was(built):
    build = built.data_dir.parent
    site = built.site_dir
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    _, report = pipeline.build(sorted((build.parent / "scenes").glob("*.toml")), build, quality="low",
                               content=build.parent / "content")
    assert sum(report.built.values()) == 0
    assert not list(build.glob(".site-*"))
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == before


# ------------------------------------------------------------ in a browser


@pytest.fixture(scope="session")
def server(built):
    handler = functools.partial(_QuietHandler, directory=str(built.site_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Watched:
    """A page that collects console errors, page errors and failed requests."""

    def __init__(self, browser, width=1200):
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: self.problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)

    def open(self, url):
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        _ready_on_screen(self.page)
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser):
    w = _Watched(browser)
    yield w
    w.close()


def _ready_on_screen(page):
    """Wait until the scrubbers on the first screen have their payloads and are set up."""
    page.wait_for_function("""() => [...document.querySelectorAll('section.scrubber')]
        .filter(s => s.getBoundingClientRect().top < innerHeight).every(s => s.classList.contains('ready'))""")


def _read_through(page):
    """Scroll every scrubber into view, as a reader would, waiting for each to be set up."""
    for i in range(page.locator("section.scrubber").count()):
        section = page.locator("section.scrubber").nth(i)
        section.scroll_into_view_if_needed()
        page.wait_for_function("s => s.classList.contains('ready')", arg=section.element_handle())


def _readouts(page, scenario_run=None):
    return page.eval_on_selector_all(
        ".sc-run", "els => els.map(e => ({run: e.dataset.run, step: +e.querySelector('.sc-readout').dataset.step,"
        " value: e.querySelector('.sc-readout').dataset.value, member: +e.querySelector('.sc-readout').dataset.member,"
        " text: e.querySelector('.sc-readout').textContent}))")


def _seen(page, selector):
    """Scroll a run's canvas into view and wait until it shows the scrubber's
    frame: runs are drawn only once on screen."""
    page.eval_on_selector(selector, "c => c.scrollIntoView({block: 'center'})")
    page.wait_for_function("""sel => {
        const run = document.querySelector(sel).closest('.sc-run');
        return run.dataset.drawn === run.closest('section.scrubber').dataset.frame;
      }""", arg=selector)


def _canvas(page, selector):
    _seen(page, selector)
    return page.eval_on_selector(selector, "c => c.toDataURL()")


def test_every_page_loads_without_errors_or_failed_requests(built, server, browser):
    for page in sorted(built.site_dir.rglob("*.html")):
        w = _Watched(browser)
        try:
            w.open(server + page.relative_to(built.site_dir).as_posix())
            _read_through(w.page)
            w.page.wait_for_timeout(200)
            assert w.problems == [], page.name
            count = "(sel) => document.querySelectorAll(sel).length"
            scrubbers = w.page.evaluate(count, "section.scrubber")
            assert w.page.evaluate(count, "section.scrubber.ready") == scrubbers, page.name
            if page.parent.name == "scenarios" or page.name == "article.html":
                assert scrubbers >= 1, page.name
        finally:
            w.close()


def test_the_slider_draws_the_recorded_frame(built, server, watched):
    page = watched.open(server + "scenarios/importance-sampling-k.html")
    frames = _payload(built, "importance-sampling-k")["frames"]
    before = _canvas(page, ".sc-run[data-run='k4'] canvas.sc-dist")
    i = len(frames) // 3
    page.eval_on_selector(".sc-slider", "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }", i)
    assert _canvas(page, ".sc-run[data-run='k4'] canvas.sc-dist") != before
    for r in _readouts(page):
        rec = _record(built, "importance-sampling-k", r["run"])
        step = min(frames[i], rec["grad"].shape[1])
        assert r["step"] == step
        assert float(r["value"]) == pytest.approx(rec["divergence"][0, step], rel=1e-5)
        assert f"= {labels.fmt(rec['divergence'][0, step])}" in r["text"] and f"step {step} /" in r["text"]
    assert f"step={frames[i]}" in page.evaluate("location.hash")


def _canvas_colour_pixels(page, selector, hex_colour: str, tol: int = 24) -> int:
    """How many pixels of a canvas are within `tol` of a colour, counted in the page."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    _seen(page, selector)
    return page.eval_on_selector(selector, """(c, a) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (Math.abs(d[i] - a[0]) <= a[3] && Math.abs(d[i + 1] - a[1]) <= a[3] && Math.abs(d[i + 2] - a[2]) <= a[3]) n++;
        }
        return n;
      }""", [*rgb, tol])


def test_the_scrubber_draws_the_numbers_of_the_drawing_model(built, server, watched):
    """The page is handed the panel's top and the weight curve's scale per frame,
    and writes the readout as Python's Readout does; it draws the weight curve
    for importance sampling and no other run."""
    from divcore.style import palette

    page = watched.open(server + "scenarios/importance-sampling-k.html")
    data = _payload(built, "importance-sampling-k")
    i = len(data["frames"]) // 4
    page.eval_on_selector(".sc-slider", "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }", i)
    tops = page.evaluate("window.divfitScrubbers[0].runs.map(r => r.top)")
    readouts = {r["run"]: r["text"] for r in _readouts(page)}
    weight = {}
    for k, run in enumerate(data["runs"]):
        m = run["members"][run["featured"]]
        assert tops[k] == m["top"]
        step = min(data["frames"][i], run["steps"])
        parts = [f"{run['label']} = {labels.fmt(m['value'][i])}"]
        if run["samples"]:
            parts.append(f"ESS = {m['ess'][i]:.1f} / {run['samples']}")
        parts.append(f"step {step} / {run['steps']}")
        assert readouts[run["name"]] == "   ".join(parts)
        weight[run["name"]] = _canvas_colour_pixels(page, f".sc-run[data-run='{run['name']}'] canvas.sc-dist",
                                                    palette()["weight"])
    assert weight["exact"] == 0 and weight["k4"] > 50 and weight["k256"] > 50
    values = [0.0, 0.690712, 12.3456, 9999.5, 12345.6, 0.0000123, 0.000123, 1.0, 2.5e-300, 1e100, 123.0]
    assert page.evaluate("vs => vs.map(v => window.divfitFormat(v))", values) == [labels.fmt(v) for v in values]


def test_the_video_draws_the_weight_curve_for_importance_sampling(built):
    counts = {}
    for scenario in ("importance-sampling-k", "forward-reverse-kl"):
        video = built.media_dir / scenario / f"{scenario}.mp4"
        side = json.loads(video.with_suffix(".video.json").read_text())
        middle = int(side["fps"] * (side["animation_start"] + side["step_times"][-1] / 2))  # of the animation
        with av.open(str(video)) as c:
            for j, frame in enumerate(c.decode(video=0)):
                if j == middle:
                    counts[scenario] = _orange_pixels(np.asarray(frame.to_image().convert("RGB")).astype(int))
                    break
    assert counts["importance-sampling-k"] > 100 and counts["forward-reverse-kl"] < 5


def _orange_pixels(rgb: np.ndarray) -> int:
    """Pixels of the weight curve's orange (#E69F00) in a decoded video frame, whose
    thin lines H.264's halved chroma blurs: by hue, apart from the landscape's
    yellows, the rug's vermilion and the marker's pink."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r >= 170) & (g >= 110) & (g <= 200) & (b <= 90) & (r - g >= 40)).sum())


def test_the_keyboard_steps_plays_and_jumps(built, server, watched):
    page = watched.open(server + "scenarios/chi-square.html")
    frames = _payload(built, "chi-square")["frames"]
    section = page.locator("section.scrubber")
    section.focus()
    page.keyboard.press("End")
    assert int(section.get_attribute("data-frame")) == len(frames) - 1
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert int(section.get_attribute("data-frame")) == 2
    page.keyboard.press("ArrowLeft")
    assert int(section.get_attribute("data-frame")) == 1
    page.keyboard.press(" ")
    assert page.locator(".sc-play").inner_text() == "Pause"
    page.wait_for_function("+document.querySelector('section.scrubber').dataset.frame > 3")
    page.keyboard.press(" ")
    assert page.locator(".sc-play").inner_text() == "Play"
    assert all(r["step"] == _readouts(page)[0]["step"] for r in _readouts(page))  # runs move together


def test_a_deep_link_restores_its_frame(built, server, watched):
    frames = _payload(built, "forward-reverse-kl")["frames"]
    k = len(frames) // 2
    page = watched.open(server + f"scenarios/forward-reverse-kl.html#run=reverse&step={frames[k]}&start=2")
    assert int(page.locator("section.scrubber").get_attribute("data-frame")) == k
    reverse = next(r for r in _readouts(page) if r["run"] == "reverse")
    rec = _record(built, "forward-reverse-kl", "reverse")
    assert (reverse["step"], reverse["member"]) == (frames[k], 2)
    assert float(reverse["value"]) == pytest.approx(rec["divergence"][2, frames[k]], rel=1e-5)


def test_the_start_picker_switches_trajectories(built, server, watched):
    page = watched.open(server + "scenarios/forward-reverse-kl.html")
    data = _payload(built, "forward-reverse-kl")
    run = next(r for r in data["runs"] if r["name"] == "reverse")
    assert run["featured"] == featured_member(_record(built, "forward-reverse-kl", "reverse")["config"]["run"])
    b = 1  # mean -5, std 1.2: far from the featured start
    L = run["landscape"]
    phi = _record(built, "forward-reverse-kl", "reverse")["phi"][b, 0]
    fx = (phi[0] - L["phi0"][0]) / (L["phi0"][1] - L["phi0"][0])
    fy = 1 - (phi[1] - L["phi1"][0]) / (L["phi1"][1] - L["phi1"][0])
    canvas = page.locator(".sc-run[data-run='reverse'] canvas.sc-land")
    box = canvas.bounding_box()
    before = _canvas(page, ".sc-run[data-run='reverse'] canvas.sc-land")
    canvas.click(position={"x": fx * box["width"], "y": fy * box["height"]})
    page.locator(".sc-play").click()  # pause the replay the pick started
    reverse = next(r for r in _readouts(page) if r["run"] == "reverse")
    assert reverse["member"] == b
    rec = _record(built, "forward-reverse-kl", "reverse")
    assert float(reverse["value"]) == pytest.approx(rec["divergence"][b, reverse["step"]], rel=1e-5)
    assert _canvas(page, ".sc-run[data-run='reverse'] canvas.sc-land") != before
    assert page.locator(".sc-run[data-run='reverse'] select.sc-start").input_value() == str(b)


def test_picking_a_start_during_a_replay_restarts_it(server, watched):
    page = watched.open(server + "scenarios/forward-reverse-kl.html")
    select = page.locator(".sc-run[data-run='reverse'] select.sc-start")
    select.select_option("1")
    readout = ".sc-run[data-run='reverse'] .sc-readout"
    page.wait_for_function(f"() => +document.querySelector(\"{readout}\").dataset.step > 60")
    select.select_option("2")
    page.locator(".sc-play").click()  # pause the new replay at once
    reverse = next(r for r in _readouts(page) if r["run"] == "reverse")
    assert reverse["member"] == 2 and reverse["step"] < 60
    page.wait_for_timeout(300)  # paused: no second loop left running from the first replay
    assert next(r for r in _readouts(page) if r["run"] == "reverse")["step"] == reverse["step"]


def test_a_link_keeps_the_starts_picked_on_every_landscape(server, watched, browser):
    page = watched.open(server + "scenarios/forward-reverse-kl.html")
    page.locator(".sc-run[data-run='forward'] select.sc-start").select_option("4")
    page.locator(".sc-run[data-run='reverse'] select.sc-start").select_option("1")
    page.locator(".sc-play").click()  # pause: the address now holds the frame
    link = page.url
    assert "start=1" in link and "start.forward=4" in link
    again = _Watched(browser)
    try:
        again.open(link)
        members = {r["run"]: r["member"] for r in _readouts(again.page)}
        assert members == {"forward": 4, "reverse": 1}
        assert again.problems == []
    finally:
        again.close()


def test_the_video_is_playable(server, watched):
    page = watched.open(server + "scenarios/reinforce-vs-reparam.html")
    page.wait_for_function("document.querySelector('video').readyState >= 2", timeout=20_000)
    assert watched.problems == []


def test_every_video_has_a_name_and_captions_the_browser_reads(server, watched):
    """Captions (WebVTT, written from the recorded runs) are a track of the
    player and a download beside the MP4; Chromium parses them into cues."""
    page = watched.open(server + "scenarios/reinforce-vs-reparam.html")
    video = page.locator("video")
    assert video.get_attribute("aria-label").startswith("Video: ")
    cues = page.evaluate("""() => new Promise(done => {
        const t = document.querySelector('video').textTracks[0];
        t.mode = 'hidden';
        const wait = () => t.cues && t.cues.length ? done([...t.cues].map(c => [c.startTime, c.text]))
                                                   : setTimeout(wait, 50);
        wait();
      })""")
    assert cues[0][0] == 0 and "Step 0:" in cues[1][1] and "Final, step" in cues[-1][1]
    assert [c[0] for c in cues] == sorted(c[0] for c in cues)
    chapters = page.evaluate("""() => new Promise(done => {
        const t = [...document.querySelector('video').textTracks].find(t => t.kind === 'chapters');
        t.mode = 'hidden';
        const wait = () => t.cues && t.cues.length ? done([...t.cues].map(c => c.text)) : setTimeout(wait, 50);
        wait();
      })""")
    assert chapters[1] == "The start" and chapters[-1].startswith("Step ")
    assert watched.problems == []


def test_math_is_rendered_and_no_tex_is_left(server, watched):
    page = watched.open(server + "article.html")
    assert page.eval_on_selector_all("math", "els => els.length") > 20
    # a rendered formula has a real box, not zero size
    assert page.eval_on_selector("math[display=block]", "m => m.getBoundingClientRect().height") > 20
    text = page.inner_text("main")
    assert not re.search(r"\$[^$\s][^$]*\$", text) and "\\mathrm" not in text and ":::" not in text


def test_scrubbers_are_drawn_only_once_seen(server, browser):
    """A long page fetches a scrubber's payload and sets it up only when it
    comes within a screen of being seen, and draws a run's canvases only when
    the run is near the screen (the article has a dozen scrubbers: drawing them
    all blocked a phone for seconds)."""
    context = browser.new_context(viewport={"width": 390, "height": 800}, device_scale_factor=3)
    page = context.new_page()
    try:
        fetched = []
        page.on("request", lambda r: fetched.append(r.url) if r.url.endswith("/scrubber.js") else None)
        page.goto(server + "article.html")
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        runs = page.locator(".sc-run")
        drawn = page.evaluate("[...document.querySelectorAll('.sc-run')].map(r => r.dataset.drawn !== undefined)")
        sections = page.locator("section.scrubber").count()
        assert page.locator("section.scrubber.ready").count() < sections / 2
        assert len(fetched) - 1 < sections / 2  # the payloads fetched (besides the script): those near the screen
        assert not drawn[-1] and sum(drawn) < len(drawn) / 3, drawn
        last = runs.nth(runs.count() - 1)
        last.scroll_into_view_if_needed()
        page.wait_for_function("r => r.dataset.drawn !== undefined", arg=last.element_handle())
        # at 3 device pixels per CSS pixel the canvases stop at 2: no detail a phone shows is lost
        ratio = last.locator("canvas").first.evaluate("c => c.width / c.getBoundingClientRect().width")
        assert ratio == pytest.approx(2.0, abs=0.01)
    finally:
        context.close()


def test_a_screen_reader_hears_the_frame_it_moves_to(built, server, watched):
    page = watched.open(server + "scenarios/importance-sampling-k.html")
    data = _payload(built, "importance-sampling-k")
    live = page.locator("section.scrubber .sc-announce")
    assert live.get_attribute("aria-live") == "polite"
    slider = page.locator(".sc-slider")
    last = data["frames"][-1]
    assert slider.get_attribute("aria-valuetext") == f"step 0 of {last}"
    page.locator(".sc-fwd").click()
    step = data["frames"][1]
    assert slider.get_attribute("aria-valuetext") == f"step {step} of {last}"
    said = live.inner_text()
    for run in data["runs"]:
        m = run["members"][run["featured"]]
        assert f"{run['name']}: {run['label']} = {labels.fmt(m['value'][1])}" in said
        if run["samples"]:
            assert f"ESS = {m['ess'][1]:.1f} / {run['samples']}" in said
    label = page.locator(".sc-run[data-run='exact'] canvas.sc-dist").get_attribute("aria-label")
    m = data["runs"][0]["members"][data["runs"][0]["featured"]]
    assert label.startswith(f"Run exact at step {step}: q = N({labels.fmt(m['mean'][1])}, {labels.fmt(m['std'][1])}²)")
    page.locator(".sc-play").click()  # playing: the live region stays quiet until the reader stops it
    page.wait_for_function("+document.querySelector('section.scrubber').dataset.frame > 5")
    assert live.inner_text() == said
    page.locator(".sc-play").click()
    assert live.inner_text() != said


def test_arrowing_through_starts_shows_them_and_enter_replays(built, server, watched):
    page = watched.open(server + "scenarios/forward-reverse-kl.html")
    section = page.locator("section.scrubber")
    section.focus()
    page.keyboard.press("End")
    end = section.get_attribute("data-frame")
    select = page.locator(".sc-run[data-run='reverse'] select.sc-start")
    select.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    reverse = next(r for r in _readouts(page) if r["run"] == "reverse")
    assert reverse["member"] == int(select.input_value())
    assert section.get_attribute("data-frame") == end and page.locator(".sc-play").inner_text() == "Play"
    page.keyboard.press("Enter")
    assert page.locator(".sc-play").inner_text() == "Pause"  # the replay from the start


def test_the_trace_is_captioned_outside_its_data(built, server, watched):
    page = watched.open(server + "scenarios/importance-sampling-k.html")
    caption = page.locator(".sc-run[data-run='k4'] .sc-trace-label")
    assert caption.inner_text().startswith(_payload(built, "importance-sampling-k")["runs"][1]["label"] + " by step")
    above = caption.bounding_box()
    trace = page.locator(".sc-run[data-run='k4'] canvas.sc-trace").bounding_box()
    assert above["y"] + above["height"] <= trace["y"] + 0.5


def test_every_page_has_a_meta_description(built):
    for page in sorted(built.site_dir.rglob("*.html")):
        found = re.search(r'<meta name="description" content="([^"]+)">', page.read_text())
        assert found and len(found.group(1)) > 30, page.name
    chi = (built.site_dir / "scenarios" / "chi-square.html").read_text()
    said = html.unescape(re.search(r'<meta name="description" content="([^"]+)">', chi).group(1))
    assert said[:40] in _scene(built, "chi-square").description


def test_a_phone_reads_every_page_without_sideways_scrolling(server, browser):
    """At 390 px nothing but a marked, keyboard-reachable region scrolls sideways:
    long equations are set smaller, tables scroll in their own box."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        for name in ("article.html", "scenarios/k-sweep.html", "scenarios/estimator-noise.html"):
            page.goto(server + name)
            page.wait_for_load_state("load")
            page.wait_for_timeout(200)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
            stuck = page.evaluate("""[...document.querySelectorAll('.display-math, .table-scroll')]
                .filter(b => b.scrollWidth > b.clientWidth + 1 && b.tabIndex !== 0).length""")
            assert stuck == 0, name
        page.goto(server + "article.html")
        shown = page.evaluate("""[...document.querySelectorAll('.display-math')]
            .map(b => [b.scrollWidth - b.clientWidth, b.firstElementChild.style.fontSize])""")
        assert any(size for _, size in shown)  # some were set smaller to fit
        assert all(size == "0.756em" for over, size in shown if over > 1)  # only those at the smallest still scroll
    finally:
        context.close()


def test_the_controls_stay_in_view_down_a_tall_scrubber(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 700})
    page = context.new_page()
    try:
        page.goto(server + "scenarios/k-sweep.html")
        _ready_on_screen(page)
        section = page.locator("section.scrubber")
        box = section.bounding_box()
        assert box["height"] > 2 * 700  # a tall one
        page.evaluate("y => window.scrollTo(0, y)", box["y"] + box["height"] / 2)
        controls = page.locator(".scrubber-controls").bounding_box()
        assert -1 <= controls["y"] <= 1
        page.locator(".sc-play").click()  # still reachable and working where the reader is
        assert page.locator(".sc-play").inner_text() == "Pause"
        speed = page.locator(".sc-speed").bounding_box()
        assert speed["width"] >= 24 and speed["height"] >= 24
    finally:
        context.close()


def test_the_front_page_shows_light_posters_then_plays_the_cells_seen(built, server, browser):
    """The gallery's cells are stills at first (a few KB each, their size in the
    HTML so nothing moves), legible on a phone (shown at about their own width),
    and become their animations once on screen."""
    index = (built.site_dir / "index.html").read_text()
    cells = re.findall(r'<img src="(media/gallery/[^"]+\.webp)" data-animated="([^"]+)" width="(\d+)" height="(\d+)"',
                       index)
    assert len(cells) == min(pipeline.GALLERY_CELLS, len(list((built.site_dir / "scenarios").glob("*.html"))))
    assert sum((built.site_dir / poster).stat().st_size for poster, *_ in cells) < 200_000
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        page.goto(server + "index.html")
        first = page.locator(".gallery-grid img").first
        first.scroll_into_view_if_needed()
        page.wait_for_function("i => i.src.endsWith('.gif') && i.complete", arg=first.element_handle())
        shown = first.bounding_box()["width"]
        assert 0.9 <= shown / int(cells[0][2]) <= 1.25
        last = page.locator(".gallery-grid img").last
        assert last.get_attribute("src").endswith(".webp")  # not yet seen, not yet loaded
    finally:
        context.close()


AXE = Path(__file__).resolve().parents[1] / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def test_axe_finds_no_accessibility_violations_on_any_page(built, server, browser):
    """axe-core (the engine Lighthouse's accessibility audit runs; installed from
    npm by `make test`) on every page, at a desktop and a phone width, against
    WCAG 2.0 A and AA and 2.1 AA: no violation, the scrolling regions included."""
    if not AXE.exists():
        if os.environ.get("DIVFIT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{AXE} is missing: sh tools/setup.sh browser installs it")
        pytest.skip("axe-core is not installed (sh tools/setup.sh browser)")
    found = []
    for width in (1280, 390):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        for html_file in sorted(built.site_dir.rglob("*.html")):
            name = html_file.relative_to(built.site_dir).as_posix()
            page.goto(server + name)
            page.wait_for_load_state("load")
            _read_through(page)  # every scrubber set up, as a reader who scrolled sees it
            page.wait_for_timeout(150)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})")
            found += [f"{width} {name}: {v['id']} ({len(v['nodes'])}): {v['nodes'][0]['target']}"
                      for v in result["violations"]]
        context.close()
    assert found == []


VNU = Path(__file__).resolve().parents[1] / ".venv" / "node" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def test_every_page_is_valid_html_by_the_w3c_checker(built, tmp_path):
    """The W3C's Nu HTML checker (vnu.jar, from npm; `make test` installs it and
    Java) finds no error on any page; a broken page shows it would."""
    import shutil as sh
    import subprocess

    if not VNU.exists() or sh.which("java") is None:
        if os.environ.get("DIVFIT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{VNU} or java is missing: sh tools/setup.sh browser installs both")
        pytest.skip("vnu.jar or java is not installed (sh tools/setup.sh browser)")
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><html lang=en><title>x</title><p><div></p>")
    pages = sorted(str(p) for p in built.site_dir.rglob("*.html"))
    proc = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--format", "json", str(broken), *pages],
                          capture_output=True, text=True, timeout=300)
    messages = json.loads(proc.stderr or proc.stdout)["messages"]
    assert {m["url"].rsplit("/", 1)[-1] for m in messages} == {"broken.html"}, \
        [f"{m['url']}: {m['message']}" for m in messages if not m["url"].endswith("broken.html")]


def test_a_script_in_a_title_is_shown_not_run(server, watched):
    page = watched.open(server + "scenarios/evil.html")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert "<script>window.__pwned = 1</script> Evil" in page.inner_text("h1")
    assert watched.problems == []


def test_a_phone_width_page_does_not_scroll_sideways(server, browser):
    w = _Watched(browser, width=390)
    try:
        for path in ("index.html", "article.html", "scenarios/parameterizations.html"):
            page = w.open(server + path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    finally:
        w.close()


def test_rug_sizes_ship_k_up_to_the_cap_and_fit_the_budget(built):
    views = [RunView.load(p) for p in sorted((built.data_dir / "k-sweep").glob("*.npz"))]
    frames = len(payload.scenario_frames(views))
    sizes = payload.rug_sizes(views, frames)
    assert sizes != [min(v.samples, payload.RUG_MAX) for v in views]  # the budget binds here
    assert sum(2 * frames * n for n in sizes) <= payload.RUG_BYTES + 2 * frames * payload.RUG_MIN * len(views)
    for v, n in zip(views, sizes):
        assert 1 <= n <= min(v.samples, payload.RUG_MAX)


def test_an_alpha_scenario_page_has_the_sweep_figure_and_data(built):
    page = (built.site_dir / "scenarios/alpha-family.html").read_text()
    assert "alpha-sweep-preview.webp" in page and "alpha-sweep.csv" in page and "alpha-sweep.pdf" in page
    rows = (built.site_dir / "media/alpha-family/alpha-sweep.csv").read_text().splitlines()
    assert rows[0] == "alpha,rank,mean,std,divergence"
    at_one = [r.split(",") for r in rows[1:] if r.startswith("1,0,")]
    assert len(at_one) == 1 and float(at_one[0][2]) == pytest.approx(-0.5, abs=1e-6)  # p's mean


def test_the_article_does_not_wait_for_its_media(built):
    """Videos load nothing until played, images below the fold load lazily,
    scripts are deferred: the first paint needs the HTML and CSS only."""
    html = (built.site_dir / "article.html").read_text()
    videos = re.findall(r"<video[^>]*>", html)
    images = re.findall(r"<img[^>]*>", html)
    scripts = re.findall(r"<script[^>]*>", html)
    assert videos and all('preload="none"' in v for v in videos)
    assert images and all('loading="lazy"' in i for i in images)
    assert scripts and all(" defer" in s for s in scripts)


def test_the_diagnostics_page_has_the_estimator_table_and_both_figures(built):
    page = (built.site_dir / "diagnostics.html").read_text()
    assert "diagnostics-preview.webp" in page and "alpha-sweep-preview.webp" in page
    from divcore.core import diagnostics

    # every Monte Carlo estimator of KL and chi-square, both ways (REINFORCE once per baseline)
    both_ways = [{"divergence": d, "direction": w} for d in ("kl", "chi2") for w in ("forward", "reverse")]
    assert page.count('<tr class="group">') == len(diagnostics.cases(both_ways)) == 9
    rows = (built.site_dir / "media/estimator-noise/diagnostics.csv").read_text().splitlines()
    header = rows[0].split(",")
    reparam = [dict(zip(header, r.split(","))) for r in rows[1:] if ",reparam," in r and ",log_std," in r]
    mse = [float(r["mse"]) for r in reparam]
    assert len(mse) == 6 and all(a > 3 * b for a, b in zip(mse, mse[1:]))  # 4x the samples, about 1/4 the error


def test_the_basins_table_shows_the_shares_of_the_maps(built):
    from divcore.core import basins

    page = (built.site_dir / "diagnostics.html").read_text()
    assert "basins-preview.webp" in page and "basins.csv" in page
    table = re.search(r'<table class="basins">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>([a-z0-9-]+)</td><td>(\d+)</td><td>([\d.]+) %</td>", table)
    assert [r[0] for r in rows] == [r.name for r in _scene(built, "basins").runs] and len(rows) > 1
    for name, starts, share in rows:
        m = trajectory.load(built.data_dir / "basins" / "sweeps" / f"basins-{name}.npz")
        assert int(starts) == m["label"].size
        assert float(share) == pytest.approx(100 * basins.fractions(m["label"], len(m["optima_mean"]))[0], abs=0.05)
    csv_rows = (built.site_dir / "media/basins/basins.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + sum(int(r[1]) for r in rows)


# ------------------------------------------------------------ on the plane


def test_a_plane_payload_has_the_recorded_states(built):
    data = _payload(built, "bishop-two-modes")
    assert data["dim"] == 2 and (built.site_dir / "media/bishop-two-modes" / data["density"]).is_file()
    (x0, x1), (y0, y1) = data["window"]
    assert x1 - x0 == pytest.approx(y1 - y0, rel=1e-4)  # square: the page draws circles round
    for run in data["runs"]:
        rec = _record(built, "bishop-two-modes", run["name"])
        assert len(run["members"]) == rec["mean"].shape[0]
        assert len(run["optima"]) == len(rec["optima_value"])
        for b, member in enumerate(run["members"]):
            steps = np.minimum(data["frames"], rec["grad"].shape[1])
            np.testing.assert_allclose(member["start"], rec["mean"][b, 0], rtol=1e-5)
            np.testing.assert_allclose(member["m1"], rec["mean"][b, steps, 0], rtol=1e-5, atol=1e-9)
            np.testing.assert_allclose(member["s12"], rec["cov"][b, steps, 0, 1], rtol=1e-5, atol=1e-9)
            np.testing.assert_allclose(member["value"], rec["divergence"][b, steps], rtol=1e-5)
    grid = next(r for r in data["runs"] if r["grid"])
    assert grid["featured"] == len(grid["members"]) // 2 and grid["members"][grid["featured"]]["start"] == [-1.5, -0.5]


def test_plane_particles_decode_to_the_recorded_ones(built):
    data = _payload(built, "estimators-2d")
    (x0, x1), (y0, y1) = data["window"]
    run = next(r for r in data["runs"] if r["name"] == "reinforce-k4")
    rec = _record(built, "estimators-2d", "reinforce-k4")
    assert run["dotMax"] == 4
    dots = np.frombuffer(base64.b64decode(run["members"][0]["dots"]), dtype=np.uint8)
    dots = dots.reshape(len(data["frames"]), 4, 3)
    for i in (1, 7, len(data["frames"]) // 2):
        t = data["frames"][i]
        z, c = rec["particles"][0, t], rec["particle_weights"][0, t]
        inside = (z[:, 0] >= x0) & (z[:, 0] <= x1) & (z[:, 1] >= y0) & (z[:, 1] <= y1)
        shown = dots[i][dots[i, :, 2] > 0]
        assert len(shown) == inside.sum()
        np.testing.assert_allclose(x0 + shown[:, 0] / 255 * (x1 - x0), z[inside, 0], atol=(x1 - x0) / 255)
        np.testing.assert_allclose(y0 + shown[:, 1] / 255 * (y1 - y0), z[inside, 1], atol=(y1 - y0) / 255)
        np.testing.assert_array_equal(shown[:, 2], np.where(c[inside] >= 0, 1, 2))


def test_a_plane_csv_has_a_column_per_parameter(built):
    for run, names in (("full", "log_L11,L21,log_L22"), ("mean-field", "log_sd1,log_sd2")):
        rec = _record(built, "full-vs-mean-field", run)
        rows = (built.site_dir / f"media/full-vs-mean-field/{run}.csv").read_text().splitlines()
        P = rec["phi"].shape[-1]
        assert rows[0] == ",".join(["member", "step", "mean1", "mean2", "cov11", "cov21", "cov22",
                                    *(f"phi{i}" for i in range(P)), "divergence",
                                    "grad_mean1", "grad_mean2", *(f"grad_{n}" for n in names.split(","))])
        assert len(rows) == 1 + rec["mean"].shape[0] * rec["mean"].shape[1]
        cells = rows[1 + 7].split(",")
        assert float(cells[2]) == pytest.approx(rec["mean"][0, 7, 0], rel=1e-9)
        assert float(cells[5]) == pytest.approx(rec["cov"][0, 7, 1, 0], rel=1e-9, abs=1e-300)
        assert float(cells[-1]) == pytest.approx(rec["grad"][0, 7, -1], rel=1e-9)


def _plane_readout(page, run):
    return next(r for r in _readouts(page) if r["run"] == run)


def test_a_plane_scrubber_follows_the_slider_and_draws_q_where_it_is(built, server, watched):
    from divcore.style import palette

    page = watched.open(server + "scenarios/bishop-two-modes.html")
    data = _payload(built, "bishop-two-modes")
    page.wait_for_function("() => window.divfitScrubbers[0].density.complete")
    canvas = ".sc-run[data-run='reverse-right'] canvas.sc-plane"
    before = _canvas(page, canvas)
    i = len(data["frames"]) // 2
    page.eval_on_selector(".sc-slider", "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }", i)
    assert _canvas(page, canvas) != before
    for run in data["runs"]:
        r = _plane_readout(page, run["name"])
        rec = _record(built, "bishop-two-modes", run["name"])
        step = min(data["frames"][i], rec["grad"].shape[1])
        assert r["step"] == step and r["member"] == run["featured"]
        assert float(r["value"]) == pytest.approx(rec["divergence"][run["featured"], step], rel=1e-5)
        assert r["text"] == f"{run['label']} = {labels.fmt(rec['divergence'][run['featured'], step])}   step {step} / {run['steps']}"
    # q's mean is drawn where the record has it: the marker's pixels centre on it
    rec = _record(built, "bishop-two-modes", "reverse-right")
    m = rec["mean"][0, min(data["frames"][i], rec["grad"].shape[1])]
    (x0, x1), (y0, y1) = data["window"]
    _seen(page, canvas)
    found = page.eval_on_selector(canvas, """(c, a) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let sx = 0, sy = 0, n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (Math.abs(d[i] - a[0]) <= 16 && Math.abs(d[i + 1] - a[1]) <= 16 && Math.abs(d[i + 2] - a[2]) <= 16) {
            const p = i / 4; sx += p % c.width; sy += Math.floor(p / c.width); n++;
          }
        }
        return [sx / n / c.width, sy / n / c.height, n];
      }""", [int(palette()["marker"][k: k + 2], 16) for k in (1, 3, 5)])
    assert found[2] > 10
    assert found[0] == pytest.approx((m[0] - x0) / (x1 - x0), abs=0.01)
    assert found[1] == pytest.approx(1 - (m[1] - y0) / (y1 - y0), abs=0.01)


def test_a_plane_scrubber_answers_the_keyboard_and_a_deep_link(built, server, watched):
    frames = _payload(built, "bishop-two-modes")["frames"]
    k = len(frames) // 3
    page = watched.open(server + f"scenarios/bishop-two-modes.html#run=reverse&step={frames[k]}&start=4")
    section = page.locator("section.scrubber")
    assert int(section.get_attribute("data-frame")) == k
    r = _plane_readout(page, "reverse")
    rec = _record(built, "bishop-two-modes", "reverse")
    assert (r["step"], r["member"]) == (frames[k], 4)
    assert float(r["value"]) == pytest.approx(rec["divergence"][4, frames[k]], rel=1e-5)
    section.focus()
    page.keyboard.press("ArrowRight")
    assert int(section.get_attribute("data-frame")) == k + 1
    page.keyboard.press("End")
    assert int(section.get_attribute("data-frame")) == len(frames) - 1
    assert _plane_readout(page, "reverse")["member"] == 4


def test_the_plane_start_picker_replays_the_start_clicked(built, server, watched):
    page = watched.open(server + "scenarios/bishop-two-modes.html")
    data = _payload(built, "bishop-two-modes")
    (x0, x1), (y0, y1) = data["window"]
    rec = _record(built, "bishop-two-modes", "reverse")
    b = 0
    start = rec["mean"][b, 0]
    canvas = page.locator(".sc-run[data-run='reverse'] canvas.sc-plane")
    box = canvas.bounding_box()
    canvas.click(position={"x": (start[0] - x0) / (x1 - x0) * box["width"],
                           "y": (1 - (start[1] - y0) / (y1 - y0)) * box["height"]})
    page.locator(".sc-play").click()  # pause the replay the pick started
    r = _plane_readout(page, "reverse")
    assert r["member"] == b
    assert float(r["value"]) == pytest.approx(rec["divergence"][b, r["step"]], rel=1e-5)
    assert page.locator(".sc-run[data-run='reverse'] select.sc-start").input_value() == str(b)
    assert f"start={b}" in page.evaluate("location.hash")
