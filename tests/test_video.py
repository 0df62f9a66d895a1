"""Lecture videos: a real low-quality render, read back from the file."""

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from divcore import pipeline
from divcore.scenario import parse_scenario
from divcore.video import timing

SCENE = """
title = "Video test"
[target]
components = [{ mean = -3.0, std = 0.9, weight = 0.5 }, { mean = 2.0, std = 0.7, weight = 0.5 }]
[fit]
start = { mean = 1.0, std = 1.2 }
lr = 0.08
steps = 120
[media]
video_seconds = 3
[[runs]]
name = "reverse"
divergence = "kl"
direction = "reverse"
estimator = "reparam"
samples = 8
"""


PLANE = """
title = "Video test on the plane"
[target]
dim = 2
components = [{ mean = [-2.0, -1.0], std = [0.8, 0.8], corr = 0.4, weight = 0.5 },
              { mean = [2.0, 1.0], std = [0.8, 0.8], corr = 0.4, weight = 0.5 }]
[fit]
start = { mean = [-0.5, 1.0], std = [1.2, 1.0], corr = 0.2 }
lr = 0.08
steps = 120
[media]
video_seconds = 3
[[runs]]
name = "reverse"
divergence = "kl"
direction = "reverse"
estimator = "reparam"
samples = 8
"""


@pytest.fixture(scope="module", params=["gaussian", "gaussian-fixed-std", "plane"])
def video(tmp_path_factory, request):
    """The test scene's video, for the full family (a landscape wash), the
    fixed-std family (a curve with q as a bead on it) and a 2-D target (q's
    ellipses on p's contours, the marker at q's mean)."""
    tmp = tmp_path_factory.mktemp("video")
    scene = tmp / "video-test.toml"
    text = PLANE if request.param == "plane" else SCENE.replace("[fit]\n", f'[fit]\nfamily = "{request.param}"\n')
    scene.write_text(text)
    P, _ = pipeline.build([scene], tmp / "build", jobs=1, stages=("data", "video"), quality="low")
    scn = parse_scenario(text, str(scene))
    out = pipeline.video_outputs(P.media_dir / scn.name, scn)
    return out, json.loads(out["sidecar"].read_text()), pipeline.trajectory.load(P.outputs("data")[0])


def frames_at(path, indices):
    want, got = set(indices), {}
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                got[i] = np.asarray(f.to_image().convert("RGB")).astype(int)
    return [got[i] for i in indices]


def test_file_is_h264_yuv420p_at_the_preset_with_faststart(video):
    out, side, _ = video
    with av.open(str(out["video"])) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        assert (s.width, s.height) == (854, 480) and s.average_rate == 15
        duration = c.duration / 1e6
    # title card and fade-in, the animation, the hold
    assert duration == pytest.approx(side["animation_start"] + 3 + 2.0, abs=0.2)
    head = out["video"].read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart: the index comes first
    assert Image.open(out["poster"]).size == (854, 480)


def test_middle_frame_is_drawn_and_differs_from_the_first(video):
    out, side, _ = video
    n = int(side["fps"] * (side["animation_start"] + 1.5))
    first, middle = frames_at(out["video"], [0, n])
    assert middle.std() > 20  # not a blank frame
    assert np.abs(middle - first).mean() > 5


def test_q_marker_is_where_the_record_puts_it(video):
    """In decoded frames across the animation, q's marker (the only pink thing on
    screen) sits on the recorded trajectory at the step of that moment, give or
    take two frames (manim rounds each animation to whole frames). A frame where
    the white trail or the start ring crosses the marker can hide part of it,
    so nine in ten frames must match to within 4 pixels."""
    out, side, rec = video
    fps, start, times = side["fps"], side["animation_start"], np.array(side["step_times"])
    marker = np.array([int("CC79A7"[i : i + 2], 16) for i in (0, 2, 4)])
    px = np.array(side["marker_px"])
    assert px.shape == (rec["phi"].shape[1], 2)  # one position per recorded state
    first, last = int(np.ceil(start * fps)) + 1, int((start + times[-1]) * fps) - 1
    indices = list(range(first, last, 2))
    checked, close = 0, 0
    for k, frame in zip(indices, frames_at(out["video"], indices)):
        ys, xs = np.nonzero(np.abs(frame - marker).sum(-1) < 60)
        if xs.size < 10:
            continue
        found = np.array([np.median(xs), np.median(ys)])
        lo = timing.step_at(times, k / fps - start - 2 / fps)
        hi = timing.step_at(times, k / fps - start + 2 / fps)
        checked += 1
        close += np.hypot(*(px[lo : hi + 1] - found).T).min() < 4
    assert checked >= 15 and close >= 0.9 * checked, (close, checked)


