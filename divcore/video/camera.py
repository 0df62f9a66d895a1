"""Straight paths drawn as straight lines.

manim stores every path as cubic Bézier curves and hands Cairo one `curve_to`
per curve, with Python bookkeeping around each (subpath splits, closing tests).
A video's moving curves (q, the weight curve, the trail, the particles' ticks)
are polylines of hundreds of vertices redrawn at every frame: as curves they
were most of a frame's drawing. `Polyline` and `Ticks` keep manim's points
(bounds, moves and styles work as for any VMobject); `LineCamera` draws them
from their anchors with `line_to`, one straight segment each, the same shape.
"""

from __future__ import annotations

import numpy as np
from manim import VMobject, config
from manim.camera.camera import Camera


def arc_lengths(vertices: np.ndarray) -> np.ndarray:
    """How far along the polyline through `vertices` each one lies (the first at 0)."""
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(vertices, axis=0), axis=1))])


class Polyline(VMobject):
    """One open path through its vertices: `Polyline(...).set_points_as_corners(vertices)`."""


class Trail(Polyline):
    """The path a run has taken so far: `show(n, points_of)` draws its first n
    points, where `points_of(lo, hi)` gives points lo..hi-1 (n x 3 scene
    points), skipping those that are not finite. One vertex is kept per half
    pixel of its length (and the last): drawn, it strays less than half a
    pixel from the path through them all, and a trail of thousands of steps,
    most of them piled up where q settles, strokes in a fraction of the time.

    From frame to frame only the points new since the last are measured: the
    vertices kept before them do not change as the path grows, and the
    running length is summed in the order `arc_lengths` sums it (the same
    floats), so they are the vertices kept from the whole path at once. A
    shorter n starts over."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.restart()

    def restart(self) -> None:
        """Forget the path taken in (its points moved: the panel was placed)."""
        self._n = 0  # points taken in, finite or not
        self._kept = np.zeros((0, 3))  # the first finite point of each half pixel of length
        self._last = None  # the last finite point, its length along the path, its half pixel's number
        self._along = self._bucket = 0.0
        self._last_kept = False

    def show(self, n: int, points_of) -> "Trail":
        if n < self._n:
            self.restart()
        if n > self._n:
            self._take(np.asarray(points_of(self._n, n), float))
            self._n = n
        if self._last is None:
            return self.clear_points()
        kept = self._kept if self._last_kept else np.concatenate([self._kept, self._last[None]])
        return self.set_points_as_corners(kept if len(kept) > 1 else np.repeat(kept, 2, axis=0))

    def _take(self, points: np.ndarray) -> None:
        points = points[np.isfinite(points).all(axis=1)]
        if len(points) == 0:
            return
        spacing = 0.5 * config.frame_width / config.pixel_width
        if self._last is None:
            along, before = arc_lengths(points), -1.0
        else:
            steps = np.linalg.norm(np.diff(np.concatenate([self._last[None], points]), axis=0), axis=1)
            along, before = np.add.accumulate(np.concatenate([[self._along], steps]))[1:], self._bucket
        buckets = np.floor(along / spacing)
        first = np.diff(buckets, prepend=before) > 0
        self._kept = np.concatenate([self._kept, points[first]])
        self._last, self._along, self._bucket, self._last_kept = points[-1], along[-1], buckets[-1], bool(first[-1])


class Ticks(VMobject):
    """Separate straight segments, one cubic curve (4 points) each."""

    def set_segments(self, starts: np.ndarray, ends: np.ndarray) -> "Ticks":
        """Segments from `starts` to `ends` (n x 3 scene points each); none if n is 0."""
        if len(starts) == 0:
            self.clear_points()
            return self
        # a straight segment as manim's cubic Bézier: handles a third of the way along
        curves = np.stack([starts, (2 * starts + ends) / 3, (starts + 2 * ends) / 3, ends], axis=1)
        return self.set_points(curves.reshape(-1, 3))


class LineCamera(Camera):
    """manim's Cairo camera, drawing `Polyline` and `Ticks` paths with lines."""

    def set_cairo_context_path(self, ctx, vmobject):
        if not isinstance(vmobject, (Polyline, Ticks)):
            return self._curves(ctx, vmobject)
        points = self.transform_points_pre_display(vmobject, vmobject.points)
        ctx.new_path()
        if len(points) < 4:
            return self
        # a curve's anchors are its 1st and 4th points; its handles lie on the segment between them
        if isinstance(vmobject, Ticks):
            ends = points[: len(points) // 4 * 4, :2].reshape(-1, 4, 2)[:, ::3].reshape(-1, 4).tolist()
            for x0, y0, x1, y1 in ends:
                ctx.move_to(x0, y0)
                ctx.line_to(x1, y1)
        else:
            xy = np.concatenate([points[0::4, :2], points[-1:, :2]]).tolist()
            ctx.move_to(*xy[0])
            line_to = ctx.line_to
            for x, y in xy[1:]:
                line_to(x, y)
            (x0, y0), (x1, y1) = xy[0], xy[-1]
            if abs(x1 - x0) + abs(y1 - y0) < 1e-6:  # an ellipse: joined all round, as manim closes it
                ctx.close_path()
        return self

    def _curves(self, ctx, vmobject):
        """manim's own path of cubic curves, the same calls with the same numbers,
        read from a list of floats: indexing the numpy array a number at a time
        was most of the time a readout (a glyph outline of a few hundred curves,
        redrawn every frame) took to draw."""
        points = self.transform_points_pre_display(vmobject, vmobject.points)
        if len(points) == 0:
            return self
        ctx.new_path()
        xy = points[:, :2].ravel().tolist()
        curve_to = ctx.curve_to
        for start, end in vmobject.get_subpath_split_indices_from_points(points, n_dims=2).tolist():
            if end - start < 4:
                continue
            ctx.new_sub_path()
            ctx.move_to(xy[2 * start], xy[2 * start + 1])
            for b in range(2 * start + 2, 2 * end - 5, 8):
                curve_to(*xy[b:b + 6])
            if vmobject.consider_points_equals_2d(points[start], points[end - 1]):
                ctx.close_path()
        return self
