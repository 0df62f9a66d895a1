"""The declarative table of scenario-file fields.

This tree is the single source of truth: ``parse.py`` validates files by walking
it and ``schema.py`` turns it into the JSON Schema, so the two cannot drift
apart. Rules that tie several keys together (which estimators a divergence and
direction allow, baselines, size guards) live in the constants below and are
read by both modules as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import divergences as _divergences
from ..core import estimators as _estimators
from ..core import family as _family
from ..core import optimizers as _optimizers
from ..core import parameterizations as _parameterizations
from ..core.bivariate import gaussian as _gaussian2
from ..core.bivariate import parameterizations as _parameterizations2
from ..core.registry import Option


class _Missing:
    """Marks a field without a default (required, or resolved from [fit])."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# The numerical core guarantees its 1e-6 relative accuracy only inside these
# bounds, so both target components and starts are held to them.
MEAN_LIMIT = 1000.0
STD_MIN = 1e-3
STD_MAX = 1000.0
# Weights are normalised; bounding their spread keeps every normalised weight
# a normal (non-underflowing) positive float.
WEIGHT_MIN = 1e-9
WEIGHT_MAX = 1e9

MAX_COMPONENTS = 8
MAX_GRID = 101
MAX_NAME = 64
MAX_STEPS = 1_000_000
MAX_SAMPLES = 100_000
MAX_SEED = 2**63 - 1
MAX_REPEAT = 100_000
# Size guards: what one run may ask of memory (the recorded arrays).
MAX_BATCH = 100_000
MAX_STATES = 50_000_000  # batch * steps
MAX_PARTICLES = 100_000_000  # batch * steps * samples, when particles are recorded

NAME_PATTERN = "^[a-z0-9][a-z0-9-]*$"

# The names a run may use come from the core's registries; nothing here lists them.
DIVERGENCES = _divergences.DIVERGENCES.keys()
DIRECTIONS = _divergences.DIRECTIONS.keys()
ESTIMATORS: dict[tuple[str, str], tuple[str, ...]] = {
    pair: _estimators.for_pair(*pair) for pair in _divergences.pairs()
}
ALPHA_LIMIT = 20.0
ALL_ESTIMATORS = _estimators.ESTIMATORS.keys()
EXACT = _estimators.EXACT
MONTE_CARLO = tuple(e for e in ALL_ESTIMATORS if e != EXACT)
# estimator options (a run key each): which estimators take each one
ESTIMATOR_OPTIONS: dict[str, Option] = {
    o.key: o for e in _estimators.ESTIMATORS.values() for o in e.options
}
OPTION_TAKERS: dict[str, tuple[str, ...]] = {
    key: tuple(e.key for e in _estimators.ESTIMATORS.values() if e.option(key)) for key in ESTIMATOR_OPTIONS
}
BASELINES = _estimators.BASELINE.choices.keys()
FAMILIES = _family.FAMILIES.keys()
FULL_FAMILY = next(f.key for f in _family.FAMILIES.values() if all(f.free))  # what basin maps need
ALPHA_DIVERGENCES = tuple(k.key for k in _divergences.DIVERGENCES.values() if k.has_alpha)
PARAMETERIZATIONS = _parameterizations.PARAMETERIZATIONS.keys()
OPTIMIZERS = _optimizers.OPTIMIZERS.keys()


def _estimator_doc() -> str:
    """Which estimators apply where, e.g. "kl/forward: exact, is, data; ...; alpha: exact, is"."""
    parts = []
    for div in DIVERGENCES:
        lists = {d: ESTIMATORS[div, d] for d in DIRECTIONS}
        if len(set(lists.values())) == 1:
            parts.append(f"{div}: {', '.join(lists[DIRECTIONS[0]])}")
        else:
            parts += [f"{div}/{d}: {', '.join(v)}" for d, v in lists.items()]
    return "Gradient estimator; " + "; ".join(parts) + ". " + _listing(_estimators.ESTIMATORS) + "."


def _listing(registry) -> str:
    """Each entry's key and what it is, e.g. "adam: Adam (b1 = 0.9, b2 = 0.999); sgd: ..."."""
    return "; ".join(f"{e.key}: {e.doc}" for e in registry.values())


