"""The resolved, validated scenario: immutable values the runner consumes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..core.estimators import EXACT


def _jsonable(value: Any) -> Any:
    if isinstance(value, Start):
        return {"mean": value.mean, "std": value.std}
    if isinstance(value, Start2):
        return {"mean": list(value.mean), "std": list(value.std), "corr": value.corr}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Component:
    mean: float
    std: float
    weight: float  # normalised: the weights of a target sum to 1


@dataclass(frozen=True)
class Component2:
    """One Gaussian of a 2-D target."""

    mean: tuple[float, float]
    cov: tuple[tuple[float, float], tuple[float, float]]  # symmetric positive definite
    weight: float  # normalised


@dataclass(frozen=True)
class Target:
    components: tuple[Component, ...] | tuple[Component2, ...]

    @property
    def dim(self) -> int:
        return 2 if isinstance(self.components[0], Component2) else 1

    @property
    def means(self) -> tuple:
        return tuple(c.mean for c in self.components)

    @property
    def stds(self) -> tuple[float, ...]:
        return tuple(c.std for c in self.components)

    @property
    def covs(self) -> tuple:
        return tuple(c.cov for c in self.components)

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(c.weight for c in self.components)

    def to_dict(self) -> dict:
        if self.dim == 2:
            return {"dim": 2, "means": [list(m) for m in self.means],
                    "covs": [[list(r) for r in c] for c in self.covs], "weights": list(self.weights)}
        return {"means": list(self.means), "stds": list(self.stds), "weights": list(self.weights)}


@dataclass(frozen=True)
class Start:
    mean: float
    std: float


@dataclass(frozen=True)
class Start2:
    """A 2-D start: q = N(mean, Sigma), Sigma from the standard deviations and correlation."""

    mean: tuple[float, float]
    std: tuple[float, float]
    corr: float = 0.0

    @property
    def cov(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (sx, sy), r = self.std, self.corr
        return ((sx * sx, r * sx * sy), (r * sx * sy, sy * sy))


@dataclass(frozen=True)
class RunConfig:
    name: str
    divergence: str
    direction: str
    estimator: str
    baseline: str
    family: str
    parameterization: str
    # mean-major flattening of start_grid, or the single start (Start2 in 2-D)
    starts: tuple[Start, ...] | tuple[Start2, ...]
    # 1-D: (means, stds); 2-D: (the grid's starting means as (x, y) pairs,)
    start_grid: tuple | None
    optimizer: str
    natural_gradient: bool
    clip: float
    lr: float
    lr_decay: float
    steps: int
    samples: int  # 0 for exact runs
    seed: int
    repeat: int
    record_particles: bool  # False for exact runs
    alpha: float | None = None  # divergence "alpha" only

    @property
    def batch_size(self) -> int:
        return len(self.starts) * self.repeat

    @property
    def monte_carlo(self) -> bool:
        return self.estimator != EXACT

    def to_dict(self) -> dict:
        # alpha only where it applies, so other runs' configurations (and keys) stay as they were
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)
                if not (f.name == "alpha" and self.alpha is None)}


@dataclass(frozen=True)
class Media:
    """How a scenario is drawn; never part of a run's configuration."""

    headline: str  # the run shown in the gallery
    snapshots: tuple[float, ...]  # small-multiples steps, as fractions of each run
    video_seconds: float  # the video's animated part


@dataclass(frozen=True)
class FigureStyle:
    """How publication figures are typeset. None leaves a setting to the wider
    one: a scenario's [figure] over its project's, over each figure's own."""

    width: float | None = None  # inches
    font: str | None = None  # a key of fields.FIGURE_FONTS
    size: float | None = None  # points
    aspect: float | None = None  # a panel's height / its width

    def over(self, base: "FigureStyle") -> "FigureStyle":
        """These settings where given, `base`'s elsewhere."""
        return FigureStyle(*(getattr(base, f.name) if getattr(self, f.name) is None else getattr(self, f.name)
                             for f in fields(self)))


@dataclass(frozen=True)
class Diagnostics:
    """Estimator diagnostics at a fixed q (see core/diagnostics.py)."""

    mean: float
    std: float
    samples: tuple[int, ...]
    repeats: int
    seed: int

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "samples": list(self.samples), "repeats": self.repeats,
                "seed": self.seed}


@dataclass(frozen=True)
class Basins2:
    """Basin maps over a grid of starting means on the plane, each with its run's start covariance."""

    size: int
    x: tuple[float, float]
    y: tuple[float, float]
    steps: int
    tolerance: float

    def to_dict(self) -> dict:
        return {"size": self.size, "x": list(self.x), "y": list(self.y), "steps": self.steps,
                "tolerance": self.tolerance}


@dataclass(frozen=True)
class Basins:
    """Basin maps over a grid of starts (see core/basins.py)."""

    size: int
    mean: tuple[float, float]
    std: tuple[float, float]
    steps: int
    tolerance: float

    def to_dict(self) -> dict:
        return {"size": self.size, "mean": list(self.mean), "std": list(self.std), "steps": self.steps,
                "tolerance": self.tolerance}


@dataclass(frozen=True)
class Scenario:
    name: str  # the file stem
    title: str
    description: str
    target: Target
    runs: tuple[RunConfig, ...]
    media: Media
    figure: FigureStyle = FigureStyle()
    diagnostics: Diagnostics | None = None
    basins: Basins | Basins2 | None = None

    def run_named(self, name: str) -> RunConfig:
        return next(r for r in self.runs if r.name == name)

    def run_dict(self, run: RunConfig) -> dict:
        # what the numbers depend on, and nothing else: a title edit must not rerun anything
        return {
            "scenario": self.name,
            "target": self.target.to_dict(),
            "run": run.to_dict(),
        }
