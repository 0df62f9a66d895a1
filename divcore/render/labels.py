"""Reader-facing text about a run, composed from the core's registries (which
hold every name and label once): formulas in three notations (mathtext for
figures, Pango markup for videos, plain Unicode for readouts and pages),
estimator, optimizer and parameterization labels, and number formatting."""

from __future__ import annotations

from ..core.divergences import DIVERGENCES
from ..core.estimators import ESTIMATORS
from ..core.optimizers import OPTIMIZERS
from ..core.bivariate.gaussian import FAMILIES_2D
from ..core.bivariate.parameterizations import PARAMETERIZATIONS_2D
from ..core.parameterizations import PARAMETERIZATIONS


def alpha_text(run: dict) -> str:
    return f"{run['alpha']:g}"


def _formula(run: dict, notation: str) -> str:
    return DIVERGENCES[run["divergence"]].formula(run["direction"], notation, run.get("alpha"))


def divergence_tex(run: dict) -> str:
    """e.g. \\mathrm{KL}(q_\\phi\\,\\|\\,p), or D_{0.5}(p\\,\\|\\,q_\\phi) for an alpha-divergence"""
    return _formula(run, "tex")


def divergence(run: dict) -> str:
    """The divergence as mathtext, e.g. $\\mathrm{KL}(q_\\phi\\,\\|\\,p)$."""
    return f"${divergence_tex(run)}$"


def divergence_plain(run: dict) -> str:
    """Plain Unicode for readouts, e.g. KL(q‖p), χ²(p‖q), D₀.₅(p‖q)."""
    return _formula(run, "plain")


def divergence_in(run: dict, notation: str) -> str:
    """The readouts' formula in `notation`: "tex" (mathtext, the figures) or "plain"."""
    return divergence(run) if notation == "tex" else divergence_plain(run)


def divergence_markup(run: dict) -> str:
    """Pango markup, e.g. KL(q<sub>φ</sub> ‖ p) with a real subscript."""
    return _formula(run, "markup")


def _options(run: dict) -> str:
    """The run's non-default estimator options, e.g. ", +1 term"."""
    est = ESTIMATORS[run["estimator"]]
    return "".join(f", {o.choices[run[o.key]].label}" for o in est.options
                   if run.get(o.key, o.default) != o.default)


def estimator(run: dict) -> str:
    """Short, for figure titles: "REINFORCE, +1 term, K = 16"."""
    text = ESTIMATORS[run["estimator"]].label + _options(run)
    if ESTIMATORS[run["estimator"]].monte_carlo:
        text += f", K = {run['samples']}"
    if run.get("natural_gradient"):
        text += ", natural gradient"
    return text


def estimator_long(run: dict) -> str:
    """For tables: "REINFORCE (score function), leave-one-out baseline" (no K)."""
    est = ESTIMATORS[run["estimator"]]
    return est.long_label_for(run["divergence"], run["direction"]) + _options(run)


def optimizer(run: dict) -> str:
    """e.g. "Adam, lr 0.05", with the decay and clipping where they apply."""
    text = f"{OPTIMIZERS.label(run['optimizer'])}, lr {run['lr']:g}"
    if run.get("lr_decay"):
        text += f" / (1 + {run['lr_decay']:g} t)"
    if run.get("natural_gradient"):
        text += ", natural gradient"
    return text


def parameterization(run: dict, dim: int = 1) -> str:
    return (PARAMETERIZATIONS_2D if dim == 2 else PARAMETERIZATIONS).label(run["parameterization"])


def family_2d(run: dict) -> str:
    """e.g. "Gaussian (mean-field)"."""
    return FAMILIES_2D.label(run["family"])


def axes_tex(run: dict) -> tuple[str, str]:
    return PARAMETERIZATIONS[run["parameterization"]].axes_tex


def axes_plain(run: dict) -> tuple[str, str]:
    return PARAMETERIZATIONS[run["parameterization"]].axes_plain


def run_title(run: dict) -> str:
    return f"{run['name']}: {divergence(run)}, {estimator(run)}"


def fmt(value: float) -> str:
    """A readout value: 4 significant digits, exponent form from 1e4 (the
    scrubber's page script formats the same way)."""
    if value == float("inf"):
        return "∞"
    if value != value:
        return "–"
    return f"{value:.4g}"
