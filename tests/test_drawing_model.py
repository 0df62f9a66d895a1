"""One drawing model: the figures, the videos and the scrubber's payload are
handed the same numbers for the distribution panel (its top, x-range, the
weight curve's scale, the optima's roles, the readout), and only draw them."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from divcore import runner
from divcore.render import labels
from divcore.render.panels import DistributionPanel
from divcore.render.view import DistributionModel, RunView, shared_x_range
from divcore.scenario import parse_scenario
from divcore.site import payload
from divcore.style import palette

SCENE = """
title = "Three backends"
[target]
components = [{ mean = -3.0, std = 0.9, weight = 0.5 }, { mean = 2.0, std = 0.7, weight = 0.5 }]
[fit]
start = { mean = 1.0, std = 1.2 }
lr = 0.08
steps = 80
[[runs]]
name = "is"
divergence = "kl"
direction = "forward"
estimator = "is"
samples = 16
[[runs]]
name = "chi"
divergence = "chi2"
direction = "forward"
estimator = "is"
samples = 16
[[runs]]
name = "reverse"
divergence = "kl"
direction = "reverse"
"""


@pytest.fixture(scope="module")
def views():
    scn = parse_scenario(SCENE, "three-backends.toml")
    out = []
    for run in scn.runs:
        record = runner.run(scn.target, run)
        record["config"] = scn.run_dict(run)
        out.append(RunView(record))
    return out


def _round(x):
    return payload._round([x])[0]


def test_the_model_keeps_the_figures_rule_for_the_top(views):
    """1.35 min(max(1.1 max p, q's peak over the run, every q*'s peak), 4 max p)."""
    for v in views:
        m = DistributionModel(v, shared_x_range(views))
        q_peak = 1 / (np.sqrt(2 * np.pi) * v.record["std"][0].min())
        star_peak = 1 / (np.sqrt(2 * np.pi) * v.optima[1].min())
        assert m.top == pytest.approx(1.35 * min(max(1.1 * m.p.max(), q_peak, star_peak), 4 * m.p.max()))
        assert [o.role for o in m.optima] == ["global"] + ["local"] * (len(m.optima) - 1)


@pytest.mark.parametrize("t", [0, 7, 80])
def test_three_backends_are_handed_the_same_numbers(views, t):
    from manim import ValueTracker

    from divcore.video.scene import READOUT_GAP, RunPanels

    xlim = shared_x_range(views)
    data = payload.scenario_payload("three-backends", "Three backends", views, {})
    frames = data["frames"]
    for v, sent in zip(views, data["runs"]):
        model = DistributionModel(v, xlim)
        # figures (and GIFs): matplotlib
        fig, ax = plt.subplots()
        panel = DistributionPanel(ax, v, xlim=xlim)
        panel.update(t)
        assert ax.get_ylim()[1] == model.top and ax.get_xlim() == model.xlim
        if model.weight_exponent is None:
            assert panel.w_line is None
        else:
            np.testing.assert_array_equal(panel.w_line.get_ydata(), model.weight(t))
        for o in model.optima:  # each q* drawn in the colour and dash of its role
            line = next(line for line in ax.lines if np.array_equal(line.get_ydata(), model.star(o)))
            assert matplotlib.colors.to_hex(line.get_color()) == palette()[f"q_star_{o.role}"].lower()
        assert panel.text.get_text() == "\n".join(model.readout(t).lines("tex"))
        plt.close(fig)
        # videos: manim
        video = RunPanels(v, 6.0, 2.5, np.linspace(0, 1, v.steps + 1), ValueTracker(0.0), xlim=xlim)
        video.update_to(t)
        assert video.model.top == model.top and video.model.xlim == model.xlim
        assert (video.weight is not None) == (model.weight_exponent is not None)
        assert video.readout.text == READOUT_GAP.join(model.readout(t).lines("plain"))
        # the scrubber's payload
        member = sent["members"][0]
        assert member["top"] == _round(model.top)
        assert [o["role"] for o in sent["optima"]] == [o.role for o in model.optima]
        if model.weight_exponent is None:
            assert member["weightScale"] is None
        else:
            for i, step in enumerate(frames):
                assert member["weightScale"][i] == _round(model.weight_scale(min(step, v.steps)))


def test_the_video_draws_local_optima_in_their_colour(views):
    from manim import ValueTracker

    from divcore.video.scene import RunPanels

    v = views[2]  # reverse KL on two modes: a local optimum on the other mode
    assert len(v.optima[0]) > 1
    panels = RunPanels(v, 6.0, 2.5, np.linspace(0, 1, v.steps + 1), ValueTracker(0.0))
    stars = panels.static[-1]
    pal = palette()
    colours = [s.get_stroke_color().to_hex().upper() for s in stars]
    assert colours[0] == pal["q_star_global"].upper()
    assert all(c == pal["q_star_local"].upper() for c in colours[1:])


def test_readout_values_format_as_the_page_formats_them():
    assert [labels.fmt(x) for x in (0.690712, 12.3456, 12345.6, 0.0000123, 1.0, float("inf"))] == [
        "0.6907", "12.35", "1.235e+04", "1.23e-05", "1", "∞"]
