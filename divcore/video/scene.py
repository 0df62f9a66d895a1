"""The manim scene of one scenario: a title card, the runs animated in sync, a hold.

Everything drawn comes from the recorded trajectories (through `RunView`);
`construct` reads as the story the video tells.
"""

from __future__ import annotations

import numpy as np
from manim import (
    DOWN, LEFT, PI, RIGHT, UP, Axes, Circle, Dot, FadeIn, FadeOut, Group, ImageMobject,
    Rectangle, Scene, Square, Star, ValueTracker, VGroup, VMobject, config, linear,
)

from manim.constants import LineJointType
from manim.renderer.cairo_renderer import CairoRenderer

from ..render import labels
from ..render.panels import landscape_rgba
from ..render.plane import PlaneView, load_view, window
from ..render.plane import legend as plane_legend
from ..render.view import DistributionModel, RunView, legend, shared_x_range
from ..style import RUG_LEVELS, palette, rug_level, shades
from . import timing
from .camera import LineCamera, Polyline, Ticks, Trail, arc_lengths
from .encoder import FrameWriter
from .glyphs import GlyphLine, text
from .keys import FONT, axis_numbers, colour_bar, legend_row, nice_ticks
from .trace import TracePanel

READOUT_GAP = "    "
# (dash, gap) lengths of an optimum's q* curve by its role, as the style's dashes in the figures
DASHES = {"global": (0.12, 0.08), "local": (0.03, 0.06)}
TITLE_SECONDS = 2.5
HOLD_SECONDS = 2.0
KEY_HEIGHT = 0.45  # the legend's row along the bottom of the frame


