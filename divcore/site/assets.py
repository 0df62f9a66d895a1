"""A scenario's site assets: drawn from its records, the scrubber payload, the
landscape washes it shows and a CSV of every recorded state per run; from its
media, the light previews its pages show of its figures and video poster."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.bivariate.gaussian import FAMILIES_2D
from ..render.images import webp
from ..render.view import RunView
from ..atomic import atomic_write
from . import payload

CSV_COLUMNS = ("member", "step", "mean", "std", "phi0", "phi1", "divergence", "grad0", "grad1", "ess")
DENSITY_IMAGE, DENSITY_PX = "density.webp", 600  # p's contours on the plane, for the scrubber
# the figure previews and video posters pages show (the downloads are full size)
PREVIEW_WIDTH, PREVIEW_BYTES = 1000, 80_000
POSTER_WIDTH, POSTER_BYTES = 960, 30_000
POSTER_PREVIEW = "poster.webp"


def outputs(out_dir: Path, run_names: list[str], analyses=(), figures=(), poster: bool = False) -> list[Path]:
    """What `make` writes; `analyses` are the kinds of analysis the scenario
    has, `figures` the figures previewed, `poster` whether its video's is."""
    out_dir = Path(out_dir)
    return [out_dir / "scrubber.js", *(out_dir / f"{r}.csv" for r in run_names),
            *(out_dir / f"{kind}.csv" for kind in analyses), *(preview_path(out_dir, base) for base in figures),
            *([out_dir / POSTER_PREVIEW] if poster else [])]


def previewed(analyses) -> tuple[str, ...]:
    """The figures a scenario's pages show a preview of, by the kinds of
    analysis it has: its summary and each analysis's figure (the snapshots are
    a download only). The assets job makes these and the pages link them."""
    return ("summary", *analyses)


def preview_path(out_dir: Path, figure: str) -> Path:
    return Path(out_dir) / f"{figure}-preview.webp"


def web_image(src: Path, width: int, max_bytes: int, cache: Path | None = None) -> bytes:
    """The image at `src` as a WebP at most `width` px wide and, by lowering the
    quality and then the width, at most `max_bytes`; kept in `cache` by the
    source's bytes (the assets job that makes it reruns when its figures or its
    video change, and most of its time was encoding the others again)."""
    data = Path(src).read_bytes()
    key = hashlib.sha256(data + f"{width} {max_bytes}".encode()).hexdigest()[:32]
    hit = Path(cache) / f"{key}.webp" if cache is not None else None
    if hit is not None and hit.exists():
        return hit.read_bytes()
    img = Image.open(io.BytesIO(data)).convert("RGB")
    while True:
        if img.width > width:
            img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
        for quality in (80, 65, 50):
            out = webp(img, quality)
            if len(out) <= max_bytes:
                if hit is not None:
                    atomic_write(hit, out)
                return out
        width = int(img.width * 0.8)


def sweep_csv(sweep: dict) -> str:
    """One row per (alpha, minimum): rank 0 is the global minimum."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("alpha", "rank", "mean", "std", "divergence"))
    for i, a in enumerate(sweep["alpha"]):
        for k in range(int(sweep["count"][i])):
            w.writerow((f"{a:.10g}", k, *(f"{sweep[c][i, k]:.10g}" for c in ("mean", "std", "value"))))
    return buf.getvalue()


def _csv_columns(view: RunView) -> list[tuple[str, np.ndarray]]:
    """(name, values (B, S+1)) per column after member and step; the last
    state's gradient and ESS are nan (written empty)."""
    rec = view.record
    B, S1 = rec["divergence"].shape
    after_last = lambda a: np.concatenate([a, np.full((B, 1) + a.shape[2:], np.nan)], axis=1)  # noqa: E731
    grad = after_last(rec["grad"])
    if "cov" in rec:  # on the plane: the state, then one column per coordinate
        state = [("mean1", rec["mean"][..., 0]), ("mean2", rec["mean"][..., 1]), ("cov11", rec["cov"][..., 0, 0]),
                 ("cov21", rec["cov"][..., 1, 0]), ("cov22", rec["cov"][..., 1, 1])]
        grads = [f"grad_{n}" for n in FAMILIES_2D[view.run["family"]].names]
    else:
        state = [("mean", rec["mean"]), ("std", rec["std"])]
        grads = ["grad0", "grad1"]
    cols = state + [(f"phi{i}", rec["phi"][..., i]) for i in range(rec["phi"].shape[-1])]
    cols += [("divergence", rec["divergence"])] + [(n, grad[..., i]) for i, n in enumerate(grads)]
    if "ess" in rec:
        cols.append(("ess", after_last(rec["ess"])))
    return cols