@dataclass(frozen=True)
class Field:
    """One key of the file format; tables and arrays nest further fields."""

    name: str
    kind: str  # "string" | "number" | "integer" | "boolean" | "table" | "array"
    doc: str
    default: Any = MISSING
    required: bool = False
    enum: tuple[str, ...] = ()
    pattern: str | None = None  # JSON-Schema style: unanchored unless ^...$
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    fields: tuple["Field", ...] = ()
    items: "Field | None" = None
    min_items: int | None = None
    max_items: int | None = None
    allowed_text: str | None = None  # overrides the generated "what is allowed"
    # samples only matter to Monte Carlo estimators, so exact runs may leave
    # any integer there; the range is enforced once the estimator is known.
    range_if_monte_carlo: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def child(self, name: str) -> "Field":
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _mean(doc: str) -> Field:
    return Field(
        "mean", "number", doc, required=True, minimum=-MEAN_LIMIT, maximum=MEAN_LIMIT
    )


def _std(doc: str) -> Field:
    return Field(
        "std",
        "number",
        doc,
        required=True,
        exclusive_minimum=0.0,
        minimum=STD_MIN,
        maximum=STD_MAX,
    )


_BOUNDS = "the numerical core guarantees 1e-6 accuracy for |mean| <= 1000, 0.001 <= std <= 1000"

COMPONENT = Field(
    "component",
    "table",
    "One Gaussian of the target mixture.",
    fields=(
        _mean(f"Component mean ({_BOUNDS})."),
        _std(f"Component standard deviation, > 0 ({_BOUNDS})."),
        Field(
            "weight",
            "number",
            "Mixture weight, > 0; weights are normalised to sum 1 (spread limited to 1e-9..1e9).",
            required=True,
            exclusive_minimum=0.0,
            minimum=WEIGHT_MIN,
            maximum=WEIGHT_MAX,
        ),
    ),
)

DIMS = (1, 2)
DIM = Field("dim", "integer", "The target's dimension: 1 (the default) or 2 (see the 2-D keys).", default=1,
            minimum=1, maximum=2, allowed_text="1 or 2")

TARGET = Field(
    "target",
    "table",
    "The target distribution p: a mixture of 1..8 Gaussians.",
    required=True,
    fields=(
        DIM,
        Field(
            "components",
            "array",
            "The mixture's components, each { mean, std, weight }.",
            required=True,
            items=COMPONENT,
            min_items=1,
            max_items=MAX_COMPONENTS,
        ),
    ),
)

START = Field(
    "start",
    "table",
    "Initial q = N(mean, std^2) of the run (use either start or starts).",
    default={"mean": 0.0, "std": 1.0},
    fields=(
        _mean(f"Initial mean of q ({_BOUNDS})."),
        _std(f"Initial standard deviation of q, > 0 ({_BOUNDS})."),
    ),
)


def _grid_axis(item: Field, what: str) -> Field:
    return Field(
        item.name,
        "array",
        f"Grid of initial {what}s (1..{MAX_GRID} values).",
        required=True,
        items=item,
        min_items=1,
        max_items=MAX_GRID,
    )


STARTS = Field(
    "starts",
    "table",
    "A grid of initial states, run as one batch: every mean with every std "
    "(flattened mean-major). Use either start or starts.",
    fields=(
        _grid_axis(_mean(f"A grid mean ({_BOUNDS})."), "mean"),
        _grid_axis(_std(f"A grid std, > 0 ({_BOUNDS})."), "std"),
    ),
)


def _enum(name: str, doc: str, choices: tuple[str, ...], default: Any = MISSING) -> Field:
    return Field(name, "string", doc, default=default, enum=choices)


NAME = Field(
    "name",
    "string",
    "Run name, used for the output file <scenario>/<name>.npz.",
    required=True,
    pattern=NAME_PATTERN,
    max_length=MAX_NAME,
    allowed_text=f"a name of lower-case letters, digits and '-' matching {NAME_PATTERN}, "
    f"at most {MAX_NAME} characters",
)

def _option_field(o: Option) -> Field:
    takers = ", ".join(OPTION_TAKERS[o.key])
    choices = "; ".join(f"{c.key}: {c.doc}" for c in o.choices.values())
    return _enum(o.key, f"{o.doc} For estimator {takers} only: {choices}.", o.choices.keys(), o.default)