class RunPanels:
    """One run's distribution axes and landscape, and the updaters that move them."""

    def __init__(self, view: RunView, width: float, height: float, times: np.ndarray, tracker: ValueTracker,
                 small: bool = False, xlim: tuple[float, float] | None = None, step: bool = True):
        pal = palette()
        self.small = small
        self.font_size = 13 if small else 18
        self.numbers_size = 10 if small else 14
        self.view, self.times, self.tracker = view, times, tracker
        # what the panel shows is computed once for every backend; here it is only drawn
        self.model = m = DistributionModel(view, xlim)
        self.x, self.top = m.x, m.top
        lo, hi = m.xlim
        # distribution | landscape and its colour bar | the divergence by step
        self.bar = not view.fixed_std
        # a small cell gives the landscape's numbers and its colour bar more of its width
        dist_w, land_w = (0.34 if small else 0.40) * width, (0.21 if small else 0.22) * width
        self.land_at = 0.44 if small else 0.50
        self.width, self.height, self.dist_w, self.land_w = width, height, dist_w, land_w
        self.dist = Axes(x_range=[lo, hi, hi - lo], y_range=[m.bottom, m.top, m.top],
                         x_length=dist_w, y_length=height, tips=False,
                         axis_config={"stroke_width": 1.5, "include_ticks": False, "color": "#555555"},
                         y_axis_config={"stroke_opacity": 0, "include_ticks": False})
        self.trace = TracePanel(view, width * (0.20 if self.bar else 0.21) - 0.1, height, self.numbers_size)
        to_dist = self._affine(self.dist)
        p_curve = VMobject(stroke_color=pal["p_line"], stroke_width=2).set_points_as_corners(to_dist(m.x, m.p))
        p_area = VMobject(fill_color=pal["p_fill"], fill_opacity=1, stroke_width=0)
        edge = to_dist(np.array([hi, lo]), np.zeros(2))
        p_area.set_points_as_corners(np.concatenate([to_dist(m.x, m.p), edge, to_dist(m.x[:1], m.p[:1])]))
        stars = VGroup()
        for o in m.optima:
            dash, gap = DASHES[o.role]
            stars.add(_dash(to_dist(m.x, np.minimum(m.star(o), m.top)), dash, gap)
                      .set_stroke(pal[f"q_star_{o.role}"], 2))
        self.q = Polyline(stroke_color=pal["q"], stroke_width=4)
        self.weight = Polyline(stroke_color=pal["weight"], stroke_width=2.5) if m.weight_exponent is not None else None
        # eight tick layers: the four shades of the positive colour, then of the negative one
        self.rug = VGroup(*(Ticks(stroke_color=c, stroke_width=2)
                            for c in shades(pal["positive"]) + shades(pal["negative"])))
        # the readout may run on over the gap to the landscape's name (its row has nothing else)
        self.readout = ReadoutLine(16 if small else 18, max_width=self.land_at * width - 0.2, step=step)
        self.static = VGroup(p_area, p_curve, self.dist, stars)

        if view.fixed_std:
            self._curve_panel(view, land_w, height)
        else:
            self._surface_panel(view, land_w, height)
        self.maps = to_dist, self._affine(self.land)
        self.minima = VGroup()
        om, os_, _ = view.optima
        if om.size:
            phi = view.param.to_phi(om, os_)
            if view.fixed_std:  # a bead on the curve: (phi0, divergence)
                phi = np.stack([phi[:, 0], view.optima[2]], axis=-1)
            for i, (a, b) in enumerate(phi):
                # global: a star, local: a diamond; white with a black edge on any colour
                shape = Star(5, outer_radius=0.13) if i == 0 else Square(0.11).rotate(PI / 4)
                self.minima.add(shape.move_to(self.land.c2p(a, b)).set_fill("#FFFFFF", 1).set_stroke("#000000", 1.5))
        self.start = VGroup(Circle(0.07).set_stroke("#000000", 4), Circle(0.07).set_stroke("#FFFFFF", 2))
        self.start.move_to(self.land.c2p(*self._land_xy(0)))
        # the trail is white on a black edge, as in the figures: one path, stroked twice
        self.trail = Trail(stroke_color=pal["trail"], stroke_width=2.5, joint_type=LineJointType.ROUND,
                              background_stroke_color=pal["trail_edge"], background_stroke_width=5)
        self.marker = Dot(radius=0.08, color=pal["marker"]).set_stroke("#000000", 1.5)
        self.label = text(view.name, font_size=self.font_size + 2, weight="BOLD", color=pal["text"], font=FONT)
        if self.label.width > land_w:  # a long name in a small cell would run into the next cell's readout
            self.label.scale_to_fit_width(land_w)
        xl, yl = labels.axes_plain(view.run)
        if view.fixed_std:
            yl = f"{labels.divergence_plain(view.run)}, σ = {view.state(0)[1]:g}"
        self.axis_names = VGroup(text("x", font_size=16, color=pal["text"], font=FONT),
                                 text(xl, font_size=14, color=pal["text"], font=FONT),
                                 text(yl, font_size=14, color=pal["text"], font=FONT).rotate(PI / 2))
        self.numbers = VGroup()
        self.colour_bar = Group()
        if self.bar:
            self.colour_bar = colour_bar(view.landscape.value, labels.divergence_plain(view.run), height * 0.8,
                                         self.numbers_size, thin=small)
        self.update_to(0)

    def arrange(self, centre):
        """Distribution left with the readout above it, landscape in the middle
        with the run's name above it (and its colour bar beside), the divergence
        by step right; every axis numbered."""
        left = centre[0] - self.width / 2
        self.static.move_to([left + self.dist_w / 2, centre[1], 0])
        Group(self.image, self.land, self.land_curve, self.minima, self.start).move_to(
            [left + self.land_at * self.width + self.land_w / 2, centre[1], 0])
        self.label.next_to(self.image, UP, buff=0.1).align_to(self.image, LEFT)
        trace_right = left + self.width
        self.trace.arrange([trace_right - self.trace.width / 2, centre[1], 0])
        if self.bar:
            gap = 0.08 if self.small else 0.12
            self.colour_bar.move_to(self.image.get_right() + RIGHT * (gap + self.colour_bar.width / 2)).align_to(
                self.image, UP)
            # the trace's numbers clear the colour bar's: narrow the trace from the left if they would not
            overlap = self.colour_bar.get_right()[0] + 0.12 - (trace_right - self.trace.width - self.trace.left_margin())
            if overlap > 0:
                width = self.trace.width - overlap
                self.trace.arrange([trace_right - width / 2, centre[1], 0], width)
        self.numbers = self._axis_numbers()
        # each axis named at its end, beside its numbers: no row of its own
        x_name, l_x, l_y = self.axis_names
        # (under the axis's end, in the numbers' row: above it, q's tails and q*'s ran through it)
        x_name.next_to(self.dist.x_axis.get_right(), DOWN, buff=0.06).align_to(self.dist, RIGHT)
        l_x.next_to(self.numbers[1], RIGHT, buff=0.1).align_to(self.numbers[1][-1], UP)
        room = self.trace.box.get_left()[0] - self.trace.left_margin() - 0.08
        if self.bar:
            room = min(room, self.colour_bar.get_left()[0] - 0.04)
        if l_x.get_right()[0] > room:  # a long name (the natural parameters' η₁ = μ/σ²) goes under the numbers
            l_x.next_to(self.numbers[1], DOWN, buff=0.04).align_to(self.image, RIGHT)
        if l_y.height > self.image.height:  # and is no taller than its axis
            l_y.scale_to_fit_height(self.image.height)
        l_y.next_to(self.numbers[2], LEFT, buff=0.04)
        self.readout.anchor(self.dist.get_corner(UP + LEFT) + UP * (0.1 + self.readout.descent))
        # coords -> scene points, fixed from here on
        self.maps = self._affine(self.dist), self._affine(self.land)
        self.trail.restart()
        self.update_to(0)

    def _axis_numbers(self) -> VGroup:
        """x under the distribution; the landscape's two coordinates (or, for the
        fixed-std family, its coordinate and the divergence) beside it."""
        lo, hi = self.model.xlim
        y0 = self.dist.c2p(0, 0)[1]
        ticks = nice_ticks(lo, hi, 6)
        ticks = ticks[ticks <= lo + 0.9 * (hi - lo)]  # the axis's name sits at its end, under it
        dist = axis_numbers(lambda v: [self.dist.c2p(v, 0)[0], y0, 0], ticks, self.numbers_size)
        (a0, a1), (b0, b1) = self.land.x_range[:2], self.land.y_range[:2]
        bottom, left = self.image.get_bottom()[1], self.image.get_left()[0]
        land_x = axis_numbers(lambda v: [self.land.c2p(v, b0)[0], bottom, 0], nice_ticks(a0, a1, 4), self.numbers_size)
        land_y = axis_numbers(lambda v: [left, self.land.c2p(a0, v)[1], 0], nice_ticks(b0, b1, 4), self.numbers_size,
                              side=LEFT)
        return VGroup(dist, land_x, land_y)

    def still(self):
        return [self.static, self.image, self.land, self.land_curve, self.minima, self.start, self.label,
                self.axis_names, self.numbers, self.colour_bar, *self.trace.still()]

    def moving(self):
        weight = [self.weight] if self.weight is not None else []
        return [self.trail, self.marker, *weight, self.q, self.rug, self.readout,
                *self.trace.moving()]

    def _surface_panel(self, view: RunView, width: float, height: float) -> None:
        """The divergence over the parameterization as a colour wash (as in the figures)."""
        L = view.landscape
        self.image = ImageMobject(landscape_rgba(view))
        self.image.stretch_to_fit_width(width).stretch_to_fit_height(height)
        self.land = Axes(x_range=[L.phi0[0], L.phi0[-1], (L.phi0[-1] - L.phi0[0]) / 4],
                         y_range=[L.phi1[0], L.phi1[-1], (L.phi1[-1] - L.phi1[0]) / 4],
                         x_length=width, y_length=height, tips=False,
                         axis_config={"stroke_opacity": 0, "include_ticks": False})  # only places things
        self.land_curve = VGroup()

    def _curve_panel(self, view: RunView, width: float, height: float) -> None:
        """The fixed-std family moves along one line: the divergence as a curve over
        it, on a light card of the wash's size, and q as a bead sliding along it."""
        phi0, value = view.curve
        lo, hi = self.curve_range = view.curve_box  # the figures' range
        self.image = Rectangle(width=width, height=height).set_fill("#FFFFFF", 1).set_stroke("#BBBBBB", 1)
        self.land = Axes(x_range=[phi0[0], phi0[-1], (phi0[-1] - phi0[0]) / 4], y_range=[lo, hi, (hi - lo) / 4],
                         x_length=width, y_length=height, tips=False,
                         axis_config={"stroke_opacity": 0, "include_ticks": False})  # only places things
        shown = np.isfinite(value) & (value <= hi)
        self.land_curve = VMobject(stroke_color=palette()["p_line"], stroke_width=2.5).set_points_as_corners(
            [self.land.c2p(a, b) for a, b in zip(phi0[shown], value[shown])])

    def _land_xy(self, t):
        """q's position on the landscape panel at step(s) t: (phi0, phi1), or
        (phi0, divergence) on the fixed-std family's curve, clipped to the panel."""
        v = self.view
        if not v.fixed_std:
            return v.phi[t]
        return np.stack([v.phi[t, 0], np.clip(v.values[t], *self.curve_range)], axis=-1)

    def _land_points(self, steps: slice) -> np.ndarray:
        """q's positions on the landscape panel at `steps`, as scene points."""
        phi = self._land_xy(steps)
        return self.maps[1](phi[:, 0], phi[:, 1])

    def marker_pixel(self, t: int, width: int, height: int) -> tuple[float, float]:
        """Where q's marker is drawn at step t, in pixels of a width x height frame."""
        return pixel(self.land.c2p(*self._land_xy(min(t, self.view.steps))), width, height)

    def step(self) -> int:
        return min(timing.step_at(self.times, self.tracker.get_value()), self.view.steps)

    @staticmethod
    def _affine(axes):
        """coords -> scene points of linear axes as one matrix product (axes.c2p one
        point at a time costs more than the rest of a frame)."""
        o, ex, ey = (np.asarray(axes.c2p(*xy)) for xy in ((0, 0), (1, 0), (0, 1)))
        return lambda x, y: o + np.outer(x, ex - o) + np.outer(y, ey - o)

    def update_to(self, t: int) -> None:
        m = self.model
        to_dist = self.maps[0]
        self.q.set_points_as_corners(to_dist(m.x, np.minimum(m.q(t), m.top)))
        if self.weight is not None:
            # cut at the panel's edge, as the figures' axes cut it
            self.weight.set_points_as_corners(to_dist(m.x, np.minimum(m.weight(t), m.top)))
        self.trail.show(t + 1, lambda lo, hi: self._land_points(slice(lo, hi)))
        self.marker.move_to(self._land_points(slice(t, t + 1))[-1])
        self._rug(t, to_dist)
        self.readout.show(m.readout(t))
        self.trace.update_to(t)

    def _rug(self, t: int, to_dist) -> None:
        """The step's particles as ticks, one VMobject per colour (a shade of the
        sign's colour by magnitude), each holding all its ticks as subpaths."""
        parts = self.model.particles(t)
        for tick in self.rug:
            tick.clear_points()
        if parts is None or parts[0].size == 0:
            return
        z, c = parts
        inside = (z >= self.x[0]) & (z <= self.x[-1])
        z, c = z[inside], c[inside]
        # each particle's layer (sign, then shade), its ticks in the particles' order
        layer = np.where(c >= 0, 0, RUG_LEVELS) + rug_level(c)
        order = np.argsort(layer, kind="stable")
        z, ends = z[order], np.searchsorted(layer[order], np.arange(len(self.rug) + 1))
        low, high = self.model.rug_band
        bottom, top = to_dist(z, np.full_like(z, low)), to_dist(z, np.full_like(z, high))
        for tick, lo, hi in zip(self.rug, ends[:-1], ends[1:]):
            tick.set_segments(bottom[lo:hi], top[lo:hi])

    def attach(self) -> None:
        """One updater, on the first moving mobject, moves them all."""
        self.trail.add_updater(lambda m: self.update_to(self.step()))


