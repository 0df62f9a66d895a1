"""The scrubber's payload: what the page draws for each frame of each run,
precomputed from the trajectory records, small enough to ship with a page.

- Frames: one list of steps for the whole scenario, quadratic-dense early like
  the GIFs; at most 600, fewer when a start grid multiplies the members
  (`MEMBER_FRAMES` member-frames in all). A run shorter than the scenario
  holds its last state.
- Per member and frame: mean, std and the divergence (and ESS for Monte Carlo
  runs), rounded to `DIGITS` significant digits; a non-finite value is `null`
  (the page shows ∞). The page maps (mean, std) to the run's coordinates
  itself, with the same four formulas as `core.parameterizations`.
- Particles: the first `rugMax` of each step (they are i.i.d., so the first
  ones are a fair subset), two bytes each, base64: the position on 255 levels
  of the x-range, then the shade (0 none, 1..4 positive, 5..8 negative).
  `rugMax` is K up to `RUG_MAX`, scaled down (to no less than `RUG_MIN`) when
  a scenario's rugs would exceed `RUG_BYTES` in all.
- The landscape wash is an image beside the payload (`land-<run>.webp`); a
  fixed-std run has a curve instead.

On the plane (`"dim": 2`) a run has no landscape (its four or five
coordinates do not fit one picture): the page draws p's contours from one
image for the whole scenario (`density.webp`, the figures' own drawing of the
shared window), and per member and frame q's mean (`m1`, `m2`) and covariance
(`s11`, `s12`, `s22`), the divergence and ESS; particles take three bytes
(x and y on 255 levels of the window, then 1 for a sample that pulls q closer,
2 for one that pushes it away: the figures' sign colours).
"""

from __future__ import annotations

import base64
import json

import numpy as np

from ..render import labels
from ..render.animate import frame_steps
from ..render.plane import SIGMAS, in_window
from ..render.view import RUG_BAND, RUG_BOTTOM, DistributionModel, RunView, featured_member
from ..style import RUG_LEVELS, palette, rug_level

MAX_FRAMES = 600
MEMBER_FRAMES = 4000
MIN_FRAMES = 60
RUG_MAX = 64
RUG_MIN = 8
RUG_BYTES = 60_000
DIGITS = 6
_CURVE_POINTS = 200


def _round(values) -> list:
    """Finite values to DIGITS significant digits; anything else to None."""
    a = np.asarray(values, dtype=float)
    out = [float(f"{v:.{DIGITS}g}") if np.isfinite(v) else None for v in a.ravel()]
    return out


