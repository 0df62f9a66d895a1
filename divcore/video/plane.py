"""A 2-D run in the video: p's contours (the figures' own drawing, as an image),
the optima's ellipses dashed and dotted, q's 1- and 2-sd ellipses sweeping
across them with the particles of each step and the path of q's mean, and the
readout above. The same pieces, colours and pacing as the line's `RunPanels`."""

from __future__ import annotations

import numpy as np
from manim import DOWN, LEFT, PI, RIGHT, UP, Circle, Dot, ImageMobject, Rectangle, ValueTracker, VGroup
from manim.constants import CapStyleType, LineJointType

from ..render.plane import SIGMAS, PlaneModel, PlaneView, density_image, ellipse, in_window
from ..style import palette
from . import timing
from .keys import FONT, axis_numbers, nice_ticks
from .scene import DASHES, _dash
from .camera import Polyline, Ticks, Trail
from .glyphs import text
from .trace import TracePanel

IMAGE_PX = 720  # p's contours; the panel is at most about half the frame's height
TRACE, TRACE_GAP = 0.3, 0.22  # the trace's height, and its gap below the plane (numbers, names), per unit of side
DOT = 5.0  # a particle's stroke width: a round dot


def density_rgba(view: PlaneView, lims) -> np.ndarray:
    """p's contours over the shared window, drawn once for every panel."""
    return np.dstack([density_image(view, lims, IMAGE_PX), np.full((IMAGE_PX, IMAGE_PX), 255, np.uint8)])


class PlanePanels:
    """One run on the plane, `size` scene units square, and the updater that moves it."""

    def __init__(self, view: PlaneView, size: float, lims, density: np.ndarray, times: np.ndarray,
                 tracker: ValueTracker, font_size: float, readout_line):
        pal = palette()
        self.view, self.times, self.tracker, self.size = view, times, tracker, size
        self.model = PlaneModel(view, lims)
        self.image = ImageMobject(density)
        self.image.stretch_to_fit_width(size).stretch_to_fit_height(size)
        self.lims, self.centre = lims, np.zeros(3)  # the plane's window and where its centre is drawn
        self.frame = Rectangle(width=size, height=size).set_stroke("#888888", 1)
        self.stars = VGroup()  # the optima, drawn once the plane is placed (arrange)
        self.q = VGroup(*(Polyline(stroke_color=pal["q"], stroke_width=4 if k == 1 else 2.5) for k in SIGMAS))
        self.path = Trail(stroke_color=pal["q"], stroke_width=2, stroke_opacity=0.8, joint_type=LineJointType.ROUND)
        self.start = Circle(0.06).set_fill("#FFFFFF", 1).set_stroke(pal["q"], 2.5)
        self.marker = Dot(radius=0.07, color=pal["marker"]).set_stroke("#000000", 1.5)
        self.dots = VGroup(*(Ticks(stroke_color=pal[c], stroke_width=DOT).set_cap_style(CapStyleType.ROUND)
                             for c in ("positive", "negative")))
        self.readout = readout_line
        self.label = text(view.name, font_size=font_size + 2, weight="BOLD", color=pal["text"], font=FONT)
        self.axis_names = VGroup(text("x₁", font_size=14, color=pal["text"], font=FONT),
                                 text("x₂", font_size=14, color=pal["text"], font=FONT).rotate(PI / 2))
        self.numbers_size = 10 if font_size < 16 else 13
        self.numbers = VGroup()
        # the divergence by step, under the plane
        self.trace = TracePanel(view, size, TRACE * size, self.numbers_size)

    def _to(self, xy: np.ndarray) -> np.ndarray:
        """Points of the plane -> scene points."""
        (x0, x1), (y0, y1) = self.lims
        u = (np.asarray(xy, float) - [(x0 + x1) / 2, (y0 + y1) / 2]) * [self.size / (x1 - x0), self.size / (y1 - y0)]
        return self.centre + np.column_stack([u, np.zeros(len(u))])

    def arrange(self, centre):
        """The plane centred at `centre`; its name and the readout above it, axis names beside."""
        self.centre = np.asarray(centre, float)
        self.image.move_to(centre)
        self.frame.move_to(centre)
        self._place_stars()
        self.start.move_to(self._to(self.view.mean_path[:1])[0])
        # names aligned by their tops, so a descender does not lift one above its neighbours
        cap = text("Hd", font_size=self.label.font_size, weight="BOLD", font=FONT).height
        self.label.align_to(self.image.get_top() + UP * (0.1 + cap), UP).align_to(self.image, LEFT)
        self.readout.anchor(self.label.get_corner(UP + LEFT) + UP * (0.12 + self.readout.descent))
        (x0, x1), (y0, y1) = self.lims
        bottom, left = self.image.get_bottom()[1], self.image.get_left()[0]
        self.numbers = VGroup(
            axis_numbers(lambda v: [self._to(np.array([[v, y0]]))[0][0], bottom, 0], nice_ticks(x0, x1, 5),
                         self.numbers_size),
            axis_numbers(lambda v: [left, self._to(np.array([[x0, v]]))[0][1], 0], nice_ticks(y0, y1, 5),
                         self.numbers_size, side=LEFT))
        x_name, y_name = self.axis_names
        x_name.next_to(self.numbers[0], RIGHT, buff=0.1).align_to(self.numbers[0][-1], UP)
        y_name.next_to(self.numbers[1], LEFT, buff=0.05)
        gap = TRACE_GAP * self.size
        self.trace.arrange(self.image.get_bottom() + DOWN * (gap + self.trace.height / 2))
        self.path.restart()
        self.update_to(0)

    def _place_stars(self):
        pal = palette()
        self.stars.submobjects = []
        for o in self.model.optima:
            for k in SIGMAS:
                dash, gap = DASHES[o.role]
                self.stars.add(_dash(self._to(ellipse(o.mean, o.cov, k)), dash, gap)
                               .set_stroke(pal[f"q_star_{o.role}"], 2))

    def still(self):
        return [self.image, self.frame, self.stars, self.start, self.label, self.axis_names, self.numbers,
                *self.trace.still()]

    def moving(self):
        return [self.path, self.q, self.dots, self.marker, self.readout, *self.trace.moving()]

    def step(self) -> int:
        return min(timing.step_at(self.times, self.tracker.get_value()), self.view.steps)

    def update_to(self, t: int) -> None:
        m = self.model
        path = m.path(t)
        self.path.show(len(path), lambda lo, hi: self._to(path[lo:hi]))
        for line, e in zip(self.q, m.q_ellipses(t)):
            line.set_points_as_corners(self._to(e))
        self.marker.move_to(self._to(path[-1:])[0])
        parts = m.particles(t)
        z, c = parts if parts is not None else (np.zeros((0, 2)), np.zeros(0))
        inside = in_window(z, self.lims)
        at, c = self._to(z[inside]), c[inside]
        # a dot: a segment too short to see, drawn with round caps
        ends = at + np.array([1e-4, 0, 0])
        for d, chosen in zip(self.dots, (c >= 0, c < 0)):
            d.set_segments(at[chosen], ends[chosen])
        self.readout.show(m.readout(t))
        self.trace.update_to(t)

    def marker_pixel(self, t: int, width: int, height: int) -> tuple[float, float]:
        """Where q's mean is drawn at step t, in pixels of a width x height frame."""
        from .scene import pixel

        return pixel(self._to(self.view.record["mean"][self.view.member, min(t, self.view.steps)][None])[0],
                     width, height)

    def attach(self) -> None:
        self.path.add_updater(lambda _: self.update_to(self.step()))