def pixel(point, width: int, height: int) -> tuple[float, float]:
    """A scene point in pixels of a width x height frame (y down)."""
    return (point[0] / config.frame_width + 0.5) * width, (0.5 - point[1] / config.frame_height) * height


def keys_sidecar(panel, key, width: int, height: int) -> dict:
    """Where a panel's numbers, its trace (box, and the cursor at every step) and
    the legend row are drawn, in pixels: what the tests read frames against."""
    box = panel.trace.box
    return {
        "numbers": [pixel(m.get_center(), width, height) for group in panel.numbers for m in group
                    if isinstance(m, GlyphLine)],
        "trace_box": [*pixel(box.get_corner(UP + LEFT), width, height), *pixel(box.get_corner(DOWN + RIGHT), width, height)],
        "trace_cursor_x": [pixel(panel.trace.to(t, 0.0)[0], width, height)[0] for t in range(panel.view.steps + 1)],
        "legend_box": [*pixel(key.get_corner(UP + LEFT), width, height), *pixel(key.get_corner(DOWN + RIGHT), width, height)],
    }


COUNTER_GAP = 0.5  # between the step counter and the legend


class StepCounter(GlyphLine):
    """'step 120 / 600' for every run at once, left of the legend; `step_of()`
    is the step on screen. Until placed, it holds its widest text, for the layout."""

    def __init__(self, steps: int, step_of):
        super().__init__(16, palette()["text"], FONT)
        self.steps, self.step_of = steps, step_of
        self.set_text(f"step {steps} / {steps}")

    def show(self) -> None:
        self.set_text(f"step {min(self.step_of(), self.steps)} / {self.steps}")

    def attach(self) -> None:
        self.add_updater(lambda m: m.show())


