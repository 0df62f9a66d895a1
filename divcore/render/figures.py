"""Publication figures of a scenario: the summary and the small multiples,
each written as PDF and SVG (text as text, fonts embedded) and PNG at 200 dpi."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..atomic import atomic_write  # noqa: E402
from ..style import MPLSTYLE_FILE  # noqa: E402
from . import labels  # noqa: E402
from .panels import DistributionPanel, HistoryPanel, LandscapePanel, legend_handles  # noqa: E402
from .view import RunView, shared_x_range  # noqa: E402

FORMATS = ("pdf", "svg", "png")
PNG_DPI = 200
DEFAULT_SNAPSHOTS = (0.0, 0.1, 0.5, 1.0)


def snapshot_steps(view: RunView, fractions) -> list[int]:
    """Steps at the given fractions of the run (0 = start, 1 = final)."""
    return [int(round(f * view.steps)) for f in fractions]


def summary(title: str, views: list[RunView]):
    """Per run, one row: the final distribution, the landscape with the trail, the history."""
    with plt.style.context(MPLSTYLE_FILE):
        fig, axes = plt.subplots(len(views), 3, figsize=(11, 2.7 * len(views) + 0.5), squeeze=False,
                                 gridspec_kw={"width_ratios": [1.25, 1.0, 1.0]}, layout="constrained")
        xlim = shared_x_range(views)
        for row, v in zip(axes, views):
            final = v.steps
            dist = DistributionPanel(row[0], v, xlim=xlim)
            dist.update(final)
            row[0].set_title(labels.run_title(v.run), fontsize=9)
            land = LandscapePanel(row[1], v, colorbar=True)
            land.update(final)
            HistoryPanel(row[2], v)
        _legend(fig, views)
        fig.suptitle(title, fontsize=12, fontweight="bold", x=0.01, ha="left")
    return fig


def _legend(fig, views):
    handles = legend_handles(views)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)


def small_multiples(title: str, views: list[RunView], fractions=DEFAULT_SNAPSHOTS):
    """Per run, one row of distribution panels at the chosen fractions of the run."""
    with plt.style.context(MPLSTYLE_FILE):
        fig, axes = plt.subplots(len(views), len(fractions), figsize=(2.6 * len(fractions) + 0.6, 2.2 * len(views) + 0.5),
                                 squeeze=False, layout="constrained")
        xlim = shared_x_range(views)
        for row, v in zip(axes, views):
            for ax, t in zip(row, snapshot_steps(v, fractions)):
                DistributionPanel(ax, v, show_step=False, xlim=xlim).update(t)
                ax.set_title(f"step {t}", fontsize=8, fontweight="normal")
            row[0].set_ylabel(v.name, rotation=0, ha="right", va="center", fontsize=9, fontweight="bold")
        _legend(fig, views)
        fig.suptitle(title, fontsize=12, fontweight="bold", x=0.01, ha="left")
    return fig


def save(fig, base: Path) -> list[Path]:
    """Write base.pdf, base.svg, base.png, each through a temporary file."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with plt.style.context(MPLSTYLE_FILE):
        for ext in FORMATS:
            # fixed metadata: the same figure gives the same bytes
            meta = {"pdf": {"CreationDate": None, "Creator": "divfit", "Producer": "divfit"},
                    "svg": {"Date": None, "Creator": "divfit"}, "png": {"Software": "divfit"}}[ext]
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=PNG_DPI if ext == "png" else None, metadata=meta)
            written.append(atomic_write(base.with_suffix(f".{ext}"), buf.getvalue()))
    plt.close(fig)
    return written