def scenario_frames(views: list[RunView]) -> np.ndarray:
    members = sum(v.record["mean"].shape[0] for v in views)
    frames = int(np.clip(MEMBER_FRAMES // max(members, 1), MIN_FRAMES, MAX_FRAMES))
    return frame_steps(max(v.steps for v in views), frames)


def rug_sizes(views: list[RunView], frames: int, width: int = 2) -> list[int]:
    """Particles shipped per frame for each run (0: no rug); `width` bytes each."""
    want = [min(v.samples, RUG_MAX) if "particles" in v.record else 0 for v in views]
    members = [v.record["mean"].shape[0] for v in views]
    total = width * frames * sum(w * b for w, b in zip(want, members))
    if total <= RUG_BYTES:
        return want
    scale = RUG_BYTES / total
    return [min(w, max(RUG_MIN, int(w * scale))) for w in want]


def _rug(view: RunView, member: int, steps: np.ndarray, x_range, size: int) -> str | None:
    if "particles" not in view.record or size == 0:
        return None
    lo, hi = x_range
    out = np.zeros((len(steps), size, 2), dtype=np.uint8)
    member_view = RunView(view.record, member)
    for i, t in enumerate(steps):
        parts = member_view.particles(int(min(t, view.steps - 1)))
        if parts is None or parts[0].size == 0:
            continue
        z, c = parts[0][:size], parts[1][:size]
        inside = (z >= lo) & (z <= hi)
        level = rug_level(c) + 1 + np.where(c >= 0, 0, RUG_LEVELS)
        n = int(inside.sum())
        out[i, :n, 0] = np.round((z[inside] - lo) / (hi - lo) * 255)
        out[i, :n, 1] = level[inside]
    return base64.b64encode(out.tobytes()).decode("ascii")


def _member(view: RunView, member: int, model: DistributionModel, steps: np.ndarray, x_range,
            rug_size: int) -> dict:
    """One member's frames; `model` is its distribution panel, as the figures and videos draw it."""
    t = np.minimum(steps, view.steps)
    rec = view.record
    ess = rec["ess"][member, np.minimum(t, view.steps - 1)] if "ess" in rec else None
    weight = None
    if model.weight_exponent is not None:
        weight = _round([model.weight_scale(int(s)) for s in t])
    return {
        "start": _round([rec["mean"][member, 0], rec["std"][member, 0]]),
        "mean": _round(rec["mean"][member, t]),
        "std": _round(rec["std"][member, t]),
        "value": _round(rec["divergence"][member, t]),
        "ess": None if ess is None else _round(ess),
        "top": _round([model.top])[0],
        "weightScale": weight,
        "rug": _rug(view, member, steps, x_range, rug_size),
    }


def run_payload(view: RunView, steps: np.ndarray, x_range, land_image: str | None, rug_size: int) -> dict:
    run = view.run
    om, os_, ov = view.optima
    phi_opt = view.param.to_phi(om, os_) if om.size else np.zeros((0, 2))
    models = [DistributionModel(RunView(view.record, b), x_range) for b in range(view.record["mean"].shape[0])]
    payload = {
        "name": view.name,
        "axes": list(labels.axes_plain(run)),
        # phi0 = mean * std^a, phi1 = c * std^b (log std where b is null): the page maps states itself
        "phiForm": list(view.param.monomials),
        "samples": view.samples if view.monte_carlo else 0,
        "steps": view.steps,
        "label": labels.divergence_plain(run),
        "weightExponent": view.weight_exponent,
        "optima": [{"mean": m, "std": s, "value": v, "phi": p, "role": o.role} for m, s, v, p, o in zip(
            _round(om), _round(os_), _round(ov), [_round(row) for row in phi_opt], models[0].optima)],
        "panel": {"bottom": RUG_BOTTOM if models[0].has_rug else 0.0, "rugBand": list(RUG_BAND)},
        "grid": run.get("start_grid"),
        "featured": featured_member(run),
        "rugMax": rug_size,
        "members": [_member(view, b, m, steps, x_range, rug_size) for b, m in enumerate(models)],
    }
    if view.fixed_std:
        phi0, values = view.curve
        keep = np.linspace(0, len(phi0) - 1, _CURVE_POINTS).round().astype(int)
        payload["curve"] = {"phi0": _round(phi0[keep]), "value": _round(values[keep]),
                            "limits": _round(view.curve_box)}
    else:
        L = view.landscape
        payload["landscape"] = {"image": land_image, "phi0": _round([L.phi0[0], L.phi0[-1]]),
                                "phi1": _round([L.phi1[0], L.phi1[-1]])}
    return payload


def scenario_payload(name: str, title: str, views: list[RunView], land_images: dict[str, str]) -> dict:
    from ..render.view import shared_x_range

    steps = scenario_frames(views)
    x_range = shared_x_range(views)
    t = views[0].config["target"]
    pal = palette()
    return {
        "scenario": name,
        "title": title,
        "frames": [int(s) for s in steps],
        "x": _round(x_range),
        "target": {"means": t["means"], "stds": t["stds"], "weights": t["weights"]},
        "dash": pal["dash"],  # q*'s dash pattern by the optimum's role, as in the figures
        "colours": {k: pal[k] for k in ("p_line", "p_fill", "q", "q_star_global", "q_star_local", "weight",
                                       "positive", "negative", "marker", "trail", "trail_edge", "text",
                                       "infinite") if k in pal},
        "runs": [run_payload(v, steps, x_range, land_images.get(v.name), n)
                 for v, n in zip(views, rug_sizes(views, len(steps)))],
    }


def to_script(payload: dict) -> str:
    """The payload as a script that registers itself: a <script src> works from
    file:// too, where fetch() of a JSON file is refused."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return f"(window.divfitData = window.divfitData || {{}})[{json.dumps(payload['scenario'])}] = {body};\n"


# ------------------------------------------------------------ on the plane


def _dots(view, member: int, steps: np.ndarray, lims, size: int) -> str | None:
    if "particles" not in view.record or size == 0:
        return None
    (x0, x1), (y0, y1) = lims
    out = np.zeros((len(steps), size, 3), dtype=np.uint8)
    drawn = type(view)(view.record, member)
    for i, t in enumerate(steps):
        z, c = drawn.particles(min(int(t), view.steps - 1))  # the final state shows the last step's
        z, c = z[:size], c[:size]
        ok = in_window(z, lims)
        n = int(ok.sum())
        out[i, :n, 0] = np.round((z[ok, 0] - x0) / (x1 - x0) * 255)
        out[i, :n, 1] = np.round((z[ok, 1] - y0) / (y1 - y0) * 255)
        out[i, :n, 2] = np.where(c[ok] >= 0, 1, 2)
    return base64.b64encode(out.tobytes()).decode("ascii")


def _plane_member(view, member: int, steps: np.ndarray, lims, size: int) -> dict:
    t = np.minimum(steps, view.steps)
    rec = view.record
    mean, cov = rec["mean"][member, t], rec["cov"][member, t]
    return {
        "start": _round(rec["mean"][member, 0]),
        "m1": _round(mean[:, 0]), "m2": _round(mean[:, 1]),
        "s11": _round(cov[:, 0, 0]), "s12": _round(cov[:, 0, 1]), "s22": _round(cov[:, 1, 1]),
        "value": _round(rec["divergence"][member, t]),
        "ess": _round(rec["ess"][member, np.minimum(t, view.steps - 1)]) if "ess" in rec else None,
        "dots": _dots(view, member, steps, lims, size),
    }


def plane_run_payload(view, steps: np.ndarray, lims, size: int) -> dict:
    run = view.run
    means, covs, values = view.optima
    roles = ["global"] + ["local"] * (len(values) - 1)
    return {
        "name": view.name,
        "samples": view.samples if view.monte_carlo else 0,
        "steps": view.steps,
        "label": labels.divergence_plain(run),
        "optima": [{"mean": _round(m), "cov": _round([c[0, 0], c[0, 1], c[1, 1]]), "value": _round([v])[0],
                    "role": r} for m, c, v, r in zip(means, covs, values, roles)],
        "grid": run.get("start_grid"),
        "featured": featured_member(run),
        "dotMax": size,
        "members": [_plane_member(view, b, steps, lims, size) for b in range(view.record["mean"].shape[0])],
    }


def plane_payload(name: str, title: str, views: list, lims, image: str) -> dict:
    """A 2-D scenario's payload; `lims` the window every panel shares, `image`
    p's contours over it."""
    steps = scenario_frames(views)
    pal = palette()
    return {
        "scenario": name,
        "title": title,
        "dim": 2,
        "frames": [int(s) for s in steps],
        "window": [_round(lims[0]), _round(lims[1])],
        "density": image,
        "sigmas": list(SIGMAS),
        "dash": pal["dash"],
        "colours": {k: pal[k] for k in ("p_line", "p_fill", "q", "q_star_global", "q_star_local", "positive",
                                       "negative", "marker", "text") if k in pal},
        "runs": [plane_run_payload(v, steps, lims, n)
                 for v, n in zip(views, rug_sizes(views, len(steps), width=3))],
    }
