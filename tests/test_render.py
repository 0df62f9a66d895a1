"""Renderers draw the recorded data: artists hold the record's numbers, files hold
the promised content (text as text, embedded fonts, frame counts, loop flag, budgets)."""


import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from conftest import run_config, target_of
from divcore import runner, trajectory
from divcore.core.target import Mixture
from divcore.render import animate, figures
from divcore.render.panels import DistributionPanel, HistoryPanel, LandscapePanel
from divcore.render.view import RunView
from divcore.scenario.model import Start
from divcore.style import shades

P = Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])
T = target_of(P)


def view_of(tmp_path, name, **kw):
    cfg = run_config(name=name, starts=(Start(0.5, 1.0),), **kw)
    path = trajectory.save(tmp_path / f"{name}.npz", runner.run(T, cfg),
                           {"scenario": "s", "target": T.to_dict(), "run": cfg.to_dict()})
    return RunView.load(path)


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("records")
    return [
        view_of(tmp, "reverse", steps=60),
        view_of(tmp, "fwd-is", direction="forward", estimator="is", samples=8, steps=60),
    ]


def test_q_curve_is_the_recorded_gaussian_at_the_drawn_step(views):
    v = views[1]
    fig, ax = plt.subplots()
    panel = DistributionPanel(ax, v)
    for t in (0, 17, 60):
        panel.update(t)
        m, s = v.record["mean"][0, t], v.record["std"][0, t]
        x = panel.q_line.get_xdata()
        expected = np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
        np.testing.assert_allclose(panel.q_line.get_ydata(), np.minimum(expected, 10 * panel.top), rtol=1e-12)
        assert f"step {t} / 60" in panel.text.get_text()
    plt.close(fig)


def test_rug_holds_the_steps_particles_coloured_by_sign(views):
    v = views[1]
    fig, ax = plt.subplots()
    panel = DistributionPanel(ax, v)
    panel.update(5)
    np.testing.assert_array_equal(panel.rug.get_offsets()[:, 0], v.record["particles"][0, 5])
    colours = panel.rug.get_edgecolors()
    c = v.record["particle_weights"][0, 5]
    assert (c > 0).all()  # self-normalised weights
    strongest = np.argmax(np.abs(c))
    np.testing.assert_allclose(colours[strongest, :3], matplotlib.colors.to_rgb("#009E73"))  # full colour
    weakest = np.argmin(np.abs(c))
    if abs(c[weakest]) < 0.25 * abs(c[strongest]):
        np.testing.assert_allclose(colours[weakest, :3], matplotlib.colors.to_rgb(shades("#009E73")[0]))
    assert panel.w_line is not None  # importance sampling draws its weight curve
    plt.close(fig)


def test_trail_vertices_are_the_recorded_phi(views):
    v = views[0]
    fig, ax = plt.subplots()
    panel = LandscapePanel(ax, v)
    panel.update(25)
    np.testing.assert_array_equal(np.column_stack(panel.trail.get_data()), v.record["phi"][0, :26])
    np.testing.assert_array_equal(np.ravel(panel.marker.get_data()), v.record["phi"][0, 25])
    plt.close(fig)


def test_landscape_image_is_the_divergence_on_its_grid(views):
    v = views[0]
    fig, ax = plt.subplots()
    panel = LandscapePanel(ax, v)
    L = v.landscape
    i, j = 60, 40
    expected = v.divergence.value(v.target, *v.param.from_phi(np.array([L.phi0[j], L.phi1[i]])))
    assert panel.image.get_array()[i, j] == pytest.approx(max(float(expected), panel.norm.vmin))
    plt.close(fig)


def test_history_draws_the_divergence(views):
    v = views[1]
    fig, ax = plt.subplots()
    HistoryPanel(ax, v)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), v.record["divergence"][0])
    plt.close(fig)


