"""2-D scenarios in the build: records, figures and the GIF (the Bishop picture:
a mean-field q squeezed inside a correlated p by reverse KL, stretched over it
by forward KL), and no video or page yet."""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from divcore import pipeline
from divcore.cli import main
from divcore.render import animate, figures, plane
from divcore.scenario import parse_scenario

BISHOP = """\
title = "Mean-field q, correlated p"
[target]
dim = 2
components = [ { mean = [0.0, 0.0], std = [1.0, 1.0], corr = 0.9, weight = 1.0 } ]
[fit]
family = "gaussian-diag"
start = { mean = [1.5, -1.0], std = [1.2, 0.6] }
optimizer = "sgd"
natural_gradient = true
lr = 0.5
steps = 40
[media]
snapshots = [0.0, 1.0]
[[runs]]
name = "reverse"
divergence = "kl"
direction = "reverse"
[[runs]]
name = "forward"
divergence = "kl"
direction = "forward"
[[runs]]
name = "reparam"
divergence = "kl"
direction = "reverse"
estimator = "reparam"
samples = 8
"""

LINE = """\
title = "One dimension"
[target]
components = [ { mean = 0.0, std = 1.0, weight = 1.0 } ]
[[runs]]
name = "r"
divergence = "kl"
direction = "reverse"
"""


def test_a_build_plans_every_output_for_2d_scenes_too(tmp_path):
    two, one = parse_scenario(BISHOP, "bishop.toml"), parse_scenario(LINE, "line.toml")
    P = pipeline.plan([two, one], tmp_path)
    for stage in ("figures", "gif", "video", "assets"):
        assert {j.label for j in P.stages[stage]} == {"bishop", "line"}, stage
    (site,) = P.stages["site"]
    assert {m.scenario.name for m in site.parts[0].args[0]} == {"bishop", "line"}


def test_figures_of_a_2d_scene_show_bishops_picture(tmp_path, capsys):
    scene = tmp_path / "bishop.toml"
    scene.write_text(BISHOP)
    assert main(["figures", str(scene), "--out", str(tmp_path / "build")]) == 0
    out = capsys.readouterr()
    media = tmp_path / "build" / "media" / "bishop"
    for base in ("summary", "snapshots"):
        for ext in ("pdf", "svg", "png"):
            assert (media / f"{base}.{ext}").stat().st_size > 1000
    assert out.err == ""
    data = tmp_path / "build" / "data" / "bishop"
    views = [plane.PlaneView.load(data / f"{n}.npz") for n in ("reverse", "forward", "reparam")]
    # reverse KL squeezes q inside p (variances 1/Lambda_ii = 1 - 0.9^2); forward KL stretches it (variances 1)
    assert np.allclose(np.diag(views[0].state(40)[1]), 0.19, rtol=1e-3)
    assert np.allclose(np.diag(views[1].state(40)[1]), 1.0, rtol=1e-3)
    fig = figures.small_multiples("t", views, (0.0, 1.0))
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    panel = plane.PlanePanel(Figure().subplots(), views[2], plane.window(views))
    drawn = panel.update(3)
    assert len(panel.dots.get_offsets()) == 8 and drawn
    lims = plane.window(views)
    for v in views:  # every drawn q fits the shared window
        for t in (0, 40):
            e = plane.ellipse(*v.state(t), 2.0)
            assert lims[0][0] <= e[:, 0].min() and e[:, 0].max() <= lims[0][1]
            assert lims[1][0] <= e[:, 1].min() and e[:, 1].max() <= lims[1][1]
    assert Path(views[0].path).exists()
    gif = animate.scenario_gif("t", views, tmp_path / "bishop.gif")
    with Image.open(gif) as im:
        assert im.n_frames == len(animate.frame_steps(40)) > 20 and im.size[0] == 640
        im.seek(0)
        first = np.asarray(im.convert("RGB"))
        im.seek(im.n_frames - 1)
        assert np.any(np.asarray(im.convert("RGB")) != first)  # q moved
    # the plane's GIF readouts in plain text too (see test_render's readout test)
    anim = animate.Animator([animate.Cell(v, v.name) for v in views], 640, 1, 190)
    anim.frame(5)
    texts = [panel.text.get_text() for (panel,) in anim.panels]
    assert all("$" not in t and " = " in t for t in texts)


def test_a_2d_scene_gets_its_gallery_cell_beside_a_1d_one(tmp_path):
    """The front page's gallery mixes the dimensions: a 2-D scene's cell is its
    first run on the plane (p's contours in grey, q's ellipses in q's blue),
    as wide as a line cell, animated and with its still poster."""
    from divcore.render.plane import load_view
    from divcore.style import palette

    files = []
    for name, text in (("bishop", BISHOP), ("line", LINE)):
        files.append(tmp_path / f"{name}.toml")
        files[-1].write_text(text)
    P, _ = pipeline.build(files, tmp_path / "build", jobs=1, stages=("data",))
    views = [load_view(P.data_dir / "bishop" / "reverse.npz"), load_view(P.data_dir / "line" / "r.npz")]
    index = animate.gallery([animate.Cell(views[0], "Bishop"), animate.Cell(views[1], "Line")], tmp_path / "g")
    assert [c["title"] for c in index] == ["Bishop", "Line"]
    q = np.array([int(palette()["q"][i : i + 2], 16) for i in (1, 3, 5)])
    for cell in index:
        with Image.open(tmp_path / "g" / cell["gif"]) as gif:
            assert gif.n_frames > 10 and gif.size == (animate.GALLERY_CELL_PX, cell["height"])
        poster = np.asarray(Image.open(tmp_path / "g" / cell["poster"]).convert("RGB")).astype(int)
        assert (np.abs(poster - q).sum(-1) < 60).sum() > 50, cell["title"]  # q is drawn
    plane_poster = np.asarray(Image.open(tmp_path / "g" / index[0]["poster"]).convert("RGB")).astype(int)
    greys = (np.ptp(plane_poster, axis=-1) < 8) & (plane_poster.mean(-1) > 60) & (plane_poster.mean(-1) < 230)
    assert greys.mean() > 0.02  # p's filled contours
