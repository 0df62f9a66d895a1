"""The build graph on a tiny site (two small scenarios, low quality): what a
rebuild redoes, and that failures, interruptions and concurrent builds leave
the previous site whole."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from divcore import pipeline
from divcore.cli import main
from divcore.errors import BuildError

ROOT = Path(__file__).resolve().parents[1]

SCENE = """
title = "{title}"
description = "{description}"
[target]
components = [{{ mean = -2.0, std = 0.8, weight = 0.5 }}, {{ mean = 2.0, std = 0.8, weight = 0.5 }}]
[fit]
start = {{ mean = 0.5, std = 1.0 }}
lr = 0.05
steps = {steps}
[media]
video_seconds = 2
snapshots = [1.0]
[[runs]]
name = "rev"
divergence = "kl"
direction = "reverse"
estimator = "reparam"
samples = 8
"""


def scene(title="Tiny", description="A tiny scene.", steps=30):
    return SCENE.format(title=title, description=description, steps=steps)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A built tiny site; each test works on its own copy."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "scenes").mkdir()
    (root / "scenes/alpha.toml").write_text(scene("Alpha"))
    (root / "scenes/beta.toml").write_text(scene("Beta", steps=25))
    (root / "content").mkdir()
    (root / "content/index.md").write_text("Two tiny scenes about $q_\\phi$.\n")
    (root / "content/article.md").write_text("# Tiny\n\n::: scrubber alpha\n\n::: video beta\n")
    assert main(_args(root)) == 0
    return root


def _args(root: Path) -> list[str]:
    return ["build", "--scenes", str(root / "scenes"), "--out", str(root / "build"), "--jobs", "2",
            "--quality", "low", "--content", str(root / "content")]


def _build(root: Path):
    with pipeline.build_lock(root / "build"):
        pass  # a build left holding the lock would fail here, not hang
    scenes = sorted((root / "scenes").glob("*.toml"))
    return pipeline.build(scenes, root / "build", jobs=2, quality="low", content=root / "content")[1]


@pytest.fixture
def tiny(baseline, tmp_path):
    shutil.copytree(baseline, tmp_path / "tiny")
    return tmp_path / "tiny"


def built(report) -> dict:
    return {stage: n for stage, n in report.built.items() if n}


def test_a_second_build_does_no_work(tiny):
    assert built(_build(tiny)) == {}


def test_a_description_edit_rebuilds_only_the_pages(tiny):
    (tiny / "scenes/alpha.toml").write_text(scene("Alpha", description="Now described differently."))
    assert built(_build(tiny)) == {"site": 1}
    assert "Now described differently." in (tiny / "build/site/scenarios/alpha.html").read_text()


def test_runs_and_scenarios_no_longer_in_the_scenes_leave_the_build_folder(tiny):
    # a reader of build/data would take them for current: beta's folders go, and
    # alpha's record (and kept landscape, and key) of a run since renamed; what
    # the last build did not make stays (`divfit run`'s records, another folder's)
    build = tiny / "build"
    others = [build / "data/mine/run.npz", build / "data/alpha/by-hand.npz"]
    for path in others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not the build's")
    (tiny / "scenes/beta.toml").unlink()
    (tiny / "content/article.md").write_text("# Tiny\n\n::: scrubber alpha\n")
    (tiny / "scenes/alpha.toml").write_text(scene("Alpha").replace('name = "rev"', 'name = "reverse"'))
    old = [p for p in (build / "data/alpha").rglob("rev.npz")] + list((build / "cache/data/alpha").glob("rev.*"))
    assert len(old) == 3  # the record, its landscape and its key
    scenes = sorted((tiny / "scenes").glob("*.toml"))
    report = pipeline.build(scenes, build, jobs=2, quality="low", content=tiny / "content", prune=True)[1]
    assert not any((build / d / "beta").exists() for d in ("data", "media", "cache/data", "cache/media"))
    assert not any(p.exists() for p in old) and set(old) <= set(report.removed)
    assert sorted(p.name for p in (build / "data/alpha").rglob("reverse.npz")) == ["reverse.npz", "reverse.npz"]
    assert all(p.read_bytes() == b"not the build's" for p in others)
    assert not (build / "site/scenarios/beta.html").exists() and (build / "site/scenarios/alpha.html").exists()
    assert built(_build(tiny)) == {}  # what stayed is all the next build needs


def test_a_renamed_runs_page_assets_leave_the_build_folder_and_the_site(tiny):
    # the pages publish every image and script in a scenario's assets folder
    assets = tiny / "build/media/alpha/site"
    assert (assets / "rev.csv").exists() and (assets / "land-rev.webp").exists()
    (tiny / "scenes/alpha.toml").write_text(scene("Alpha").replace('name = "rev"', 'name = "reverse"'))
    _build(tiny)
    assert not (assets / "rev.csv").exists() and not (assets / "land-rev.webp").exists()
    assert (assets / "reverse.csv").exists() and (assets / "land-reverse.webp").exists()
    assert (assets / "summary-preview.webp").exists()
    assert not list((tiny / "build/site/media/alpha").glob("*rev.*"))


def test_media_the_last_build_made_and_this_one_does_not_leave_the_build_folder(tiny):
    # a figure the last build made (as an analysis since dropped leaves one) goes;
    # what a stage this build does not plan made stays
    build = tiny / "build"
    manifest = json.loads((build / "cache/made.json").read_text())
    dropped = build / "media/alpha/diagnostics.png"
    dropped.write_bytes(b"made by the last build")
    manifest.setdefault("media", {}).setdefault("figures", []).append(str(dropped.relative_to(build)))
    (build / "cache/made.json").write_text(json.dumps(manifest))
    scenes = sorted((tiny / "scenes").glob("*.toml"))
    stages = tuple(s for s in pipeline.STAGES if s != "video")
    report = pipeline.build(scenes, build, jobs=2, stages=stages, quality="low", content=tiny / "content",
                            prune=True)[1]
    assert not dropped.exists() and dropped in report.removed
    assert (build / "media/alpha/alpha.mp4").exists() and (build / "media/alpha/summary.png").exists()
    made = json.loads((build / "cache/made.json").read_text())["media"]
    assert "media/alpha/alpha.mp4" in made["video"]  # kept for the next build that makes videos
    assert pipeline.remove_stale(pipeline.plan(pipeline.load_all(scenes), build), build, ["alpha", "beta"]) == []


def test_a_build_not_told_to_prune_removes_nothing(tiny):
    # `divfit serve`'s rebuilds, and builds of a few scene files: a run an edit
    # drops for a moment keeps its record for when it comes back
    (tiny / "scenes/beta.toml").unlink()
    (tiny / "content/article.md").write_text("# Tiny\n\n::: scrubber alpha\n")
    report = _build(tiny)
    assert report.removed == [] and (tiny / "build/data/beta/rev.npz").exists()


def test_a_steps_edit_rebuilds_that_scenarios_data_and_media_only(tiny):
    beta_before = snapshot(tiny / "build/media/beta")
    (tiny / "scenes/alpha.toml").write_text(scene("Alpha", steps=35))
    report = _build(tiny)
    assert built(report) == {"data": 1, "video": 1, "figures": 1, "gif": 1, "gallery": 1, "assets": 1, "site": 1}
    assert snapshot(tiny / "build/media/beta") == beta_before


def test_a_scenarios_previews_are_made_with_its_assets_not_by_the_pages(tiny, monkeypatch):
    """The figure preview and the poster a page shows come from the scenario's
    assets job, which waits for its figures and video: the pages, which wait
    for every scenario, only link them."""
    from PIL import Image

    from divcore.site import assets

    scenes = sorted((tiny / "scenes").glob("*.toml"))
    P = pipeline.plan(pipeline.load_all(scenes), tiny / "build", quality="low", content=tiny / "content")
    (job,) = [j for j in P.stages["assets"] if j.label == "alpha"]
    assert {(n.stage, n.label) for n in job.needs} >= {("figures", "alpha"), ("video", "alpha")}
    media = tiny / "build/media/alpha"
    for made, width, most in ((media / "site/summary-preview.webp", assets.PREVIEW_WIDTH, assets.PREVIEW_BYTES),
                              (media / "site/poster.webp", assets.POSTER_WIDTH, assets.POSTER_BYTES)):
        assert made in job.outputs and made.stat().st_size <= most
        with Image.open(made) as im:
            assert im.format == "WEBP" and im.width <= width
        assert (tiny / "build/site/media/alpha" / made.name).read_bytes() == made.read_bytes()

    def encode(*args):
        raise AssertionError("the pages encoded an image")

    monkeypatch.setattr(assets, "web_image", encode)
    (tiny / "scenes/beta.toml").write_text(scene("Beta", description="Edited.", steps=25))
    assert built(_build(tiny)) == {"site": 1}  # one stale job: run in this process


def test_switching_quality_back_rerenders_the_video_and_reuses_the_previews_it_can(tiny):
    """Every quality writes the same files, so each switch renders again (the
    key once stayed per quality: low, medium, low left the medium video); a
    preview already made of the same image is not encoded again."""
    import av

    def width():
        with av.open(str(tiny / "build/media/alpha/alpha.mp4")) as c:
            return c.streams.video[0].width

    def previews():
        return set((tiny / "build/cache/previews").iterdir())

    scenes = sorted((tiny / "scenes").glob("*.toml"))
    made = previews()
    for quality, size in (("medium", 1280), ("low", 854)):
        report = pipeline.build(scenes, tiny / "build", jobs=2, quality=quality, content=tiny / "content")[1]
        assert report.built["video"] == 2 and report.built["figures"] == 0 and width() == size
        if quality == "medium":
            assert len(previews() - made) == 2  # the two medium posters'; the figures' were kept
    assert made <= previews() and len(previews() - made) == 2  # and low's were kept


def test_the_data_stage_keeps_each_runs_landscape_and_the_renderers_read_it(tiny, monkeypatch):
    """The landscape a 1-D run is drawn over is evaluated once, by the data
    stage, beside the record (outside its `*.npz` names); a view reads it back
    bit for bit what it would evaluate itself, and evaluates nothing."""
    from divcore.core import landscape
    from divcore.render.plane import load_view

    record = tiny / "build/data/alpha/rev.npz"
    assert sorted(p.name for p in record.parent.glob("*.npz")) == ["rev.npz"]
    view = load_view(record)
    fresh = landscape.for_record(view.target, view.divergence, view.param, view.record)
    monkeypatch.setattr(landscape, "evaluate", lambda *a: pytest.fail("evaluated a kept landscape again"))
    kept = load_view(record).landscape
    for got, want in zip(kept, fresh):
        np.testing.assert_array_equal(got, want)


def test_a_kept_landscape_of_another_record_is_not_used(tiny, monkeypatch):
    from divcore import trajectory
    from divcore.render.plane import load_view

    alpha, beta = tiny / "build/data/alpha/rev.npz", tiny / "build/data/beta/rev.npz"
    shutil.copy(trajectory.landscape_path(beta), trajectory.landscape_path(alpha))  # beta's config, not alpha's
    view = load_view(alpha)
    grid = view.landscape.phi0, view.landscape.phi1
    assert trajectory.load_landscape(alpha, view.config, grid) is None
    beta_config = load_view(beta).config
    assert trajectory.load_landscape(beta, beta_config, grid) is not None
    assert trajectory.load_landscape(beta, beta_config, (grid[0] + 1e-12, grid[1])) is None  # another box
    for broken in (b"not a zip", b""):
        trajectory.landscape_path(alpha).write_bytes(broken)
        assert load_view(alpha).landscape.value.shape == (120, 120)
    trajectory.save_with_landscape(trajectory.landscape_path(alpha), {"phi0": grid[0]}, view.config)  # no value
    assert trajectory.load_landscape(alpha, view.config, grid) is None


def test_divfit_run_over_a_builds_records_drops_the_landscapes_kept_for_them(tiny):
    from divcore import trajectory

    record = tiny / "build/data/alpha/rev.npz"
    assert trajectory.landscape_path(record).exists()
    assert pipeline.run_files([tiny / "scenes/alpha.toml"], tiny / "build/data") == [record]
    assert not trajectory.landscape_path(record).exists()


def test_a_broken_scenario_fails_in_one_line_and_leaves_the_site_whole(tiny, capsys):
    before = snapshot(tiny / "build/site")
    (tiny / "scenes/beta.toml").write_text(scene("Beta", steps=25).replace('direction = "reverse"',
                                                                           'direction = "sideways"'))
    assert main(_args(tiny)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "beta.toml" in err and "direction" in err
    assert snapshot(tiny / "build/site") == before


def test_a_crashing_render_names_its_scenario_and_leaves_the_site_whole(tiny, monkeypatch):
    before = snapshot(tiny / "build/site")
    (tiny / "scenes/alpha.toml").write_text(scene("Alpha", steps=36))

    def crash(*args):
        raise RuntimeError("the renderer fell over")

    monkeypatch.setattr(pipeline, "_make_gif", crash)
    with pytest.raises(BuildError, match=r"^gif of alpha failed: RuntimeError: the renderer fell over"):
        scenes = sorted((tiny / "scenes").glob("*.toml"))
        pipeline.build(scenes, tiny / "build", jobs=1, quality="low", content=tiny / "content")
    assert snapshot(tiny / "build/site") == before
    monkeypatch.undo()
    report = _build(tiny)  # what finished before the crash stays cached
    assert report.built["data"] == 0 and report.built["video"] == 0 and report.built["gif"] == 1


def test_a_killed_build_then_a_normal_one_gives_the_complete_site(tiny):
    before = snapshot(tiny / "build/site")
    for name in ("alpha", "beta"):
        text = (tiny / f"scenes/{name}.toml").read_text()
        (tiny / f"scenes/{name}.toml").write_text(text.replace("video_seconds = 2", "video_seconds = 4"))
    proc = subprocess.Popen([sys.executable, "-m", "divcore", *_args(tiny)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # kill it (and its render processes) while the videos are being rendered
    deadline = time.monotonic() + 120
    while not list((tiny / "build/media").glob("*/.render-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    while time.monotonic() < deadline:  # until its workers, which share its lock, are gone too
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    assert snapshot(tiny / "build/site") == before
    report = _build(tiny)
    assert report.built["video"] >= 1 and report.built["site"] == 1
    for name in ("alpha", "beta"):
        assert (tiny / f"build/site/scenarios/{name}.html").is_file()
        assert (tiny / f"build/site/media/{name}/{name}.mp4").stat().st_size > 0
    assert built(_build(tiny)) == {}


def test_a_concurrent_build_is_refused(tiny):
    with pipeline.build_lock(tiny / "build"):
        proc = subprocess.run([sys.executable, "-m", "divcore", *_args(tiny)], cwd=ROOT, capture_output=True,
                              text=True)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "is being built by pid" in proc.stderr


def test_the_gallery_shows_the_first_scenes_the_article_tells(tmp_path):
    from divcore.site import pages, prose

    P = pipeline.plan(pipeline.load_all(sorted((ROOT / "scenes").glob("*.toml"))), tmp_path)
    (job,) = P.stages["gallery"]
    told = list(dict.fromkeys(d.name for d in prose.directives((pages.CONTENT / "article.md").read_text())))
    want = told[: pipeline.GALLERY_CELLS]
    assert [path.parent.name for _, path in job.parts[0].args[0]] == want
    assert [j.label.split("/")[0] for j in job.needs] == want  # and waits for nothing else