def run_csv(view: RunView, members=None, pgfplots: bool = False) -> str:
    """Every state of `members` (default: all): one row per (member, step). The
    gradient is the (estimated) gradient taken at that state, missing on the
    last state; `ess` only for Monte Carlo runs. On the plane: q's mean and
    covariance, then one column per coordinate of the run's parameterization
    and of theta. A missing or non-finite value is an empty cell, or for
    pgfplots (which reads these) nan, inf or -inf."""
    cols = _csv_columns(view)
    B, S1 = cols[0][1].shape
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["member", "step", *(name for name, _ in cols)])

    def fmt(v: float) -> str:
        if np.isfinite(v):
            return f"{v:.10g}"
        return ("nan" if np.isnan(v) else "inf" if v > 0 else "-inf") if pgfplots else ""

    for b in range(B) if members is None else members:
        for t in range(S1):
            w.writerow([b, t, *(fmt(a[b, t]) for _, a in cols)])
    return buf.getvalue()


def diagnostics_csv(table: dict) -> str:
    """One row per (estimator, K, coordinate of theta = (mean, log std))."""
    from ..core.diagnostics import STATS

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("divergence", "direction", "alpha", "estimator", "baseline", "K", "coordinate", "exact", *STATS))
    for c, case in enumerate(table["config"]["cases"]):
        for j, K in enumerate(table["samples"]):
            for i, coord in enumerate(("mean", "log_std")):
                w.writerow((case["divergence"], case["direction"], "" if case["alpha"] is None else case["alpha"],
                            case["estimator"], case["baseline"], int(K), coord, f"{table['exact'][c, i]:.10g}",
                            *("" if not np.isfinite(table[s][c, j, i]) else f"{table[s][c, j, i]:.6g}" for s in STATS)))
    return buf.getvalue()


def basins_csv(maps: list[dict]) -> str:
    """One row per (run, start): where it started, its outcome (the optimum's
    rank, 0 = global, or what stopped it), that optimum and the final state
    (on the plane: their means)."""
    from ..core.basins import OUTCOMES

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    fmt = lambda v: "" if not np.isfinite(v) else f"{v:.10g}"  # noqa: E731
    if "x" in maps[0]:  # on the plane: starting means; the optimum's and final means
        w.writerow(("run", "start_mean1", "start_mean2", "outcome", "optimum_mean1", "optimum_mean2",
                    "final_mean1", "final_mean2", "steps_taken"))
        for m in maps:
            name = m["config"]["run"]["name"]
            for j, x0 in enumerate(m["x"]):
                for i, y0 in enumerate(m["y"]):
                    k = int(m["label"][i, j])
                    opt = tuple(fmt(v) for v in m["optima_mean"][k]) if k >= 0 else ("", "")
                    w.writerow((name, fmt(x0), fmt(y0), OUTCOMES.get(k, k), *opt,
                                *(fmt(v) for v in m["final_mean"][i, j]), int(m["steps_taken"][i, j])))
        return buf.getvalue()
    w.writerow(("run", "start_mean", "start_std", "outcome", "optimum_mean", "optimum_std", "final_mean", "final_std",
                "steps_taken"))
    for m in maps:
        name = m["config"]["run"]["name"]
        for j, mean0 in enumerate(m["means"]):
            for i, std0 in enumerate(m["stds"]):
                k = int(m["label"][i, j])
                opt = (fmt(m["optima_mean"][k]), fmt(m["optima_std"][k])) if k >= 0 else ("", "")
                w.writerow((name, fmt(mean0), fmt(std0), OUTCOMES.get(k, k), *opt, fmt(m["final_mean"][i, j]),
                            fmt(m["final_std"][i, j]), int(m["steps_taken"][i, j])))
    return buf.getvalue()