RUN_FIELDS: tuple[Field, ...] = (
    NAME,
    _enum("divergence", _listing(_divergences.DIVERGENCES) + ". Required in the run or in [fit].", DIVERGENCES),
    Field("alpha", "number", "For divergence alpha only, required there: D_alpha(p || q) = "
          "(1 - ∫ p^alpha q^(1-alpha)) / (alpha (1 - alpha)); 1 is KL(p || q), 0 is KL(q || p), "
          "2 and -1 are half of chi2(p || q) and chi2(q || p).", minimum=-ALPHA_LIMIT, maximum=ALPHA_LIMIT),
    _enum("direction", _listing(_divergences.DIRECTIONS) + ". Required in the run or in [fit].", DIRECTIONS),
    _enum("estimator", _estimator_doc(), ALL_ESTIMATORS, EXACT),
    *(_option_field(o) for o in ESTIMATOR_OPTIONS.values()),
    _enum("family", "Variational family of q; " + _listing(_family.FAMILIES) + ".", FAMILIES,
          _family.FAMILIES.default),
    _enum("parameterization", "Coordinates the optimizer steps in.", PARAMETERIZATIONS,
          _parameterizations.PARAMETERIZATIONS.default),
    START,
    STARTS,
    _enum("optimizer", "Update rule; " + _listing(_optimizers.OPTIMIZERS) + ".", OPTIMIZERS,
          _optimizers.OPTIMIZERS.default),
    Field("natural_gradient", "boolean", "Precondition by q's Fisher inverse.", default=False),
    Field("clip", "number", "Max gradient norm after preconditioning; 0 disables.", default=5.0, minimum=0.0),
    Field(
        "lr",
        "number",
        "Learning rate, >= 0; 0 keeps q fixed, so every step is an independent gradient estimate.",
        default=0.05,
        minimum=0.0,
    ),
    Field("lr_decay", "number", "lr_t = lr / (1 + lr_decay * t).", default=0.0, minimum=0.0),
    Field("steps", "integer", "Number of optimizer steps.", default=500, minimum=1, maximum=MAX_STEPS),
    Field(
        "samples",
        "integer",
        f"K, samples per step (1..{MAX_SAMPLES}); Monte Carlo estimators only, ignored by exact.",
        default=64,
        minimum=1,
        maximum=MAX_SAMPLES,
        range_if_monte_carlo=True,
    ),
    Field("seed", "integer", "Random seed of the first batch member.", default=0, minimum=0,
          maximum=MAX_SEED),
    Field(
        "repeat",
        "integer",
        "Run the run N times with seeds seed, seed+1, ... (as one batch).",
        default=1,
        minimum=1,
        maximum=MAX_REPEAT,
    ),
    Field(
        "record_particles",
        "boolean",
        "Record each step's samples and weights (Monte Carlo only); false for large sweeps.",
        default=True,
    ),
)

RUN = Field("run", "table", "One run: a fit of q to the target.", fields=RUN_FIELDS)

FIT = Field(
    "fit",
    "table",
    "Defaults for every run; a run may override any of them.",
    fields=tuple(f for f in RUN_FIELDS if f.name != "name"),
)

RUNS = Field(
    "runs",
    "array",
    "The runs of this scenario ([[runs]] tables), at least one.",
    required=True,
    items=RUN,
    min_items=1,
    allowed_text="one or more [[runs]] tables",
)

MAX_SNAPSHOTS = 8
DEFAULT_SNAPSHOTS = (0.0, 0.1, 0.5, 1.0)
DEFAULT_VIDEO_SECONDS = 12.0

MEDIA = Field(
    "media",
    "table",
    "How the scenario is drawn (figures, GIFs); it never changes the recorded data.",
    fields=(
        Field(
            "headline",
            "string",
            "The run that stands for the scenario in the front page's GIF gallery (default: the first run).",
            pattern=NAME_PATTERN,
            max_length=MAX_NAME,
            allowed_text="the name of one of the scenario's runs",
        ),
        Field(
            "snapshots",
            "array",
            "Where the small-multiples figure shows each run, as fractions of its steps "
            "(0 = the start, 1 = the final state).",
            default=list(DEFAULT_SNAPSHOTS),
            items=Field("snapshot", "number", "A fraction of the run's steps.", minimum=0.0, maximum=1.0),
            min_items=1,
            max_items=MAX_SNAPSHOTS,
        ),
        Field(
            "video_seconds",
            "number",
            "How long the video animates the runs, between its title card and its final hold; "
            "steps are spread over it unevenly, slow where q moves fast.",
            default=DEFAULT_VIDEO_SECONDS,
            minimum=2.0,
            maximum=120.0,
        ),
    ),
)

