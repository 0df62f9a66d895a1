"""Captions and chapters (WebVTT) for a scenario's video, written from the
recorded runs: what the title card says, then every few seconds the step on
screen with each run's divergence and where q is, a line when a run settles,
and the final state over the closing hold; chapters at the scenario's
snapshot steps. Nothing here needs manim: the video's timing (its title
card, its step times, its hold) is passed in.
"""

from __future__ import annotations

import math

import numpy as np

from ..render import labels
from . import timing

CUE_SECONDS = 3.0  # a state cue at most this often while the runs move
SETTLED = 0.01  # a run has settled once its divergence stays within 1 % of its final value
MIN_CUE = 1.0  # shorter cues are folded into the next: no one reads a caption in less
MAX_LISTED = 4  # runs named in one cue; the others are counted
WHERE_UP_TO = 2  # with more runs than this, a cue gives their divergences only


def settle_step(values: np.ndarray, tolerance: float = SETTLED) -> int | None:
    """The first step from which every recorded divergence stays within
    `tolerance` (relative) of the last; None if the last is not finite."""
    v = np.asarray(values, dtype=float)
    final = v[-1]
    if not np.isfinite(final):
        return None
    off = ~(np.abs(v - final) <= tolerance * max(abs(final), 1e-12))
    moving = np.nonzero(off)[0]
    return 0 if moving.size == 0 else int(moving[-1]) + 1


def _where(view, t: int) -> str:
    mean, spread = view.state(t)
    if np.ndim(mean) == 0:
        if not (np.isfinite(mean) and np.isfinite(spread)):
            return "q has left the family"
        return f"q = N({labels.fmt(float(mean))}, {labels.fmt(float(spread))}²)"
    if not np.isfinite(mean).all():
        return "q has left the family"
    return f"q's mean at ({labels.fmt(float(mean[0]))}, {labels.fmt(float(mean[1]))})"


def _state(views: list, t: int) -> str:
    parts = []
    for v in views[:MAX_LISTED]:
        s = min(t, v.steps)
        where = f", {_where(v, s)}" if len(views) <= WHERE_UP_TO else ""
        parts.append(f"{v.name}: {labels.divergence_plain(v.run)} = {labels.fmt(float(v.values[s]))}{where}")
    if len(views) > MAX_LISTED:
        parts.append(f"and {len(views) - MAX_LISTED} more runs")
    return "; ".join(parts)


def _stamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def cues(title: str, views: list, times: np.ndarray, start: float, hold: float) -> list[tuple[float, float, str]]:
    """(from, to, text) in video seconds: the title card up to `start`, state
    cues while the runs move (the step `times` are seconds after `start`), a
    cue when each run settles, and the final state over the `hold`."""
    end = start + float(times[-1])
    names = ", ".join(f"{v.name} ({labels.divergence_plain(v.run)}, {labels.estimator(v.run)})" for v in views)
    out = [(0.0, start, f"{title}. Runs: {names}.")]
    settles = {}
    for v in views:
        s = settle_step(v.values)
        if s is not None and 0 < s < v.steps:
            settles.setdefault(float(times[min(s, times.size - 1)]), []).append((v, s))
    # a cue starts on a whole millisecond (WebVTT's), at or just after its moment,
    # and names the step the video shows then
    on_ms = lambda t: math.ceil(round((start + t) * 1000, 6)) / 1000  # noqa: E731
    marks = sorted(set(np.arange(0.0, float(times[-1]), CUE_SECONDS).tolist()) | set(settles))
    news: list[str] = []  # runs that settled since the last cue shown
    begin = None  # where a cue too short to read began: the next one starts there
    for i, t0 in enumerate(marks):
        a, b = on_ms(t0), (on_ms(marks[i + 1]) if i + 1 < len(marks) else end)
        news += [f"{v.name} has settled: {labels.divergence_plain(v.run)} stays within {SETTLED:.0%} of "
                 f"{labels.fmt(float(v.values[-1]))} from step {s}." for v, s in settles.get(t0, [])]
        a = a if begin is None else begin
        if b - a < MIN_CUE and i + 1 < len(marks):
            begin = a  # folded into the next cue
            continue
        if b - a < MIN_CUE and len(out) > 1:  # the last, too short: the cue before holds on
            out[-1] = (out[-1][0], b, out[-1][2])
            break
        step = timing.step_at(times, a - start + 1e-9)
        out.append((a, b, " ".join([*news, f"Step {step}: {_state(views, step)}."])))
        news, begin = [], None
    last = max(v.steps for v in views)
    out.append((end, end + hold, " ".join([*news, f"Final, step {last}: {_state(views, last)}."])))
    return out


def chapters(title: str, views: list, times: np.ndarray, start: float, hold: float,
             snapshots) -> list[tuple[float, float, str]]:
    """(from, to, name) in video seconds: the title card, then a chapter from
    each of the scenario's snapshot steps (its [media] snapshots, fractions of
    the runs), the last one running through the closing hold."""
    steps = max(v.steps for v in views)
    marks = sorted({int(round(f * steps)) for f in snapshots} | {0})
    out = [(0.0, start, title)]
    for i, s in enumerate(marks):
        a = start + float(times[min(s, times.size - 1)])
        b = start + float(times[min(marks[i + 1], times.size - 1)]) if i + 1 < len(marks) else start + float(times[-1]) + hold
        if b - a >= 1e-3:
            out.append((a, b, "The start" if s == 0 else f"Step {s} of {steps}"))
    return out


def webvtt(title: str, views: list, times: np.ndarray, start: float, hold: float) -> str:
    """The captions as a WebVTT file."""
    return _file(cues(title, views, times, start, hold))


def chapters_file(entries: list[tuple[float, float, str]]) -> str:
    """`chapters` as a WebVTT file (a player's `kind="chapters"` track)."""
    return _file(entries)


def _file(entries: list[tuple[float, float, str]]) -> str:
    lines = ["WEBVTT", ""]
    for i, (t0, t1, text) in enumerate(entries, 1):
        lines += [str(i), f"{_stamp(t0)} --> {_stamp(t1)}", text.replace("-->", "→"), ""]
    return "\n".join(lines)