def test_figures_in_three_formats_with_text_as_text_and_fonts_embedded(views, tmp_path):
    written = figures.save(figures.summary("Forward <and> reverse", views), tmp_path / "summary")
    assert [p.suffix for p in written] == [".pdf", ".svg", ".png"]
    svg = (tmp_path / "summary.svg").read_text()
    assert "Forward &lt;and&gt; reverse" in svg and "<text" in svg
    assert "reverse" in svg and "importance sampling" in svg
    pdf = (tmp_path / "summary.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType, embedded
    png = Image.open(tmp_path / "summary.png")
    assert png.info.get("dpi", (0, 0))[0] == pytest.approx(200, abs=1)


def test_figures_are_the_same_bytes_every_time(views, tmp_path):
    for name in ("a", "b"):
        figures.save(figures.small_multiples("S", views), tmp_path / name)
    for ext in ("pdf", "svg", "png"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes(), ext


def test_later_formats_keep_the_first_formats_layout_without_a_second_draw(views, tmp_path):
    """`save` solves the layout once, for the PNG (the cheapest to measure text
    with), and keeps it: the other formats are the bytes matplotlib's own
    placeholder engine gives (which draws the whole figure once more before
    printing), and the figure is left with no layout engine."""
    fig = figures.small_multiples("S", views)
    figures.save(fig, tmp_path / "all")
    assert fig.get_layout_engine() is None
    reference = figures.small_multiples("S", views)
    assert (tmp_path / "all.png").read_bytes() == figures.to_bytes(reference, "png")
    reference.set_layout_engine("none")
    for ext in ("pdf", "svg"):
        assert (tmp_path / f"all.{ext}").read_bytes() == figures.to_bytes(reference, ext), ext


def test_freezing_the_layout_ignores_the_callers_rc(views):
    with plt.rc_context({"figure.constrained_layout.use": True}):
        fig = figures.small_multiples("S", views)
        figures.to_bytes(fig, "png")
        figures.freeze_layout(fig)
    assert fig.get_layout_engine() is None


def test_small_multiples_draw_the_chosen_fractions(views):
    fig = figures.small_multiples("S", views, (0.0, 0.5, 1.0))
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles[:3] == ["step 0", "step 30", "step 60"]
    plt.close(fig)


@pytest.mark.parametrize("steps", [1, 10, 149, 150, 151, 2000])
def test_frames_are_dense_early_and_at_most_150(steps):
    t = animate.frame_steps(steps)
    assert t[0] == 0 and t[-1] == steps and len(t) <= 150
    assert np.all(np.diff(t) > 0)
    if steps > 300:
        assert t[10] < steps * 0.02  # the first tenth of the frames covers the first ~1% of steps


def test_scenario_gif_has_every_frame_loops_and_fits_the_budget(views, tmp_path):
    path = animate.scenario_gif("S", views, tmp_path / "s.gif")
    gif = Image.open(path)
    assert gif.n_frames == len(animate.frame_steps(60))
    assert gif.info["loop"] == 0 and gif.size[0] == 640
    assert path.stat().st_size <= 2.5e6


def test_decoded_gif_frames_match_the_drawn_frames(views, tmp_path):
    """Only changed pixels are stored; decoding must still give every whole frame."""
    anim = animate.Animator([animate.Cell(v, v.name) for v in views], 640, 1, 190)
    steps = animate.frame_steps(60)
    frames = [anim.frame(int(t)) for t in steps]
    gif = Image.open(animate.encode_gif(frames, tmp_path / "f.gif"))
    for k in (0, len(steps) // 2, len(steps) - 1):
        gif.seek(k)
        decoded = np.asarray(gif.convert("RGB")).astype(int)
        assert np.abs(decoded - frames[k][..., :3]).mean() < 2.0  # palette quantisation only


def test_gif_readouts_are_plain_text_and_figure_readouts_mathtext(views):
    """A GIF's readout changes every frame, and mathtext parses each new string
    anew (a third of a GIF's time): the GIFs print what the videos and the
    scrubber print, plain Unicode; the figures keep mathtext."""
    anim = animate.Animator([animate.Cell(v, v.name) for v in views], 640, 1, 190)
    for t in (0, 7, 60):
        anim.frame(t)
        for dist, _land in anim.panels:
            text = dist.text.get_text()
            assert text == "\n".join(dist.model.readout(t).lines("plain")) and "$" not in text
            assert not dist.text._preprocess_math(text)[1]  # drawn without the mathtext parser
    fig = figures.small_multiples("S", views, (0.0, 0.5, 1.0))
    readouts = [t.get_text() for ax in fig.axes for t in ax.texts if "=" in t.get_text()]
    assert readouts and all(r.startswith("$") for r in readouts)
    plt.close(fig)


def test_kept_glyph_bitmaps_draw_the_frames_a_plain_canvas_draws(views, monkeypatch):
    """A GIF's canvas keeps each glyph's bitmap by its sub-pixel position and
    each string's shaping; the frames are the bytes matplotlib's own canvas
    draws, readouts, titles, tick labels and rotated axis names included."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from divcore.render import glyphs

    def frames():
        anim = animate.Animator([animate.Cell(v, v.name) for v in views], 640, 1, 190, title="Σ glyphs ‖ q")
        return anim, [anim.frame(int(t)) for t in animate.frame_steps(60)]

    kept, ours = frames()
    if glyphs._PER_GLYPH:  # else the canvas is matplotlib's and there is nothing to compare
        renderer = kept.fig.canvas.get_renderer()
        assert isinstance(renderer, glyphs._Renderer) and renderer._glyphs and renderer._shaped
        shaped = len(renderer._shaped)
        again = kept.frame(int(animate.frame_steps(60)[-1]))  # every string drawn from its kept shaping
        assert len(renderer._shaped) == shaped and np.array_equal(again, ours[-1])
    monkeypatch.setattr(animate, "GlyphCanvas", FigureCanvasAgg)
    _, theirs = frames()
    assert len(ours) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(ours, theirs))


def test_every_pixel_gets_its_nearest_palette_colour_frame_after_frame():
    """The remembered table gives what a search of the whole palette gives,
    for colours first seen in any frame (and never the reserved clear index)."""
    rng = np.random.default_rng(3)
    colours = rng.integers(0, 256, (255, 3))
    nearest = animate._NearestColour(colours)
    base = rng.integers(0, 256, (12, 3))  # frames share most colours, as drawn frames do
    for k in range(4):
        frame = base[rng.integers(0, base.shape[0], (30, 40))].astype(np.uint8)
        frame[rng.random((30, 40)) < 0.2] = rng.integers(0, 256, 3)
        frame[k, :5] = rng.integers(0, 256, (5, 3))
        want = ((frame.astype(int)[..., None, :] - colours) ** 2).sum(-1).argmin(-1)
        got = nearest(frame)
        assert np.array_equal(got, want) and got.max() < animate._CLEAR
        rgba = np.dstack([frame, rng.integers(0, 256, (30, 40), dtype=np.uint8)])  # as a canvas holds it
        assert np.array_equal(nearest(rgba), want)


def test_frames_looked_up_where_they_changed_get_what_each_frame_gets_whole():
    rng = np.random.default_rng(4)
    colours = rng.integers(0, 256, (255, 3))
    frames = [rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)]
    for _ in range(5):  # each frame: the previous one with a patch repainted and its alpha stirred
        f = frames[-1].copy()
        y, x = rng.integers(0, 15), rng.integers(0, 25)
        f[y:y + 5, x:x + 5, :3] = rng.integers(0, 256, (5, 5, 3))
        f[..., 3] = rng.integers(0, 256, (20, 30))
        frames.append(f)
    whole = [animate._NearestColour(colours)(f) for f in frames]
    assert all(np.array_equal(a, b) for a, b in zip(animate._NearestColour(colours).frames(frames), whole))


def test_gallery_has_one_cell_per_scenario(views, tmp_path):
    cells = [animate.Cell(v, f"scenario {i}") for i, v in enumerate(views * 2)]
    anim = animate.Animator(cells, 3 * 330, 3, 170, share_x=False)
    assert len(anim.panels) == 4
    titles = [ax.get_title(loc="left") for ax in anim.fig.axes if ax.get_title(loc="left")]
    assert titles == [f"scenario {i}" for i in range(4)]
    index = animate.gallery(cells[:2], tmp_path / "gallery")
    assert [c["title"] for c in index] == ["scenario 0", "scenario 1"]
    assert json.loads((tmp_path / "gallery" / "index.json").read_text()) == index
    for c in index:
        gif, poster = Image.open(tmp_path / "gallery" / c["gif"]), Image.open(tmp_path / "gallery" / c["poster"])
        assert gif.info["loop"] == 0 and gif.n_frames > 10 and gif.size == poster.size == (c["width"], c["height"])
        assert c["width"] == animate.GALLERY_CELL_PX
        assert (tmp_path / "gallery" / c["gif"]).stat().st_size <= 1e6
        assert (tmp_path / "gallery" / c["poster"]).stat().st_size <= 40_000  # the still comes first: light


def test_fixed_std_landscape_is_a_curve_with_q_sliding_on_it(tmp_path):
    v = view_of(tmp_path, "fixed", family="gaussian-fixed-std", steps=40)
    fig, ax = plt.subplots()
    panel = LandscapePanel(ax, v)
    panel.update(12)
    x, y = panel.trail.get_data()
    np.testing.assert_array_equal(x, v.record["phi"][0, :13, 0])
    np.testing.assert_array_equal(y, v.record["divergence"][0, :13])
    phi0, value = v.curve
    mean, std = v.param.from_phi(np.stack([phi0, np.full_like(phi0, v.record["phi"][0, 0, 1])], -1))
    np.testing.assert_allclose(value, v.divergence.value(v.target, mean, std))
    plt.close(fig)


def test_rug_shades_are_relative_and_rounding_noise_is_faintest():
    from divcore.style import RUG_LEVELS, rug_level

    np.testing.assert_array_equal(rug_level(np.array([1.0, -0.5, 0.2, 0.0])), [RUG_LEVELS - 1, 1, 0, 0])
    # coefficients of 1e-16 (a pathwise pull at q = p) are not drawn as full-strength pulls
    np.testing.assert_array_equal(rug_level(np.array([3e-16, -1e-16, 2e-17])), [0, 0, 0])