# Figures for the page: a width in a unit a typesetter uses, a font that
# matches the text around it, its size in points.
LENGTH_UNITS = {"in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4, "pt": 1 / 72.27}  # TeX points, as \textwidth reports
LENGTH_PATTERN = r"^[0-9]+(\.[0-9]+)?(in|cm|mm|pt)$"
FIGURE_WIDTH_IN = (1.0, 20.0)
FIGURE_FONTS = {
    "sans": "DejaVu Sans, with math to match",
    "serif": "STIX (a Times-like serif), with STIX math",
    "cm": "Computer Modern, with Computer Modern math, as LaTeX's default",
}

FIGURE = Field(
    "figure",
    "table",
    "How publication figures are typeset (PDF, SVG, PNG); unset keys keep the project's setting, then each "
    "figure's own. It never changes the recorded data, the GIFs or the videos.",
    fields=(
        Field("width", "string", "The figure's width, exactly, as a length with its unit: in, cm, mm or pt "
              "(TeX points, as \\the\\textwidth prints them).", pattern=LENGTH_PATTERN,
              allowed_text='a length such as "6.5in", "16.5cm", "120mm" or "469.75pt", between 1 and 20 in'),
        Field("font", "string", "The font family of all text; " + ", ".join(f"{k}: {v}" for k, v in FIGURE_FONTS.items())
              + ".", enum=tuple(FIGURE_FONTS)),
        Field("size", "number", "The size of the text in points (the figure's own title is 1.2 times as large).",
              minimum=5.0, maximum=24.0),
        Field("aspect", "number", "The height of each panel as a fraction of its width.", minimum=0.2, maximum=3.0),
    ),
)

DEFAULT_DIAGNOSTIC_SAMPLES = (1, 4, 16, 64, 256, 1024)
MAX_DIAGNOSTIC_WORK = 50_000_000  # repeats * sum(samples), per estimator

DIAGNOSTICS = Field(
    "diagnostics",
    "table",
    "Estimator diagnostics at one fixed q: for every divergence and direction the runs use, every "
    "Monte Carlo estimator that applies (REINFORCE with each baseline), at each K: bias, variance, "
    "mean squared error and signal-to-noise ratio against the exact gradient.",
    fields=(
        Field(
            "q",
            "table",
            "The fixed q = N(mean, std^2) the gradient is estimated at.",
            required=True,
            fields=(_mean(f"Mean of q ({_BOUNDS})."), _std(f"Standard deviation of q, > 0 ({_BOUNDS}).")),
        ),
        Field(
            "samples",
            "array",
            "The values of K, samples per estimate.",
            default=list(DEFAULT_DIAGNOSTIC_SAMPLES),
            items=Field("k", "integer", "K, samples per estimate.", minimum=1, maximum=MAX_SAMPLES),
            min_items=1,
            max_items=16,
        ),
        Field("repeats", "integer", "Independent estimates per estimator and K.", default=2000, minimum=10,
              maximum=100_000),
        Field("seed", "integer", "Seed of the estimates' random streams.", default=0, minimum=0, maximum=MAX_SEED),
    ),
)

DEFAULT_BASIN_SIZE = 41
DEFAULT_BASIN_STEPS = 2000
DEFAULT_BASIN_TOLERANCE = 0.25
MAX_BASIN_WORK = 100_000_000_000  # starts * steps * K, per run: about a quarter of an hour on one core
MAX_BASIN_SIZE = 1001  # starts per axis: the map is built in blocks, its memory grows with the starts
MAX_TASK_MEMORY = 2 * 1024**3  # bytes one task of a basin map may hold (a worker's share of a small machine)
EXACT_SAMPLE_COST = 256  # an exact gradient's quadrature costs about as much as this many samples
EXACT_SAMPLE_COST_2D = 8192  # and a cubature on the plane (a few thousand nodes, per state)


def _range(item: Field, what: str) -> Field:
    return Field(item.name, "array", f"[lowest, highest] starting {what} of the map.", items=item, min_items=2,
                 max_items=2)


_BASIN_STEPS = Field("steps", "integer", "Optimizer steps from each start.", default=DEFAULT_BASIN_STEPS, minimum=1,
                     maximum=MAX_STEPS)


def _tolerance(units: str) -> Field:
    return Field("tolerance", "number", f"How close a final state must be to an optimum to count as reaching it, "
                 f"{units}.", default=DEFAULT_BASIN_TOLERANCE, exclusive_minimum=0.0, maximum=10.0)


BASINS = Field(
    "basins",
    "table",
    "A basin map per run: the run (its divergence, estimator, K, optimizer, seed) started from every "
    "point of a size x size grid of (mean, std), each start labelled by the optimum it ends in, or as "
    "did not converge / diverged. The runs' own starts and steps are not used. Gaussian family only.",
    fields=(
        Field("size", "integer", "Starts per axis: size means by size stds (stds evenly spaced in log std).",
              default=DEFAULT_BASIN_SIZE, minimum=3, maximum=MAX_BASIN_SIZE),
        _range(_mean(f"A starting mean ({_BOUNDS})."), "mean (default: the landscape's, p's range plus 3 sd)"),
        _range(_std(f"A starting std ({_BOUNDS})."), "std (default: the landscape's)"),
        _BASIN_STEPS,
        _tolerance("as a distance in (mean / sd of p, log std)"),
    ),
)

SCENARIO = Field(
    "scenario",
    "table",
    "A divfit scenario: one target, one or more fits of q to it.",
    fields=(
        Field(
            "title",
            "string",
            "Heading of the figure or page section.",
            required=True,
            min_length=1,
            pattern=r"\S",
            allowed_text="a non-empty string",
        ),
        Field("description", "string", "Optional prose shown with the figure.", default=""),
        TARGET,
        FIT,
        MEDIA,
        FIGURE,
        DIAGNOSTICS,
        BASINS,
        RUNS,
    ),
)


# ---------------------------------------------------------------- two dimensions
#
# A file with dim = 2 in [target] is read with this tree: the same keys, with
# points, covariances and the plane's families and coordinates.

_PLANE = "(a 2-D target: dim = 2)"
CORR_LIMIT = 1.0


def _pair(item: Field, what: str) -> Field:
    return Field(item.name, "array", f"{what} as [x, y].", required=item.required, items=item, min_items=2,
                 max_items=2, allowed_text=f"[x, y]: {allowed_pair(item)} {_PLANE}")


def allowed_pair(item: Field) -> str:
    lo, hi = item.minimum, item.maximum
    return f"two finite numbers from {lo:g} to {hi:g}"


def _coordinate(doc: str) -> Field:
    return Field("mean", "number", doc, required=True, minimum=-MEAN_LIMIT, maximum=MEAN_LIMIT)


def _sd(doc: str, required: bool = True) -> Field:
    return Field("std", "number", doc, required=required, exclusive_minimum=0.0, minimum=STD_MIN,
                 maximum=STD_MAX)


def _corr(doc: str) -> Field:
    return Field("corr", "number", doc, default=0.0, exclusive_minimum=-CORR_LIMIT,
                 exclusive_maximum=CORR_LIMIT, allowed_text="a number strictly between -1 and 1")


_COV_ROW = Field("row", "array", "A row of the covariance.", items=Field("entry", "number", "An entry."),
                 min_items=2, max_items=2, allowed_text="[a, b]: two finite numbers")

COMPONENT_2D = Field(
    "component",
    "table",
    "One Gaussian of the 2-D target mixture: its mean and either cov or std (with corr).",
    fields=(
        _pair(_coordinate(f"A coordinate of the mean ({_BOUNDS})."), "Component mean"),
        Field("cov", "array", "Covariance [[sxx, sxy], [sxy, syy]], symmetric positive definite "
              "(give cov, or std with corr).", items=_COV_ROW, min_items=2, max_items=2,
              allowed_text=f"[[sxx, sxy], [sxy, syy]]: a symmetric positive definite matrix {_PLANE}"),
        _pair(_sd(f"A standard deviation, > 0 ({_BOUNDS}).", required=False),
              "Component standard deviations (give std, or cov)"),
        _corr("Correlation of the component's coordinates, in (-1, 1); with std only."),
        COMPONENT.child("weight"),
    ),
)

TARGET_2D = Field(
    "target",
    "table",
    "The target distribution p on the plane: a mixture of 1..8 bivariate Gaussians.",
    required=True,
    fields=(
        DIM,
        Field("components", "array", "The mixture's components, each { mean, cov | std (corr), weight }.",
              required=True, items=COMPONENT_2D, min_items=1, max_items=MAX_COMPONENTS),
    ),
)

START_2D = Field(
    "start",
    "table",
    "Initial q = N(mean, Sigma) of the run, Sigma from std and corr (use either start or starts).",
    default={"mean": [0.0, 0.0], "std": [1.0, 1.0], "corr": 0.0},
    fields=(
        _pair(_coordinate(f"A coordinate of q's initial mean ({_BOUNDS})."), "Initial mean of q"),
        _pair(_sd(f"An initial standard deviation of q, > 0 ({_BOUNDS})."), "Initial standard deviations of q"),
        _corr("Initial correlation of q, in (-1, 1); family gaussian only."),
    ),
)

STARTS_2D = Field(
    "starts",
    "table",
    "A grid of starting means, run as one batch, each with the covariance of std and corr "
    "(default: the run's start covariance, from [fit]). Use either start or starts.",
    fields=(
        Field("mean", "array", f"The starting means (1..{MAX_GRID * MAX_GRID}), each [x, y].", required=True,
              items=_pair(_coordinate(f"A coordinate ({_BOUNDS})."), "A starting mean"), min_items=1,
              max_items=MAX_GRID * MAX_GRID),
        _pair(_sd(f"A standard deviation, > 0 ({_BOUNDS}).", required=False), "Standard deviations of every start"),
        Field("corr", "number", "Correlation of every start, in (-1, 1); family gaussian only.",
              exclusive_minimum=-CORR_LIMIT, exclusive_maximum=CORR_LIMIT,
              allowed_text="a number strictly between -1 and 1"),
    ),
)

FAMILIES_2D = _gaussian2.FAMILIES_2D.keys()
PARAMETERIZATIONS_2D = _parameterizations2.PARAMETERIZATIONS_2D.keys()


def _names(keys: tuple[str, ...]) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def _plane(f: Field) -> Field:
    """A run field as a 2-D file has it."""
    if f.name == "start":
        return START_2D
    if f.name == "starts":
        return STARTS_2D
    if f.name == "family":
        return Field("family", "string", "Variational family of q on the plane; "
                     + _listing(_gaussian2.FAMILIES_2D) + ".", default=_gaussian2.FAMILIES_2D.default,
                     enum=FAMILIES_2D, allowed_text=f"one of {_names(FAMILIES_2D)} {_PLANE}")
    if f.name == "parameterization":
        return Field("parameterization", "string", "Coordinates the optimizer steps in, on the plane; "
                     + _listing(_parameterizations2.PARAMETERIZATIONS_2D) + ".",
                     default=_parameterizations2.PARAMETERIZATIONS_2D.default, enum=PARAMETERIZATIONS_2D,
                     allowed_text=f"one of {_names(PARAMETERIZATIONS_2D)} {_PLANE}")
    return f


RUN_2D = Field("run", "table", RUN.doc, fields=tuple(_plane(f) for f in RUN_FIELDS))
FIT_2D = Field("fit", "table", FIT.doc, fields=tuple(f for f in RUN_2D.fields if f.name != "name"))
RUNS_2D = Field("runs", "array", RUNS.doc, required=True, items=RUN_2D, min_items=1,
                allowed_text=RUNS.allowed_text)

def _axis(name: str) -> Field:
    return Field(name, "array", f"[lowest, highest] starting {name}-coordinate of the map's means (default: "
                 "p's components plus 3 sd).", items=_coordinate(f"A coordinate ({_BOUNDS})."), min_items=2,
                 max_items=2)


BASINS_2D = Field(
    "basins",
    "table",
    "A basin map per run over a size x size grid of starting means, each with the run's start covariance: "
    "each start labelled by the optimum it ends in, or as did not converge / diverged. The runs' own starts "
    "and steps are not used.",
    fields=(
        Field("size", "integer", "Starting means per axis.", default=DEFAULT_BASIN_SIZE, minimum=3,
              maximum=MAX_BASIN_SIZE),
        _axis("x"),
        _axis("y"),
        _BASIN_STEPS,
        _tolerance("in the optimum's own units (its mean's offset in its standard deviations, its log standard "
                   "deviations and correlation)"),
    ),
)

SCENARIO_2D = Field(
    "scenario",
    "table",
    "A divfit scenario on the plane (dim = 2 in [target]).",
    fields=tuple({"target": TARGET_2D, "fit": FIT_2D, "runs": RUNS_2D, "basins": BASINS_2D}.get(f.name, f)
                 for f in SCENARIO.fields if f.name != "diagnostics"),
)

TREES = {1: SCENARIO, 2: SCENARIO_2D}

# keys of one dimension met in a file of the other: said so, instead of a bare "unknown key"
OTHER_DIMENSION = {
    1: {"cov": "cov is a 2-D key: set dim = 2 in [target]", "corr": "corr is a 2-D key: set dim = 2 in [target]"},
    2: {"diagnostics": "estimator diagnostics are not available for 2-D targets yet"},
}