class ReadoutLine(GlyphLine):
    """The model's readout on one line, 'KL(q‖p) = 0.6907    ESS = 11.6 / 16    step 120 / 600',
    re-laid out every frame from cached glyphs (see `glyphs`)."""

    def __init__(self, font_size: float, max_width: float, step: bool = True):
        super().__init__(font_size, palette()["text"], FONT)
        self.max_width, self.step = max_width, step
        self.factor = 1.0  # the scene's common type size, relative to font_size (`even_readouts`)

    def text_of(self, readout) -> str:
        return READOUT_GAP.join(readout.lines("plain", step=self.step))

    def show(self, readout) -> None:
        self.fit(self.text_of(readout))

    def fit(self, text: str) -> None:
        local = self.layout(text)
        width = float(np.ptp(local[:, 0])) if len(local) else 0.0
        # at the common size, and never past its room (glyph advances only estimate the width)
        self.set_text(text, local, min(self.factor, self.max_width / width) if width > 0 else 1.0)


def even_readouts(panels) -> None:
    """Every run's readout in one type size: the largest at which each run's
    widest readout, over all its steps, fits its room. (Shrunk each to its own
    room, a short readout was set larger than its longer neighbours.)"""
    factor = 1.0
    for p in panels:
        r = p.readout
        widest = max(r.advance(r.text_of(p.model.readout(t))) for t in range(p.view.steps + 1))
        factor = min(factor, r.max_width / widest)
    for p in panels:
        p.readout.factor = factor
        p.update_to(0)


