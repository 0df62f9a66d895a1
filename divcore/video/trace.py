"""The divergence against step in the video, with a cursor at the step on
screen: what a lecturer points at ("now it settles"). The numbers come from
`render.view.TraceModel`, as the scrubber's trace does."""

from __future__ import annotations

import numpy as np
from manim import DOWN, LEFT, UP, Dot, Line, Rectangle, VGroup, VMobject

from ..render import labels
from ..render.view import TraceModel, tick_label
from ..style import palette
from .glyphs import text
from .keys import FONT, axis_numbers

POINTS = 400  # the curve's vertices at most: finer than any panel's pixels


class TracePanel:
    """A `width` x `height` box: the run's divergence (log scale) over its steps,
    the axis numbered, and a cursor line with a dot on the curve."""

    def __init__(self, view, width: float, height: float, font_size: float):
        pal = palette()
        self.model = TraceModel(view)
        self.width, self.height, self.font_size = width, height, font_size
        self.box = Rectangle(width=width, height=height).set_stroke("#888888", 1)
        self.curve = VMobject(stroke_color=pal["history"]["divergence"], stroke_width=2.5)
        self.cursor = Line(UP, DOWN, stroke_width=2, color=pal["text"])
        self.dot = Dot(radius=0.05, color=pal["history"]["divergence"]).set_stroke("#000000", 1)
        name = labels.divergence_plain(view.run)
        self.names = [text(s, font_size=font_size, color=pal["text"], font=FONT) for s in (f"{name} by step", name)]
        self.name = self.names[0]
        self.numbers = VGroup()
        self.centre = np.zeros(3)

    def to(self, t, y) -> np.ndarray:
        """(step, log10 value) -> scene points."""
        m = self.model
        lo, hi = m.ylim
        u = np.asarray(t, float) / max(m.steps, 1) - 0.5
        v = (np.asarray(y, float) - lo) / (hi - lo) - 0.5
        return self.centre + np.column_stack([u * self.width, v * self.height, np.zeros(np.size(u))])

    def arrange(self, centre, width: float | None = None) -> None:
        """The box centred at `centre` (and `width` wide, if given)."""
        m = self.model
        if width is not None and width != self.width:
            self.width = width
            self.box = Rectangle(width=width, height=self.height).set_stroke("#888888", 1)
        self.centre = np.asarray(centre, float)
        self.box.move_to(self.centre)
        steps = np.unique(np.linspace(0, m.steps, min(POINTS, m.steps + 1)).round().astype(int))
        finite = np.isfinite(m.y[steps])
        pts = self.to(steps[finite], m.y[steps][finite])
        self.curve.set_points_as_corners(pts if len(pts) > 1 else np.repeat(pts, 2, axis=0))
        self.numbers = VGroup(
            axis_numbers(lambda s: self.to(s, m.ylim[0])[0], [0, m.steps], self.font_size),
            axis_numbers(lambda y: self.to(0, y)[0], list(m.ticks), self.font_size, [tick_label(k) for k in m.ticks],
                         side=LEFT),
        )
        # the name over the box; in a narrow box only the divergence's (its axis runs 0 to the last step)
        self.name = next((n for n in self.names if n.width <= self.width), self.names[-1])
        self.name.next_to(self.box, UP, buff=0.06).align_to(self.box, LEFT)
        if self.name.width > self.width:
            self.name.scale_to_fit_width(self.width)
        self.update_to(0)

    def update_to(self, t: int) -> None:
        m = self.model
        t = min(t, m.steps)
        lo, hi = m.ylim
        # points set directly: put_start_and_end_on and move_to cost more than the rest of a frame's trace
        self.cursor.set_points_as_corners(self.to([t, t], [lo, hi]))
        self.dot.shift(self.to(t, m.at(t))[0] - self.dot.get_center())

    def cursor_x(self) -> float:
        return float(self.cursor.get_start()[0])

    def still(self):
        return [self.box, self.curve, self.numbers, self.name]

    def moving(self):
        return [self.cursor, self.dot]

    def left_margin(self) -> float:
        """How far the y numbers reach left of the box."""
        return float(self.box.get_left()[0] - self.numbers[1].get_left()[0]) if len(self.numbers) else 0.0