# the CSV of each analysis a scenario may ask for, from its data files
ANALYSES = {"alpha-sweep": lambda data: sweep_csv(data[0]), "diagnostics": lambda data: diagnostics_csv(data[0]),
            "basins": lambda data: basins_csv(data)}


def make(scenario: str, title: str, record_paths: list[Path], out_dir: Path,
         analyses: dict[str, list[Path]] | None = None, figures: dict[str, Path] | None = None,
         poster: Path | None = None, cache: Path | None = None) -> None:
    """The scrubber payload, landscape images and CSVs; `analyses` maps each
    kind of analysis to its data files. Previews of `figures` (name: its PNG)
    and of the video's `poster`, kept in `cache`: made here, beside the
    scenario's other jobs, they no longer hold up the pages, which wait for
    every scenario."""
    from ..render import plane
    from ..trajectory import load

    out_dir = Path(out_dir)
    views = [plane.load_view(p) for p in record_paths]
    written = set()

    def write(path: Path, blob: bytes) -> None:
        atomic_write(path, blob)
        written.add(path.name)

    for v in views:
        write(out_dir / f"{v.name}.csv", run_csv(v).encode())
    for kind, paths in (analyses or {}).items():
        write(out_dir / f"{kind}.csv", ANALYSES[kind]([load(p) for p in paths]).encode())
    data, images = scrubber_data(scenario, title, views)
    for name, blob in images.items():
        write(out_dir / name, blob)
    write(out_dir / "scrubber.js", payload.to_script(data).encode())
    for base, png in (figures or {}).items():
        write(preview_path(out_dir, base), web_image(png, PREVIEW_WIDTH, PREVIEW_BYTES, cache))
    if poster is not None:
        write(out_dir / POSTER_PREVIEW, web_image(poster, POSTER_WIDTH, POSTER_BYTES, cache))
    # the folder is this job's alone, and the pages publish every image and script in it:
    # a renamed run's landscape, an analysis since dropped, would be published as current.
    # Previews of figures or a poster this job was not given (a build without that stage)
    # stay: the pages still show them
    def stays(name: str) -> bool:
        return (name in written or name.startswith(".")
                or (not figures and name.endswith(preview_path(out_dir, "").name))
                or (poster is None and name == POSTER_PREVIEW))

    for old in out_dir.iterdir():
        if old.is_file() and not stays(old.name):
            old.unlink()


def scrubber_data(scenario: str, title: str, views: list, image_ref=lambda name, blob: name) -> tuple[dict, dict]:
    """The scrubber's payload and the images it draws (file name: WebP bytes);
    the payload names each image by `image_ref(name, bytes)`: its file name
    beside the payload, or (in a notebook) a data: URI."""
    from ..render import plane
    from ..render.panels import landscape_rgba

    images = {}
    if isinstance(views[0], plane.PlaneView):
        lims = plane.window(views)
        images[DENSITY_IMAGE] = _webp(plane.density_image(views[0], lims, DENSITY_PX))
        return payload.plane_payload(scenario, title, views, lims,
                                     image_ref(DENSITY_IMAGE, images[DENSITY_IMAGE])), images
    refs = {}
    for v in views:
        if not v.fixed_std:
            name = f"land-{v.name}.webp"
            images[name] = _webp(landscape_rgba(v))
            refs[v.name] = image_ref(name, images[name])
    return payload.scenario_payload(scenario, title, views, refs), images


def _webp(rgb: np.ndarray) -> bytes:
    # a smooth colour wash: lossy WebP is a tenth of the PNG and looks the same
    return webp(Image.fromarray(rgb).convert("RGB"), 85)