def line_speeds(view: RunView):
    return timing.line_speeds(view.record["mean"][view.member], view.record["std"][view.member])


def plane_speeds(view: PlaneView):
    return timing.plane_speeds(view.record["mean"][view.member], view.record["cov"][view.member])


def title_lines(views: list[RunView]) -> list[str]:
    """The title card's lines (Pango markup): one per divergence, naming the runs that minimise it."""
    groups: dict[str, list[str]] = {}
    for v in views:
        groups.setdefault(labels.divergence_markup(v.run), []).append(v.name)
    return [f"{f}: {', '.join(names)}" for f, names in groups.items()]


def _dash(corners: np.ndarray, dash: float, gap: float) -> VMobject:
    """The polyline through `corners` drawn dashed, as manim's DashedVMobject
    lays the dashes out (equal lengths, about dash + gap apart along it; on an
    open curve a dash at each end), but cut from the polyline
    directly: one path of many pieces, where DashedVMobject takes a Bezier
    subcurve per dash (a twentieth of a scene's set-up, in the K sweep)."""
    along = arc_lengths(corners)
    total = along[-1]
    n = max(4, int(total / (dash + gap)))
    r = dash / (dash + gap)
    closed = np.allclose(corners[0], corners[-1])  # as many gaps as dashes, else one fewer
    period = 1.0 / n if closed else r / n + (1 - r) / (n - 1)
    out = VMobject()
    for start in np.arange(n) * period:
        lo, hi = start * total, min(start + r / n, 1.0) * total
        inner = (along > lo) & (along < hi)
        s = np.concatenate([[lo], along[inner], [hi]])
        pts = np.stack([np.interp(s, along, corners[:, k]) for k in range(corners.shape[1])], axis=1)
        out.start_new_path(pts[0])
        out.add_points_as_corners(pts[1:])
    return out


