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


def alpha_text(run: dict) -> str:
    return f"{run['alpha']:g}"


def divergence_tex(run: dict) -> str:
    """e.g. \\mathrm{KL}(q_\\phi\\,\\|\\,p), or D_{0.5}(p\\,\\|\\,q_\\phi) for an alpha-divergence"""
    name = f"D_{{{alpha_text(run)}}}" if run["divergence"] == "alpha" else _NAMES[run["divergence"]]
    return f"{name}({_ARGS[run['direction']]})"


def divergence(run: dict) -> str:
    """The divergence as mathtext, e.g. $\\mathrm{KL}(q_\\phi\\,\\|\\,p)$."""
    return f"${divergence_tex(run)}$"


_SUBSCRIPT = str.maketrans("0123456789-.", "₀₁₂₃₄₅₆₇₈₉₋.")


def divergence_plain(run: dict) -> str:
    """Plain Unicode for readouts, e.g. KL(q‖p), χ²(p‖q), D₀.₅(p‖q)."""
    name = {"kl": "KL", "chi2": "χ²"}.get(run["divergence"])
    if run["divergence"] == "alpha":
        name = "D" + alpha_text(run).translate(_SUBSCRIPT)
    return name + {"forward": "(p‖q)", "reverse": "(q‖p)"}[run["direction"]]


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