def _dark(pixels: np.ndarray) -> np.ndarray:
    return pixels.sum(axis=-1) < 3 * 110


def test_frames_show_the_trace_cursor_at_the_recorded_step(video):
    """The divergence-by-step panel's cursor is a dark vertical line at the step
    on screen (give or take two frames, as the marker), and it moves."""
    out, side, rec = video
    fps, start, times = side["fps"], side["animation_start"], np.array(side["step_times"])
    x0, y0, x1, y1 = side["trace_box"]
    cursor = np.array(side["trace_cursor_x"])
    steps = rec["phi"].shape[1] - 1
    assert len(cursor) == steps + 1 and cursor[0] == pytest.approx(x0, abs=1) and cursor[-1] == pytest.approx(x1, abs=1)
    first, last = int(np.ceil(start * fps)) + 2, int((start + times[-1]) * fps) - 2
    indices = [first + (last - first) * k // 4 for k in range(5)]
    seen = []
    for k, frame in zip(indices, frames_at(out["video"], indices)):
        inside = frame[int(y0) + 3 : int(y1) - 3, int(x0) + 2 : int(x1) - 1]
        column = (inside.sum(axis=-1) < 3 * 170).mean(axis=0)  # the share of inked pixels down each column
        found = int(x0) + 2 + int(np.argmax(column))
        assert column.max() > 0.8, k  # a line from the box's bottom to its top
        lo = timing.step_at(times, k / fps - start - 2 / fps)
        hi = timing.step_at(times, k / fps - start + 2 / fps)
        assert cursor[lo] - 2 <= found <= cursor[hi] + 2, (k, found, cursor[lo], cursor[hi])
        seen.append(found)
    assert seen == sorted(seen) and seen[-1] - seen[0] > 0.5 * (x1 - x0)


def test_frames_show_numbered_axes_and_the_legend(video):
    """Every axis number the sidecar lists is drawn (dark text at its place) on
    every frame of the animation, and the legend row along the bottom shows
    the palette's swatches for p and q."""
    from divcore.style import palette

    out, side, _ = video
    fps, start = side["fps"], side["animation_start"]
    (frame,) = frames_at(out["video"], [int((start + 1.0) * fps)])
    numbers = np.array(side["numbers"])
    assert len(numbers) >= 6  # the distribution's x, the landscape's two axes (the plane's two)
    for x, y in numbers.round().astype(int):
        assert _dark(frame[y - 4 : y + 5, x - 6 : x + 7]).any(), (x, y)
    x0, y0, x1, y1 = (round(v) for v in side["legend_box"])
    assert y0 > 0.85 * frame.shape[0]  # along the bottom
    band = frame[y0 : y1 + 1, x0 : x1 + 1]
    for key in ("q", "p_fill"):  # (a thin line's colour bleeds in 4:2:0 chroma: a loose match)
        colour = np.array([int(palette()[key][i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(band - colour).sum(-1) < 90).sum() > 10, key
    assert _dark(band).mean() > 0.01  # and the names


def test_text_on_white_has_no_grey_halo(video):
    """Encoding artefacts around text (visible on a projector): on the title
    card, the pixels 2-8 px from the ink, white as drawn, stay within 3 levels
    of white but for a few in a thousand."""
    from scipy import ndimage

    out, side, _ = video
    (card,) = frames_at(out["video"], [int(1.0 * side["fps"])])
    ink = _dark(card)
    near = ndimage.binary_dilation(ink, iterations=8) & ~ndimage.binary_dilation(ink, iterations=2)
    off = 255 - card[near].min(axis=-1)
    assert ink.mean() > 0.002 and np.mean(off > 3) < 0.005 and np.percentile(off, 99) <= 3


def test_the_poster_says_what_the_video_shows(video):
    """The poster (what a page or a slide shows before the video plays) is the
    title in a band along the top over the final frame."""
    from divcore.video.render import POSTER_BAND

    out, side, _ = video
    poster = np.asarray(Image.open(out["poster"]).convert("RGB")).astype(int)
    band = poster[: int(POSTER_BAND * poster.shape[0])]
    ink = _dark(band).any(axis=0).nonzero()[0]
    assert ink.size and ink.min() > 0.1 * poster.shape[1] and ink.max() < 0.9 * poster.shape[1]  # a centred title
    with av.open(str(out["video"])) as c:
        n = c.streams.video[0].frames
    (last,) = frames_at(out["video"], [n - 1])
    assert _dark(poster[len(band):]).mean() > 0.5 * _dark(last).mean()  # the final state, below it


def test_time_on_the_plane_is_measured_in_qs_own_units():
    """A move of one standard deviation of q is the same distance at every
    scale and orientation, and so is a change of log std."""
    cov = np.array([[4.0, 1.2], [1.2, 1.0]])
    L = np.linalg.cholesky(cov)
    step = L @ np.array([0.6, 0.8])  # one sd of q, in a direction of its own
    mean = np.array([[0.0, 0.0], step])
    d = timing.plane_speeds(mean, np.array([cov, cov]))
    assert d == pytest.approx([1.0])
    assert timing.plane_speeds(mean / 10, np.array([cov, cov]) / 100) == pytest.approx([1.0])
    grown = np.array([np.diag([1.0, 1.0]), np.diag([np.e ** 2, 1.0])])
    assert timing.plane_speeds(np.zeros((2, 2)), grown) == pytest.approx([1.0])


def test_time_runs_slow_where_q_moves_fast():
    means = [np.array([0.0, 1.0, 1.5, 1.6, 1.61, 1.61])]
    stds = [np.ones(6)]
    t = timing.step_times([timing.line_speeds(m, s) for m, s in zip(means, stds)], 10.0)
    assert t[0] == 0 and t[-1] == pytest.approx(10.0) and np.all(np.diff(t) > 0)
    gaps = np.diff(t)
    assert np.all(np.diff(gaps) <= 1e-12)  # steps get shorter as q slows down
    assert timing.step_at(t, 0.0) == 0 and timing.step_at(t, 10.0) == 5


@pytest.mark.parametrize("text", ["KL(q‖p) = 0.6907", "ESS 11.6 / 16    step 120 / 600", "χ²(p‖q) = ∞"])
def test_glyph_line_lays_text_out_as_pango_does(text):
    from manim import Text

    from divcore.video.glyphs import GlyphLine

    line = GlyphLine(18, "#000000", "DejaVu Sans").anchor(np.array([1.0, 2.0, 0.0]))
    line.set_text(text)
    typeset = Text(text, font_size=18, font="DejaVu Sans")
    # same extent to within kerning, the left end where it was anchored
    assert line.width == pytest.approx(typeset.width, rel=0.03)
    assert line.height == pytest.approx(typeset.height, rel=0.03)
    assert line.get_left()[0] == pytest.approx(1.0, abs=0.05)
    before = line.points.copy()
    line.set_text(text.replace("1", "7"))
    assert not np.array_equal(before, line.points) or "1" not in text


def _drawn(mobject) -> np.ndarray:
    """`mobject` drawn alone by the video's camera, as a grey image."""
    from manim import tempconfig

    from divcore.video.camera import LineCamera

    with tempconfig({"pixel_width": 320, "pixel_height": 180, "background_color": "#FFFFFF"}):
        camera = LineCamera()
        camera.capture_mobject(mobject)
        return camera.pixel_array[..., :3].mean(axis=-1)


def test_the_line_camera_draws_straight_paths_as_manim_draws_their_curves():
    """A polyline, a closed polygon and separate ticks: the same pixels (to
    antialiasing) drawn from their anchors as lines as from manim's curves."""
    from manim import VGroup, VMobject

    from divcore.video.camera import Polyline, Ticks

    t = np.linspace(-3, 3, 300)
    wave = np.column_stack([t, np.sin(3 * t), np.zeros_like(t)])
    angle = np.linspace(0, 2 * np.pi, 7)
    hexagon = np.column_stack([2 * np.cos(angle), 1.5 * np.sin(angle), np.zeros_like(angle)])
    starts = np.column_stack([np.linspace(-3, 3, 9), np.full(9, -2.0), np.zeros(9)])
    ends = starts + [0.0, 0.6, 0.0]
    plain = VGroup(VMobject().set_points_as_corners(wave), VMobject().set_points_as_corners(hexagon),
                   VGroup(*(VMobject().set_points_as_corners([a, b]) for a, b in zip(starts, ends))))
    lines = VGroup(Polyline().set_points_as_corners(wave), Polyline().set_points_as_corners(hexagon),
                   Ticks().set_segments(starts, ends))
    for group in (plain, lines):
        group.set_stroke("#000000", 6)
    a, b = _drawn(plain), _drawn(lines)
    assert (a < 128).sum() > 500  # something was drawn
    assert np.abs(a - b).max() <= 64 and (np.abs(a - b) > 16).mean() < 0.002
    # the hexagon is closed: its first corner is joined, not two butt ends
    corner = np.round([160 + 2 * 180 / 8, 90]).astype(int)  # (x, y) in pixels of (2, 0)
    assert np.abs(a[corner[1] - 3:corner[1] + 4, corner[0]:corner[0] + 4] -
                  b[corner[1] - 3:corner[1] + 4, corner[0]:corner[0] + 4]).max() <= 64
    empty = Ticks().set_segments(starts[:0], ends[:0])
    assert len(empty.points) == 0 and (_drawn(empty) == 255).all()


def test_the_line_camera_draws_curves_exactly_as_manims_camera_does():
    """Text, a readout, a dot, a star and a dashed curve: the same bytes."""
    from manim import Circle, Dot, Star, Text, VGroup, tempconfig
    from manim.camera.camera import Camera

    from divcore.video.camera import LineCamera
    from divcore.video.glyphs import GlyphLine
    from divcore.video.scene import _dash

    readout = GlyphLine(18, "#222222", "DejaVu Sans").anchor(np.array([-4.0, 1.0, 0.0]))
    readout.set_text("KL(q‖p) = 0.6907    ESS = 11.6 / 16")
    t = np.linspace(0, 2 * np.pi, 120)
    group = VGroup(Text("reverse KL (μ, log σ)", font_size=24, color="#222222").shift([0.0, 2.0, 0.0]), readout,
                   Dot([1.0, -1.0, 0.0], radius=0.2).set_stroke("#000000", 2), Star(5, outer_radius=0.5).shift(
                       [-3.0, -2.0, 0.0]).set_stroke("#000000", 1.5), Circle(0.7).set_stroke("#0000FF", 3),
                   _dash(np.column_stack([t - 3, np.sin(t), 0 * t]), 0.12, 0.08).set_stroke("#FF0000", 2))
    drawn = []
    with tempconfig({"pixel_width": 640, "pixel_height": 360, "background_color": "#FFFFFF"}):
        for cls in (Camera, LineCamera):
            camera = cls()
            camera.capture_mobject(group)
            drawn.append(camera.pixel_array.copy())
    assert (drawn[0][..., :3] < 128).any(axis=-1).mean() > 0.003  # something was drawn
    assert np.array_equal(drawn[0], drawn[1])


# ------------------------------------------------------------ captions

_CUE = r"(\d+)\n(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n([^\n]+)\n"


def read_webvtt(text: str) -> list[tuple[float, float, str]]:
    """A strict reader of the WebVTT we write: the header, then numbered cues
    with well-formed, increasing, non-overlapping times and one line of text."""
    import re

    assert text.startswith("WEBVTT\n\n")
    body = text[len("WEBVTT\n\n"):]
    cues, pos = [], 0
    for m in re.finditer(_CUE + r"\n?", body):
        assert m.start() == pos, "only cues, one after another"
        pos = m.end()
        g = [int(x) for x in m.groups()[1:9]]
        t0 = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        t1 = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        assert int(m.group(1)) == len(cues) + 1 and t1 > t0
        assert not cues or t0 >= cues[-1][1] - 1e-9
        cues.append((t0, t1, m.group(10)))
    assert pos == len(body) and cues
    return cues


def test_captions_are_webvtt_that_follow_the_recorded_steps(video):
    """Each state cue names the step on screen when it starts (the video's own
    step times) and each run's recorded divergence there; the last one holds
    the final state until the video ends."""
    from divcore.render import labels

    out, side, rec = video
    cues = read_webvtt(out["captions"].read_text(encoding="utf-8"))
    assert cues[0][0] == 0.0 and cues[0][1] == pytest.approx(side["animation_start"], abs=1e-3)
    assert cues[0][2].startswith("Video test")
    times = np.array(side["step_times"])
    steps = rec["grad"].shape[1]
    for t0, _, text in cues[1:-1]:
        step = timing.step_at(times, t0 - side["animation_start"] + 1e-6)
        assert f"Step {step}: reverse: " in text
        assert f"= {labels.fmt(rec['divergence'][0, step])}," in text
    assert f"Final, step {steps}: reverse:" in cues[-1][2]
    with av.open(str(out["video"])) as c:
        length = float(c.duration) / 1e6
    assert cues[-1][1] == pytest.approx(length, abs=0.2)


def test_a_run_settles_where_its_divergence_stops_moving():
    from divcore.video.captions import settle_step

    values = np.concatenate([np.linspace(5.0, 1.0, 50), 1.0 + 1e-4 * (np.arange(30) % 2)])
    assert settle_step(values) == 49  # the ramp reaches 1.0 at step 49, then only wobbles by 0.01 %
    assert settle_step(np.full(10, 2.0)) == 0
    assert settle_step(np.array([3.0, 2.0, np.inf])) is None


def test_chapters_start_at_the_scenarios_snapshot_steps(video):
    """The [media] snapshots (the small multiples' steps) are the video's
    chapters: each starts when the video shows that step."""
    out, side, rec = video
    chapters = read_webvtt(out["chapters"].read_text(encoding="utf-8"))
    steps = rec["grad"].shape[1]
    want = sorted({int(round(f * steps)) for f in (0.0, 0.1, 0.5, 1.0)})  # the default snapshots
    assert chapters[0][2] == "Video test" or chapters[0][2].startswith("Video test")
    assert [c[2] for c in chapters[1:]] == ["The start"] + [f"Step {s} of {steps}" for s in want[1:]]
    times = np.array(side["step_times"])
    for (t0, _, _), s in zip(chapters[1:], want):
        assert t0 == pytest.approx(side["animation_start"] + times[s], abs=1e-3)
    with av.open(str(out["video"])) as c:
        assert chapters[-1][1] == pytest.approx(float(c.duration) / 1e6, abs=0.2)


def test_the_first_frame_is_the_title_card_not_a_blank(video):
    """A video in a slide shows its first frame until it plays: the title card,
    whose text is there from frame 0."""
    out, _, _ = video
    (first,) = frames_at(out["video"], [0])
    dark = (first.sum(axis=2) < 3 * 100).mean()
    assert dark > 0.002, "the first frame is blank"


def test_slides_open_offline_from_file_and_stop_at_every_chapter(video, browser, tmp_path):
    """`divfit slides`: from file://, with the network off, each → plays one
    segment and stops where the next chapter starts (within a frame); ← goes
    back a stop; nothing but the presentation's own files is requested."""
    from divcore.video import slides

    out, side, _ = video
    index = slides.write(out["video"], tmp_path / "slides", "Video test")
    stops = slides.stops(side, "Video test")
    assert [s["name"] for s in stops[:2]] == ["Video test", "The start"] and len(stops) >= 4
    # the last stop is inside the closing hold, on a frame that shows the last step
    end = side["animation_start"] + side["step_times"][-1]
    assert end + 1.0 / side["fps"] < stops[-1]["t"] < end + 2.0 / side["fps"]
    context = browser.new_context(viewport={"width": 960, "height": 540}, offline=True)
    page = context.new_page()
    requested, errors = [], []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(index.as_uri())
    page.wait_for_function("document.getElementById('deck').readyState >= 2")
    state = "[document.body.dataset.stop, document.getElementById('deck').currentTime, document.getElementById('deck').paused]"
    assert page.evaluate(state) == ["0", 0, True]
    page.evaluate("document.getElementById('deck').playbackRate = 4")  # the test need not wait in real time
    for i in range(1, len(stops)):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"document.body.dataset.stop === '{i}' && document.body.dataset.playing === 'no'",
                               timeout=30_000)
        stop, t, paused = page.evaluate(state)
        assert paused and t == pytest.approx(stops[i]["t"], abs=1.0 / side["fps"]), i
    page.keyboard.press("ArrowRight")  # at the last stop, nothing more
    assert page.evaluate(state)[0] == str(len(stops) - 1)
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(state)[:2] == [str(len(stops) - 2), pytest.approx(stops[-2]["t"], abs=1e-3)]
    assert {u.split(":", 1)[0] for u in requested} == {"file"} and errors == []
    # the status line, over the video's legend, fades once the presenter stops pressing keys
    page.wait_for_function("getComputedStyle(document.getElementById('status')).opacity === '0'", timeout=6_000)
    assert sorted(p.name for p in index.parent.iterdir()) == sorted(
        ["index.html", out["video"].name, out["poster"].name, out["captions"].name])
    context.close()


LAYOUT_SCENES = ["k-sweep", "adam-vs-natural", "alpha-family", "three-modes", "unequal-weights", "fixed-std",
                 "forward-reverse-kl"]


@pytest.mark.parametrize("name", LAYOUT_SCENES)
def test_a_scenes_panels_keep_their_names_numbers_and_colour_bars_apart(name):
    """Laid out as the video lays them out (1 to 10 runs, one or two columns,
    every parameterization's axis names, a trace over 30 decades): no two
    pieces of text, colour bars, landscapes or trace boxes overlap, each
    landscape has its colour bar, and everything is inside the frame above
    the legend row."""
    from manim import ValueTracker

    import divcore
    from divcore.render.plane import view_of
    from divcore.video.scene import DivfitScene, line_speeds

    result = divcore.run(Path(__file__).parent.parent / "scenes" / f"{name}.toml", steps=40)
    views = [view_of(rec) for rec in result.values()]
    times = timing.step_times([line_speeds(v) for v in views], 6.0)
    panels = DivfitScene.lay_out(None, views, times, ValueTracker(0.0))
    for p in panels:
        assert len(p.colour_bar) > 0 or p.view.fixed_std, p.view.name
        # x's name under its axis: above it, the curves' tails ran through it
        assert p.axis_names[0].get_top()[1] <= p.dist.x_axis.get_center()[1], p.view.name
        # the widest readout there can be: it is shrunk to its room
        p.readout.fit("KL(q‖p) = 8.888e+88    ESS = 888.8 / 888    step 8888 / 8888")
    apart_and_inside(pieces_of(panels))
    for step in (20, 40):  # and as it changes
        for p in panels:
            p.update_to(step)
        apart_and_inside(pieces_of(panels))
    # every readout in one type size, at every step
    from divcore.video.glyphs import GlyphLine
    from divcore.video.scene import even_readouts

    even_readouts(panels)
    for step in (0, 20, 40):
        for p in panels:
            p.update_to(step)
            plain = GlyphLine(p.readout._style["font_size"], "#000000", "DejaVu Sans").set_text(p.readout.text)
            assert p.readout.width / plain.width == pytest.approx(panels[0].readout.factor, rel=1e-9), p.view.name
            assert p.readout.width <= p.readout.max_width + 1e-9
        apart_and_inside(pieces_of(panels))


def pieces_of(panels):
    """(name, [x0, y0, x1, y1]) of every text, bar, landscape and trace box of the panels."""
    from manim import DL, UR

    from divcore.video.glyphs import GlyphLine

    def box(m):
        return np.r_[m.get_corner(DL)[:2], m.get_corner(UR)[:2]]

    pieces = []
    for p in panels:
        whole = {"label": p.label, "readout": p.readout, "names": p.axis_names, "bar": p.colour_bar,
                 "trace name": p.trace.name, "landscape": p.image, "trace": p.trace.box}
        numbers = {"numbers": p.numbers, "trace numbers": p.trace.numbers}
        for k, m in whole.items():
            parts = m.submobjects if k == "names" else [m]
            pieces += [(f"{p.view.name} {k}", box(part)) for part in parts if part.width > 0]
        for k, m in numbers.items():
            pieces += [(f"{p.view.name} {k} {t.text}", box(t)) for t in m.get_family() if isinstance(t, GlyphLine)]
    return pieces


def apart_and_inside(pieces):
    import itertools

    from divcore.video.scene import KEY_HEIGHT

    pad = 0.005  # scene units: touching is not overlapping
    for (a, ba), (b, bb) in itertools.combinations(pieces, 2):
        apart = ba[2] - pad <= bb[0] or bb[2] - pad <= ba[0] or ba[3] - pad <= bb[1] or bb[3] - pad <= ba[1]
        assert apart, (a, b)
    for a, (x0, y0, x1, y1) in pieces:
        assert -7.11 <= x0 and x1 <= 7.11 and -4.0 + KEY_HEIGHT <= y0 and y1 <= 4.0, a


def test_a_set_text_is_typeset_once_and_each_copy_moves_alone():
    from manim import Text

    from divcore.video.glyphs import _TEXTS, text

    def outline(m):
        return np.concatenate([f.points for f in m.family_members_with_points()])

    style = {"font_size": 14, "color": "#222222", "font": "DejaVu Sans"}
    first = text("KL(q‖p) by step", **style)
    typeset = len(_TEXTS)
    moved = text("KL(q‖p) by step", **style).shift([1.0, 2.0, 0.0])
    assert len(_TEXTS) == typeset  # from the cache
    assert np.allclose(outline(first) + [1.0, 2.0, 0.0], outline(moved))
    assert np.array_equal(outline(text("KL(q‖p) by step", **style)), outline(Text("KL(q‖p) by step", **style)))


def test_a_render_in_the_builds_process_leaves_manims_settings_as_they_were(video):
    """The build renders in its own processes (the fixture's, here: one job)."""
    from manim import config

    from manim.mobject.svg.svg_mobject import SVG_HASH_TO_MOB_MAP

    import logging

    out, side, _ = video
    assert (config.pixel_width, config.frame_rate) != (side["width"], side["fps"])
    # nor its logger's level, which tempconfig's `verbosity` does not put back
    assert logging.getLogger("manim").level == logging.getLevelName(config.verbosity)
    # nor the SVGs it parsed, kept by paths in its removed folder (a worker's memory grew video by video)
    assert not SVG_HASH_TO_MOB_MAP


def test_importing_manim_for_a_render_leaves_the_processs_logging_as_it_was():
    """A build worker renders videos and draws figures: after manim's import,
    a library's INFO record (fontTools subsetting a PDF's fonts) prints nothing."""
    import subprocess
    import sys

    code = """
import logging, warnings
filters = list(warnings.filters)
from divcore.video.render import import_manim
import_manim()
import manim
assert logging.getLogger().handlers == [] and logging.getLogger().level == logging.WARNING
assert logging.getLogger("PIL").level == logging.getLogger("matplotlib").level == logging.NOTSET
assert warnings.filters == filters
logging.getLogger("fontTools.subset").info("Retaining 25 glyphs")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == proc.stderr == ""



def test_a_trail_keeps_a_vertex_a_half_pixel_and_skips_what_is_not_finite():
    from manim import tempconfig

    from divcore.video.camera import Trail

    def anchors(m):
        return np.concatenate([m.points[::4], m.points[-1:]])

    def whole(path):
        return Trail().show(len(path), lambda lo, hi: path[lo:hi])

    t = np.linspace(0, 1, 20001)
    path = np.column_stack([4 * t, np.sin(20 * t), 0 * t])
    with tempconfig({"pixel_width": 1280, "pixel_height": 720}):
        half = 0.5 * 14.222222222222221 / 1280
        kept = anchors(whole(path))
        gaps = np.linalg.norm(np.diff(kept, axis=0), axis=1)
        assert len(kept) < 0.2 * len(path) and np.allclose(kept[[0, -1]], path[[0, -1]])
        assert (gaps[:-1] > 0.5 * half).all() and (gaps < 4 * half).all()
        broken = path.copy()
        broken[10, 0], broken[20, 1] = np.nan, np.inf
        again = anchors(whole(broken))
        assert np.isfinite(again).all() and np.allclose(again[-1], path[-1]) and len(again) > 0.9 * len(kept)
        assert len(anchors(whole(path[:1]))) == 2


def test_a_growing_trail_keeps_the_vertices_the_whole_path_keeps():
    """Shown frame after frame (a few new points each, sometimes none, some not
    finite, once shorter), a Trail holds the very points it keeps from the
    whole path so far taken in at once."""
    from manim import tempconfig

    from divcore.video.camera import Trail

    rng = np.random.default_rng(5)
    path = np.column_stack([np.cumsum(rng.normal(0, 0.01, 3000)), np.cumsum(rng.normal(0, 0.01, 3000)), np.zeros(3000)])
    path[[0, 7, 400, 401, 2999], 0] = [np.nan, np.inf, np.nan, np.nan, np.nan]
    with tempconfig({"pixel_width": 1280, "pixel_height": 720}):
        trail, asked = Trail(), []
        # frame by frame; one step back (the scene seeks), from where the trail starts over
        for n in [1, 2, 2, 7, 10, 210, 210, 1710, 3000, 1500, 1800, 3000]:
            trail.show(n, lambda lo, hi: asked.append((lo, hi)) or path[lo:hi])
            once = Trail().show(n, lambda lo, hi: path[lo:hi])
            assert np.array_equal(trail.points, once.points), n
        assert asked == [(0, 1), (1, 2), (2, 7), (7, 10), (10, 210), (210, 1710), (1710, 3000),
                         (0, 1500), (1500, 1800), (1800, 3000)]  # only the new points, once
        trail.restart()
        assert trail.show(10, lambda lo, hi: path[lo:hi] + 1).points[0, 0] == path[1, 0] + 1


def _frames(width: int, height: int, n: int) -> list[np.ndarray]:
    """RGBA frames of bands that move and change colour, as a render's do."""
    rng = np.random.default_rng(3)
    x = np.full((height, width, 4), 255, np.uint8)
    out = []
    for i in range(n):
        row = (7 * i) % (height - 8)
        x[row: row + 8, : width // 2 + 5 * i % (width // 2), :3] = rng.integers(0, 256, 3)
        out.append(x.copy())
    return out


def _spec(width: int, height: int, options: dict):
    from fractions import Fraction

    from manim._config.video_encoder import VideoEncoderSpec

    return VideoEncoderSpec(container_format="mp4", codec="libx264", pixel_format="yuv420p", width=width,
                            height=height, frame_rate=Fraction(15), options=tuple(sorted(options.items())))


def _encode(encoder_class, path, frames, repeats, width, height, options) -> bytes:
    enc = encoder_class(target=path, spec=_spec(width, height, options))
    for f, r in zip(frames, repeats):
        enc.write_frame(f, repeat=r)
    enc.finish()
    return path.read_bytes()


def test_the_frame_encoder_writes_the_same_file_as_manims(tmp_path):
    """One RGBA frame reused and a held frame converted once: the encoder sees
    the same pictures as through manim's own encoder."""
    from divcore.video.render import import_manim

    import_manim()
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    from divcore.video.encoder import FrameEncoder
    from divcore.video.render import ENCODER

    width, height = 1280, 720
    frames = _frames(width, height, 12)
    repeats = [1, 1, 5, 1, 1, 1, 3, 1, 1, 1, 1, 8]
    ours = _encode(FrameEncoder, tmp_path / "ours.mp4", frames, repeats, width, height, ENCODER)
    theirs = _encode(VideoSegmentEncoder, tmp_path / "manim.mp4", frames, repeats, width, height, ENCODER)
    assert ours == theirs
    with av.open(str(tmp_path / "ours.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == sum(repeats)


@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
                    reason="needs two cores to compare one with two")
def test_a_videos_bytes_do_not_depend_on_how_many_cores_the_machine_has(tmp_path):
    """x264 runs as many threads as it sees cores unless told, and its output
    depends on how many: the encoder's settings fix them."""
    import subprocess
    import sys

    code = """
import os, sys
from pathlib import Path
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: int(sys.argv[1])])
sys.path.insert(0, sys.argv[3])
from divcore.video.render import import_manim, ENCODER
import_manim()
from manim.scene.video_segment_encoder import VideoSegmentEncoder
from test_video import _encode, _frames
frames = _frames(320, 240, 40)
_encode(VideoSegmentEncoder, Path(sys.argv[2]), frames, [1] * len(frames), 320, 240, ENCODER)
"""
    here = str(Path(__file__).parent)
    out = {}
    for cores in (1, 2):
        path = tmp_path / f"{cores}.mp4"
        proc = subprocess.run([sys.executable, "-c", code, str(cores), str(path), here], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        out[cores] = path.read_bytes()
    assert out[1] == out[2]