class DivfitScene(Scene):
    """`spec`: title, records (paths), duration (seconds of animation)."""

    def __init__(self, spec: dict, **kwargs):
        self.spec = spec
        super().__init__(renderer=CairoRenderer(file_writer_class=FrameWriter, camera_class=LineCamera), **kwargs)

    def construct(self):
        self.camera.background_color = "#FFFFFF"
        views = [load_view(p) for p in self.spec["records"]]
        card = self.title_card(views)
        tracker = ValueTracker(0.0)
        planar = isinstance(views[0], PlaneView)
        times = timing.step_times([plane_speeds(v) if planar else line_speeds(v) for v in views],
                                  self.spec["duration"])
        # four runs or more in step: one step counter beside the legend, so each run's readout
        # has room to be read
        shared = len(views) >= 4 and len({v.steps for v in views}) == 1
        panels = (self.lay_out_plane if planar else self.lay_out)(views, times, tracker, step=not shared)
        even_readouts(panels)
        counter = StepCounter(views[0].steps, panels[0].step) if shared else None
        key = legend_row((plane_legend if planar else legend)(views), 15,
                         13.4 - (counter.width + COUNTER_GAP if counter else 0))
        y = -4.0 + KEY_HEIGHT / 2 + 0.04
        if counter:
            left = -(counter.width + COUNTER_GAP + key.width) / 2
            counter.anchor([left, y - 0.09, 0]).show()
            key.move_to([left + counter.width + COUNTER_GAP + key.width / 2, y, 0])
        else:
            key.move_to([0, y, 0])
        # every run's still parts before any moving one: manim redraws each frame
        # from the first mobject with an updater on and caches the rest as a background
        layers = [key] + [m for p in panels for m in p.still()] + [m for p in panels for m in p.moving()]
        layers += [counter] if counter else []
        # the title card fades out under a white cover and the panels in from under
        # it: one mobject animated, where fading the card out and every layer in
        # deep-copied each of them (a tenth of a render). Blending towards white by
        # the cover's opacity is blending by the card's own: the same frames
        cover = Rectangle(width=config.frame_width + 1, height=config.frame_height + 1)
        cover.set_fill("#FFFFFF", 1).set_stroke(width=0)
        self.play(FadeIn(cover), run_time=0.6)
        self.remove(card)
        self.add(*layers)
        self.bring_to_front(cover)
        self.play(FadeOut(cover), run_time=0.6)
        for p in panels:
            p.attach()
        if counter:
            counter.attach()
        self.play(tracker.animate.set_value(float(times[-1])), run_time=float(times[-1]), rate_func=linear)
        for m in self.mobjects:  # the final state holds still: one frame drawn, then repeated
            m.clear_updaters()
        self.wait(HOLD_SECONDS)
        self.panels, self.key = panels, key

    def update_mobjects(self, dt: float) -> None:
        # every updater sits on a layer of its own (the panels' `attach`, the counter's):
        # manim's walk through every submobject of every layer, every frame, found no more
        for m in self.mobjects:
            if m.updaters:
                m.update(dt, recursive=False)

    def title_card(self, views):
        title = text(self.spec["title"], font_size=44, weight="BOLD", color=palette()["text"], font=FONT)
        if title.width > 13.0:  # the frame is 14.2 units wide
            title.scale_to_fit_width(13.0)
        formulas = VGroup(*(text(line, markup=True, font_size=30, color=palette()["text"], font=FONT)
                            for line in title_lines(views)))
        if formulas.width > 13.0:
            formulas.scale_to_fit_width(13.0)
        formulas.arrange(DOWN, buff=0.25).next_to(title, DOWN, buff=0.6)
        card = VGroup(title, formulas).move_to([0, 0, 0])
        # on screen from the first frame: a video embedded in a slide shows what it is
        # before it plays, not a white rectangle
        self.add(card)
        self.wait(TITLE_SECONDS - 0.6)
        return card

    def lay_out_plane(self, views, times, tracker, step: bool = True):
        """Square planes sharing one window, in the columns that make them largest;
        each has room above for its name and readout and beside for its axis names."""
        from .plane import TRACE, TRACE_GAP, PlanePanels, density_rgba

        lims = window(views)
        density = density_rgba(views[0], lims)  # one target: one backdrop for every panel
        n = len(views)

        tall = 1 + TRACE + TRACE_GAP  # a plane, then its trace below
        height = 7.5 - KEY_HEIGHT

        def side(cols):
            return min(13.2 / cols - 0.7, (height / -(-n // cols) - 0.95) / tall)

        cols = max(range(1, n + 1), key=side)
        rows, size = -(-n // cols), side(cols)
        small = size < 3.5
        panels = []
        for i, v in enumerate(views):
            r, c = divmod(i, cols)
            # the plane's centre: its cell's, raised by what the trace below takes
            cell = 3.75 - (r + 0.5) * height / rows
            centre = np.array([(c - (cols - 1) / 2) * 13.2 / cols, cell + (tall - 1) * size / 2 - 0.05, 0.0])
            p = PlanePanels(v, size, lims, density, times, tracker, 13 if small else 18,
                            ReadoutLine(13 if small else 16, max_width=13.2 / cols - 0.2, step=step))
            p.arrange(centre)
            panels.append(p)
        return panels

    def lay_out(self, views, times, tracker, step: bool = True):
        """One run per row, in two columns from four runs on; each cell has room
        above for its label and readout and below for its axis names."""
        xlim = shared_x_range(views)  # runs share the x-axis, as in the figures and the scrubber
        cols = 1 if len(views) <= 3 else 2
        rows = -(-len(views) // cols)
        cell_w, cell_h = 13.2 / cols - 0.3 * (cols - 1), (7.6 - KEY_HEIGHT) / rows
        panels = []
        for i, v in enumerate(views):
            r, c = divmod(i, cols)
            # room above for the label and readout, below for the numbers and the axis names
            centre = np.array([-6.6 + (c + 0.5) * (13.2 / cols), 3.8 - (r + 0.5) * cell_h + 0.05, 0.0])
            small = cols > 1 or rows > 2
            p = RunPanels(v, cell_w, cell_h - (0.75 if small else 0.95), times, tracker, small=small, xlim=xlim,
                          step=step)
            p.arrange(centre)
            panels.append(p)
        return panels
