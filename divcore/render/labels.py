"""Text of figures: mathtext formulas (no LaTeX install needed) and plain labels."""

from __future__ import annotations

_ARGS = {"forward": r"p\,\|\,q_\phi", "reverse": r"q_\phi\,\|\,p"}
_NAMES = {"kl": r"\mathrm{KL}", "chi2": r"\chi^2"}

AXES = {
    "mu-sigma": (r"$\mu$", r"$\sigma$"),
    "mu-logsigma": (r"$\mu$", r"$\log\,\sigma$"),
    "mu-tau": (r"$\mu$", r"$\tau = 1/\sigma^2$"),
    "natural": (r"$\eta_1 = \mu/\sigma^2$", r"$\eta_2 = -1/(2\sigma^2)$"),
}

_ESTIMATORS = {
    "exact": "exact gradient",
    "is": "importance sampling",
    "data": "samples from p",
    "reinforce": "REINFORCE",
    "reparam": "reparameterization",
    "score": "score function",
}
_BASELINES = {"plus-one": "+1 term", "leave-one-out": "leave-one-out baseline"}


def divergence(run: dict) -> str:
    """e.g. $\\mathrm{KL}(q_\\phi\\,\\|\\,p)$"""
    return f"${_NAMES[run['divergence']]}({_ARGS[run['direction']]})$"


def estimator(run: dict) -> str:
    text = _ESTIMATORS[run["estimator"]]
    if run.get("baseline", "none") != "none":
        text += f", {_BASELINES[run['baseline']]}"
    if run["estimator"] != "exact":
        text += f", K = {run['samples']}"
    if run.get("natural_gradient"):
        text += ", natural gradient"
    return text


def run_title(run: dict) -> str:
    return f"{run['name']}: {divergence(run)}, {estimator(run)}"


def fmt(value: float) -> str:
    if value == float("inf"):
        return "∞"
    if value != value:
        return "–"
    return f"{value:.4g}"
