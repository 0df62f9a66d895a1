"""Tests of scenario files: parsing, resolution, error messages and the JSON Schema."""

from __future__ import annotations

import json
import math
import pickle
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divcore.scenario import (
    Component,
    RunConfig,
    Scenario,
    ScenarioError,
    Start,
    json_schema,
    load_scenario,
    parse_scenario,
)
from divcore.scenario import fields as F

ONE_LINE = re.compile(r"^[^:]+: [^;]+: .+; .+$")

SPEC_EXAMPLE = """\
title = "Forward vs reverse KL"          # required
description = "Why one covers and one seeks."   # optional

[target]                                  # mixture of 1..8 Gaussians
components = [
  { mean = -3.0, std = 0.9, weight = 0.5 },
  { mean =  2.0, std = 0.7, weight = 0.5 },
]                                         # std > 0, weight > 0; weights are normalised

[fit]                                     # defaults for every run; a run may override any of them
family = "gaussian"                       # gaussian | gaussian-fixed-std
parameterization = "mu-sigma"             # natural | mu-sigma | mu-logsigma | mu-tau
start = { mean = 0.0, std = 1.5 }
optimizer = "adam"                        # adam | sgd | momentum
natural_gradient = false                  # precondition by q's Fisher inverse
clip = 5.0                                # max gradient norm after preconditioning; 0 disables
lr = 0.08                                 # >= 0; 0 keeps q fixed
lr_decay = 0.001                          # lr_t = lr / (1 + lr_decay * t)
steps = 500
samples = 64                              # K, Monte Carlo estimators only
seed = 0

[[runs]]                                  # one or more
name = "forward"
divergence = "kl"                         # kl | chi2
direction = "forward"                     # forward: D(p || q); reverse: D(q || p)
estimator = "exact"
"""

FULL = SPEC_EXAMPLE + """
[[runs]]
name = "reverse-mc"
divergence = "kl"
direction = "reverse"
estimator = "reinforce"
baseline = "leave-one-out"
starts = { mean = [-1.0, 1.0], std = [0.5, 1.0, 2.0] }
repeat = 2
lr = 0.01
"""

DEFAULTS = {
    "estimator": "exact",
    "baseline": "none",
    "family": "gaussian",
    "parameterization": "mu-logsigma",
    "optimizer": "adam",
    "natural_gradient": False,
    "clip": 5.0,
    "lr": 0.05,
    "lr_decay": 0.0,
    "steps": 500,
    "samples": 64,
    "seed": 0,
    "repeat": 1,
    "record_particles": True,
}

HEAD = 'title = "t"\n'
TARGET = "[target]\ncomponents = [{ mean = 0.0, std = 1.0, weight = 1.0 }]\n"
RUN = '[[runs]]\nname = "a"\ndivergence = "kl"\ndirection = "reverse"\n'


def make(run: str = "", fit: str = "", head: str = HEAD, target: str = TARGET, runs: str | None = None) -> str:
    body = RUN + run if runs is None else runs
    return head + target + ("[fit]\n" + fit if fit else "") + body


def components(n: int) -> str:
    items = ", ".join("{ mean = 0.0, std = 1.0, weight = 1.0 }" for _ in range(n))
    return f"[target]\ncomponents = [{items}]\n"


# -- valid files ----------------------------------------------------------------


def test_spec_example_parses_with_defaults_and_fit_overrides():
    s = parse_scenario(FULL, "scenes/forward-reverse.toml")
    assert isinstance(s, Scenario)
    assert (s.name, s.title, s.description) == ("forward-reverse", "Forward vs reverse KL", "Why one covers and one seeks.")
    assert s.target.means == (-3.0, 2.0) and s.target.stds == (0.9, 0.7) and s.target.weights == (0.5, 0.5)
    fwd, rev = s.runs
    assert isinstance(fwd, RunConfig)
    assert fwd.parameterization == "mu-sigma" and fwd.lr == 0.08 and fwd.lr_decay == 0.001
    assert fwd.starts == (Start(0.0, 1.5),) and fwd.start_grid is None and fwd.batch_size == 1
    # exact runs do not sample
    assert fwd.samples == 0 and fwd.record_particles is False and not fwd.monte_carlo
    assert rev.lr == 0.01 and rev.baseline == "leave-one-out" and rev.monte_carlo
    assert rev.samples == 64 and rev.record_particles is True
    assert rev.start_grid == ((-1.0, 1.0), (0.5, 1.0, 2.0))
    assert rev.starts == tuple(Start(m, sd) for m in (-1.0, 1.0) for sd in (0.5, 1.0, 2.0))
    assert rev.batch_size == 12


def test_defaults_filled_and_weights_normalised():
    text = make(target="[target]\ncomponents = [{ mean = 1, std = 2, weight = 1 }, { mean = -1, std = 1, weight = 3 }]\n")
    s = parse_scenario(text)
    assert s.description == "" and s.name == "<string>"
    assert s.target.components == (Component(1.0, 2.0, 0.25), Component(-1.0, 1.0, 0.75))
    assert isinstance(s.target.means[0], float)
    run = s.runs[0]
    for key, value in DEFAULTS.items():
        expected = {"samples": 0, "record_particles": False}.get(key, value)
        assert getattr(run, key) == expected, key
    assert run.starts == (Start(0.0, 1.0),)


def test_run_dict_is_json_ready():
    s = parse_scenario(FULL, "x.toml")
    d = s.run_dict(s.runs[1])
    assert set(d) == {"scenario", "target", "run"}
    assert d["target"] == {"means": [-3.0, 2.0], "stds": [0.9, 0.7], "weights": [0.5, 0.5]}
    # alpha only for the alpha-divergence, so other runs' configurations are unchanged by it
    assert set(d["run"]) == {f for f in RunConfig.__dataclass_fields__} - {"alpha"}
    assert d["run"]["start_grid"] == [[-1.0, 1.0], [0.5, 1.0, 2.0]]
    assert json.loads(json.dumps(d, sort_keys=True)) == d


def test_alpha_is_required_by_and_only_allowed_for_the_alpha_divergence():
    run = '[[runs]]\nname = "a"\ndivergence = "alpha"\ndirection = "reverse"\n'
    with pytest.raises(ScenarioError, match=r'alpha: missing required key for divergence "alpha"'):
        parse_scenario(make(runs=run))
    s = parse_scenario(make(runs=run + "alpha = 0.5\n"))
    assert s.runs[0].alpha == 0.5 and s.run_dict(s.runs[0])["run"]["alpha"] == 0.5
    assert s.runs[0].estimator == "exact"
    with pytest.raises(ScenarioError, match=r'alpha applies only to divergence "alpha", not "kl"'):
        parse_scenario(make("alpha = 0.5\n"))
    with pytest.raises(ScenarioError, match=r"alpha must be <= 20"):
        parse_scenario(make(runs=run + "alpha = 25.0\n"))


def test_samples_zero_is_fine_for_exact():
    assert parse_scenario(make("samples = 0\n")).runs[0].samples == 0


def test_inherited_baseline_is_dropped_for_other_estimators():
    text = make(fit='estimator = "reinforce"\nbaseline = "plus-one"\n', run='estimator = "exact"\n')
    assert parse_scenario(text).runs[0].baseline == "none"
    text = make(fit='baseline = "plus-one"\n', run='estimator = "reinforce"\n')
    assert parse_scenario(text).runs[0].baseline == "plus-one"


def test_run_start_kinds_override_fit():
    fit_start = "start = { mean = 1.0, std = 2.0 }\n"
    fit_grid = "starts = { mean = [1.0, 2.0], std = [3.0] }\n"
    run = parse_scenario(make(fit=fit_start, run="starts = { mean = [5.0], std = [1.0, 2.0] }\n")).runs[0]
    assert run.starts == (Start(5.0, 1.0), Start(5.0, 2.0)) and run.start_grid == ((5.0,), (1.0, 2.0))
    run = parse_scenario(make(fit=fit_grid, run="start = { mean = 4.0, std = 0.5 }\n")).runs[0]
    assert run.starts == (Start(4.0, 0.5),) and run.start_grid is None
    run = parse_scenario(make(fit=fit_grid)).runs[0]
    assert run.starts == (Start(1.0, 3.0), Start(2.0, 3.0))


def test_large_sweep_allowed_without_particles():
    text = make('estimator = "reparam"\nsteps = 100000\nsamples = 1000\nrecord_particles = false\n')
    assert parse_scenario(text).runs[0].batch_size * 100000 <= F.MAX_STATES


# -- invalid files ----------------------------------------------------------------

BAD = [
    ('title = "t"\n\n[target\n', "line 3, column", ["Expected"]),
    ("title = 1 2\n", "line 1, column", []),
    (TARGET + RUN, "title", ["missing required key"]),
    ('title = ""\n' + TARGET + RUN, "title", ["empty"]),
    ('title = "  "\n' + TARGET + RUN, "title", ["invalid title"]),
    ("title = 3\n" + TARGET + RUN, "title", ["expected a string", "integer"]),
    (HEAD + RUN, "target", ["missing required key"]),
    (HEAD + "target = 3\n" + RUN, "target", ["expected a table"]),
    (HEAD + TARGET, "runs", ["missing required key"]),
    (HEAD + "runs = []\n" + TARGET, "runs", ["at least 1"]),
    (HEAD + "runs = 3\n" + TARGET, "runs", ["expected an array"]),
    (HEAD + "runs = [3]\n" + TARGET, "runs[0]", ["expected a table"]),
    (make(target="[target]\ncomponents = []\n"), "target.components", ["at least 1"]),
    (make(target=components(9)), "target.components", ["9 items", "8"]),
    (make(target="[target]\n"), "target.components", ["missing required key"]),
    (make(target="[target]\ncomponents = [{ mean = 0.0, std = 1.0 }]\n"), "target.components[0].weight", ["missing"]),
    (make(target="[target]\ncomponents = [{ mean = 0, std = 0, weight = 1 }]\n"), "target.components[0].std", ["std must be > 0"]),
    (make(target="[target]\ncomponents = [{ mean = 0, std = -1.5, weight = 1 }]\n"), "target.components[0].std", ["std must be > 0"]),
    (make(target="[target]\ncomponents = [{ mean = 0, std = 1e-4, weight = 1 }]\n"), "target.components[0].std", [">= 0.001"]),
    (make(target="[target]\ncomponents = [{ mean = 0, std = 1, weight = 1 }, { mean = 0, std = 1, weight = 0 }]\n"), "target.components[1].weight", ["weight must be > 0"]),
    (make(target='[target]\ncomponents = [{ mean = "abc", std = 1, weight = 1 }]\n'), "target.components[0].mean", ["expected a number", '"abc"']),
    (make(target="[target]\ncomponents = [{ mean = true, std = 1, weight = 1 }]\n"), "target.components[0].mean", ["expected a number", "boolean"]),
    (make(target="[target]\ncomponents = [{ mean = nan, std = 1, weight = 1 }]\n"), "target.components[0].mean", ["finite"]),
    (make(target="[target]\ncomponents = [{ mean = 2000, std = 1, weight = 1 }]\n"), "target.components[0].mean", ["<= 1000"]),
    (make(target="[target]\ncomponents = [{ mean = 0, std = 1, weight = 1, wieght = 2 }]\n"), "target.components[0].wieght", ['did you mean "weight"']),
    (make(target=f"[target]\ncomponents = [{{ mean = 1{'0' * 400}, std = 1, weight = 1 }}]\n"), "target.components[0].mean", ["too large"]),
    (make(f"lr = 1{'0' * 400}\n"), "runs[0].lr", ["too large"]),
    (make(f"steps = 1{'0' * 400}\n"), "runs[0].steps", ["<= 1000000"]),
    (make(f"lr = 1{'0' * 5000}\n"), "(file)", ["too many digits"]),
    (make("lr = inf\n"), "runs[0].lr", ["finite", "inf"]),
    (make("lr = -inf\n"), "runs[0].lr", ["finite"]),
    (make(runs='[[runs]]\nname = "a"\ndivergence = "kll"\ndirection = "reverse"\n'), "runs[0].divergence", ['did you mean "kl"', "chi2"]),
    (make(runs='[[runs]]\nname = "a"\ndivergence = "KL"\ndirection = "reverse"\n'), "runs[0].divergence", ['did you mean "kl"']),
    (make(runs='[[runs]]\nname = "a"\ndivergence = "kl"\ndirection = "revers"\n'), "runs[0].direction", ['did you mean "reverse"']),
    (make('estimator = "reparm"\n'), "runs[0].estimator", ['did you mean "reparam"']),
    (make('family = "gausian"\n'), "runs[0].family", ['did you mean "gaussian"']),
    (make('parameterization = "mu-log-sigma"\n'), "runs[0].parameterization", ['did you mean "mu-logsigma"']),
    (make('optimizer = "adamw"\n'), "runs[0].optimizer", ['did you mean "adam"']),
    (make('estimator = "reinforce"\nbaseline = "plusone"\n'), "runs[0].baseline", ['did you mean "plus-one"']),
    (make('estimator = "is"\n'), "runs[0].estimator", ['"exact", "reinforce", "reparam"']),
    (make(runs='[[runs]]\nname = "a"\ndivergence = "chi2"\ndirection = "reverse"\nestimator = "reparam"\n'), "runs[0].estimator", ['"exact", "score"']),
    (make(fit='estimator = "data"\n'), "fit.estimator", ['run "a"', '"exact", "reinforce", "reparam"']),
    (make('estimator = "reparam"\nbaseline = "plus-one"\n'), "runs[0].baseline", ["only", '"reinforce"']),
    (make(fit='estimator = "reparam"\nbaseline = "plus-one"\n'), "fit.baseline", ["only", '"reinforce"']),
    (make('estimator = "reinforce"\nbaseline = "leave-one-out"\nsamples = 1\n'), "runs[0].samples", ["leave-one-out", "2"]),
    (make("steps = 0\n"), "runs[0].steps", ["steps must be >= 1"]),
    (make("steps = 1000000000\n"), "runs[0].steps", ["<= 1000000"]),
    (make("steps = 500.0\n"), "runs[0].steps", ["expected an integer", "float"]),
    (make('steps = "500"\n'), "runs[0].steps", ["expected an integer", "string"]),
    (make('estimator = "reparam"\nsamples = 0\n'), "runs[0].samples", ["samples must be >= 1", "Monte Carlo"]),
    (make('estimator = "reparam"\nsamples = 100001\n'), "runs[0].samples", ["<= 100000"]),
    (make(fit="samples = 0\n", run='estimator = "reparam"\n'), "fit.samples", ["samples must be >= 1", 'run "a"']),
    (make("lr = -0.1\n"), "runs[0].lr", ["lr must be >= 0"]),
    (make(fit="lr = -0.1\n"), "fit.lr", ["lr must be >= 0"]),
    (make("clip = -1\n"), "runs[0].clip", [">= 0"]),
    (make("seed = -1\n"), "runs[0].seed", [">= 0"]),
    (make("repeat = 0\n"), "runs[0].repeat", [">= 1"]),
    (make("natural_gradient = 1\n"), "runs[0].natural_gradient", ["expected a boolean", "integer"]),
    (make('record_particles = "yes"\n'), "runs[0].record_particles", ["expected a boolean"]),
    (make(runs=RUN + RUN), "runs[1].name", ["duplicate", "runs[0]"]),
    (make(runs='[[runs]]\ndivergence = "kl"\ndirection = "reverse"\n'), "runs[0].name", ["missing required key"]),
    (make(runs='[[runs]]\nname = "a"\ndirection = "reverse"\n'), "runs[0].divergence", ["missing required key", "[fit]"]),
    (make(runs='[[runs]]\nname = "a"\ndivergence = "kl"\n'), "runs[0].direction", ["missing required key"]),
    *[
        (make(runs=f'[[runs]]\nname = "{name}"\ndivergence = "kl"\ndirection = "reverse"\n'), "runs[0].name", ["invalid name"])
        for name in ("../x", "Forward", "a b", "-x", "", "a_b")
    ],
    (make(runs=f'[[runs]]\nname = "{"a" * 65}"\ndivergence = "kl"\ndirection = "reverse"\n'), "runs[0].name", ["65", "64"]),
    (make(runs='[[runs]]\nname = 7\ndivergence = "kl"\ndirection = "reverse"\n'), "runs[0].name", ["expected a string"]),
    (make("start = { mean = 0.0, std = 0.0 }\n"), "runs[0].start.std", ["std must be > 0"]),
    (make("start = { mean = 0.0 }\n"), "runs[0].start.std", ["missing required key"]),
    (make("start = 1.0\n"), "runs[0].start", ["expected a table", "float"]),
    (make("starts = { mean = [0.0], std = [1.0, 0, 2.0] }\n"), "runs[0].starts.std[1]", ["std must be > 0"]),
    (make("starts = { mean = [0.0, 1.0, 1e9], std = [1.0] }\n"), "runs[0].starts.mean[2]", ["<= 1000"]),
    (make("starts = { mean = [], std = [1.0] }\n"), "runs[0].starts.mean", ["at least 1"]),
    (make(f"starts = {{ mean = [{', '.join(['0.0'] * 102)}], std = [1.0] }}\n"), "runs[0].starts.mean", ["102", "101"]),
    (make("starts = { mean = [0.0], std = 1.0 }\n"), "runs[0].starts.std", ["expected an array"]),
    (make("start = { mean = 0.0, std = 1.0 }\nstarts = { mean = [0.0], std = [1.0] }\n"), "runs[0].starts", ["both"]),
    (make(fit="start = { mean = 0.0, std = 1.0 }\nstarts = { mean = [0.0], std = [1.0] }\n"), "fit.starts", ["both"]),
    (make("repeat = 100000\nstarts = { mean = [0.0, 1.0], std = [1.0] }\n"), "runs[0]", ["100000", "reduce repeat"]),
    (make("repeat = 100\nsteps = 1000000\n"), "runs[0]", ["50000000", "steps"]),
    (make(f"seed = {2**63 - 1}\nrepeat = 2\n"), "runs[0]", ["seed + repeat - 1"]),
    (make('estimator = "reparam"\nsteps = 100000\nsamples = 1001\n'), "runs[0]", ["record_particles = false"]),
    ("tittle = 'x'\n" + TARGET + RUN, "tittle", ['unknown key "tittle"', 'did you mean "title"', "allowed keys"]),
    ('"odd: key;" = 1\n' + HEAD + TARGET + RUN, "(top level)", ['unknown key "odd: key;"']),
    (make(fit="lrr = 0.1\n"), "fit.lrr", ['did you mean "lr"']),
    (make(fit='name = "x"\n'), "fit.name", ["own name"]),
    (make("estimater = 'is'\n"), "runs[0].estimater", ['did you mean "estimator"']),
    (make("start = { mean = 0.0, std = 1.0, sd = 1 }\n"), "runs[0].start.sd", ["allowed keys: mean, std"]),
    ("title = \"t\"\r\ndescription = \"line\\nbreak\"\nzzz = \"a\\nb\"\n", "zzz", ["unknown key"]),
]


@pytest.mark.parametrize(("text", "path", "words"), BAD)
def test_bad_input_is_one_clear_line(text, path, words):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "scenes/bad.toml")
    err = info.value
    message = str(err)
    assert "\n" not in message and len(message.splitlines()) == 1
    assert ONE_LINE.match(message), message
    assert err.file == "scenes/bad.toml" and path in err.path, message
    assert message == f"{err.file}: {err.path}: {err.what}; {err.allowed}"
    for word in words:
        assert word in message, (word, message)


def test_errors_come_in_file_order():
    text = 'title = ""\n' + make(target=components(9))[len(HEAD):]
    with pytest.raises(ScenarioError, match=r": title: "):
        parse_scenario(text)
    text = make(fit="lr = -1\n", run="steps = 0\n")
    with pytest.raises(ScenarioError, match=r": fit\.lr: "):
        parse_scenario(text)


def test_error_pickles_and_sanitises_newlines():
    err = ScenarioError("f.toml", "title", 'bad "a\nb"\u2028', "x\ry")
    assert len(str(err).splitlines()) == 1 and ONE_LINE.match(str(err))
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.path == "title"


def test_load_scenario_files(tmp_path):
    good = tmp_path / "my-scene.toml"
    good.write_text(make(), encoding="utf-8")
    assert load_scenario(good).name == "my-scene"
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + make().encode())
    assert load_scenario(bom).title == "t"
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "missing.toml")
    assert info.value.path == "(file)" and ONE_LINE.match(str(info.value))
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'title = "t"\ndescription = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match=r"line 2, column 19: .*UTF-8"):
        load_scenario(latin)
    bad_stem = tmp_path / "Bad Name.toml"
    bad_stem.write_text(make())
    with pytest.raises(ScenarioError, match=r"\(file\): .*stem"):
        load_scenario(bad_stem)
    with pytest.raises(ScenarioError, match=r"\(file\)"):
        load_scenario(tmp_path)


def test_deep_nesting_is_a_scenario_error():
    with pytest.raises(ScenarioError):
        parse_scenario("a = " + "[" * 5000)


# -- property tests ---------------------------------------------------------------


def toml_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_str(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def toml_doc(d: dict) -> str:
    return "".join(f"{toml_str(k)} = {toml_value(v)}\n" for k, v in d.items())


finite = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
means = finite(-F.MEAN_LIMIT, F.MEAN_LIMIT)
stds = finite(F.STD_MIN, F.STD_MAX)
component_st = st.fixed_dictionaries({"mean": means, "std": stds, "weight": finite(F.WEIGHT_MIN, F.WEIGHT_MAX)})
start_st = st.fixed_dictionaries({"mean": means, "std": stds})
starts_st = st.fixed_dictionaries({"mean": st.lists(means, min_size=1, max_size=4), "std": st.lists(stds, min_size=1, max_size=4)})
name_st = st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}", fullmatch=True)
# Settings any run or [fit] may give, kept small enough for the size guards.
common_st = {
    "family": st.sampled_from(F.FAMILIES),
    "parameterization": st.sampled_from(F.PARAMETERIZATIONS),
    "optimizer": st.sampled_from(F.OPTIMIZERS),
    "natural_gradient": st.booleans(),
    "clip": finite(0, 100),
    "lr": finite(0, 10),
    "lr_decay": finite(0, 1),
    "steps": st.integers(1, 2000),
    "samples": st.integers(2, 500),
    "seed": st.integers(0, F.MAX_SEED - 4),  # with repeat <= 4, the last seed still fits
    "repeat": st.integers(1, 4),
    "record_particles": st.booleans(),
    "start": start_st,
    "starts": starts_st,
}


@st.composite
def settings_st(draw):
    keys = draw(st.lists(st.sampled_from(sorted(common_st)), unique=True, max_size=6))
    if "start" in keys and "starts" in keys:
        keys.remove("starts")
    return {k: draw(common_st[k]) for k in keys}


@st.composite
def run_st(draw, name):
    run = {"name": name}
    div, direction = draw(st.sampled_from(sorted(F.ESTIMATORS)))
    run.update(divergence=div, direction=direction, estimator=draw(st.sampled_from(F.ESTIMATORS[(div, direction)])))
    if run["estimator"] == "reinforce":
        run["baseline"] = draw(st.sampled_from(F.BASELINES))
    if div == "alpha":
        run["alpha"] = draw(st.floats(-F.ALPHA_LIMIT, F.ALPHA_LIMIT, allow_nan=False))
    run.update(draw(settings_st()))
    return run


@st.composite
def scenario_st(draw):
    doc = {"title": draw(st.text(min_size=1, max_size=20).filter(str.strip))}
    if draw(st.booleans()):
        doc["description"] = draw(st.text(max_size=30))
    doc["target"] = {"components": draw(st.lists(component_st, min_size=1, max_size=F.MAX_COMPONENTS))}
    fit = draw(settings_st())
    if fit:
        doc["fit"] = fit
    names = draw(st.lists(name_st, min_size=1, max_size=3, unique=True))
    doc["runs"] = [draw(run_st(n)) for n in names]
    return doc


def expected_run(run: dict, fit: dict) -> dict:
    def pick(key, default=None):
        return run.get(key, fit.get(key, DEFAULTS.get(key, default)))

    out = {k: pick(k) for k in ("name", "divergence", "direction", *DEFAULTS)}
    for key in ("clip", "lr", "lr_decay"):
        out[key] = float(out[key])
    if out["estimator"] == "exact":
        out["samples"], out["record_particles"] = 0, False
    out["baseline"] = run.get("baseline", "none")
    out["alpha"] = run.get("alpha")
    source = run if ("start" in run or "starts" in run) else fit
    if "starts" in source:
        grid = source["starts"]
        out["starts"] = tuple(Start(m, s) for m in grid["mean"] for s in grid["std"])
        out["start_grid"] = (tuple(grid["mean"]), tuple(grid["std"]))
    else:
        start = source.get("start", {"mean": 0.0, "std": 1.0})
        out["starts"], out["start_grid"] = (Start(start["mean"], start["std"]),), None
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_st())
def test_valid_scenarios_round_trip(doc):
    s = parse_scenario(toml_doc(doc), "scenes/generated.toml")
    assert s.title == doc["title"] and s.description == doc.get("description", "")
    comps = doc["target"]["components"]
    total = math.fsum(c["weight"] for c in comps)
    assert s.target.means == tuple(c["mean"] for c in comps)
    assert s.target.stds == tuple(c["std"] for c in comps)
    assert s.target.weights == tuple(c["weight"] / total for c in comps)
    assert math.isclose(sum(s.target.weights), 1.0)
    assert all(w > 0 for w in s.target.weights)
    for run, parsed in zip(doc["runs"], s.runs, strict=True):
        want = expected_run(run, doc.get("fit", {}))
        assert {k: getattr(parsed, k) for k in want} == want
        json.dumps(s.run_dict(parsed), sort_keys=True, allow_nan=False)


junk_st = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def slots(node, path=()):
    """Every (container path, key) of a nested document."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield path, key
        if isinstance(value, (dict, list)):
            yield from slots(value, path + (key,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_st(), st.data())
def test_mutations_fail_cleanly(doc, data):
    where, key = data.draw(st.sampled_from(list(slots(doc))))
    container = doc
    for step in where:
        container = container[step]
    if isinstance(container, dict) and data.draw(st.booleans()):
        container[data.draw(st.text(min_size=1, max_size=12)) + "x"] = data.draw(junk_st)
    else:
        container[key] = data.draw(junk_st)
    try:
        parse_scenario(toml_doc(doc), "scenes/mutated.toml")
    except ScenarioError as err:
        assert ONE_LINE.match(str(err)), str(err)


KEYS = sorted({"title", "description", "target", "fit", "runs", "components", "mean", "std", "weight", *F.RUN.names})
ENUM_WORDS = sorted({*F.DIVERGENCES, *F.DIRECTIONS, *F.ALL_ESTIMATORS, *F.BASELINES, *F.FAMILIES})
tree_st = st.recursive(
    junk_st | st.sampled_from(ENUM_WORDS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), tree_st, max_size=6))
def test_random_structures_fail_cleanly(doc):
    try:
        parse_scenario(toml_doc(doc), "scenes/random.toml")
    except ScenarioError as err:
        assert ONE_LINE.match(str(err)), str(err)


toml_ish = st.text(alphabet='[]{}="\'.,#\n -_abcdefilmnorstuw0123456789', max_size=80)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=80), toml_ish))
def test_arbitrary_text_only_raises_scenario_error(text):
    try:
        parse_scenario(text)
    except ScenarioError as err:
        assert ONE_LINE.match(str(err)), str(err)


# -- JSON Schema ------------------------------------------------------------------


def walk_pairs(field, node):
    """Yield (field, schema node) for the whole field table."""
    yield field, node
    if field.kind == "table":
        for child in field.fields:
            assert child.name in node["properties"], child.name
            yield from walk_pairs(child, node["properties"][child.name])
    if field.kind == "array":
        yield from walk_pairs(field.items, node["items"])


def test_schema_covers_every_field():
    root = json_schema()
    assert root["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    schema = root["$defs"]["line"]
    assert schema["required"] == ["title", "target", "runs"]
    for field, node in walk_pairs(F.SCENARIO_2D, root["$defs"]["plane"]):
        assert node["description"] == field.doc
    seen = set()
    for field, node in walk_pairs(F.SCENARIO, schema):
        seen.add(field.name)
        assert node["description"] == field.doc
        if field.enum:
            assert node["enum"] == list(field.enum)
        if field.default is not F.MISSING:
            assert node["default"] == field.default
    assert set(F.RUN.names) <= seen and {"mean", "std", "weight", "components"} <= seen
    run = schema["properties"]["runs"]["items"]
    assert set(run["properties"]) == set(F.RUN.names) and run["required"] == ["name"]
    assert set(schema["properties"]["fit"]["properties"]) == set(F.RUN.names) - {"name"}
    assert run["properties"]["name"]["pattern"] == "^[a-z0-9][a-z0-9-]*$"
    assert any(
        rule.get("then", {}).get("properties", {}).get("estimator") == {"enum": ["exact", "score"]}
        for rule in run["allOf"]
    )


def test_schema_objects_are_closed_and_serialisable():
    schema = json_schema()
    assert json.loads(json.dumps(schema)) == schema

    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for value in node.values():
                yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    found = list(objects(schema["$defs"]))  # the root only dispatches on the dimension
    assert len(found) >= 12
    assert all(node["additionalProperties"] is False for node in found)


def test_schema_is_valid_and_agrees_on_examples():
    jsonschema = pytest.importorskip("jsonschema")
    import tomllib

    schema = json_schema()
    validator = jsonschema.Draft202012Validator
    validator.check_schema(schema)
    for text in (SPEC_EXAMPLE, FULL, make()):
        validator(schema).validate(tomllib.loads(text))
    for text in (make('estimator = "is"\n'), make("tittle = 1\n"), make("steps = 0\n"), make('estimator = "reparam"\nsamples = 0\n')):
        assert not validator(schema).is_valid(tomllib.loads(text))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_st())
def test_schema_accepts_every_valid_scenario(doc):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(json_schema()).validate(doc)


# -- [media] ----------------------------------------------------------------------


def test_media_defaults_to_the_first_run_and_four_snapshots():
    s = parse_scenario(FULL, "x.toml")
    assert s.media.headline == "forward" and s.media.snapshots == (0.0, 0.1, 0.5, 1.0)
    assert s.media.video_seconds == 12.0


def test_media_keys_are_read():
    s = parse_scenario(FULL + '\n[media]\nheadline = "reverse-mc"\nsnapshots = [0, 0.25, 1]\n', "x.toml")
    assert s.media.headline == "reverse-mc" and s.media.snapshots == (0.0, 0.25, 1.0)
    assert "media" not in json.dumps(s.run_dict(s.runs[0]))  # drawing choices never touch the data


@pytest.mark.parametrize(("media", "path", "words"), [
    ('headline = "revers"', "media.headline", ['no run is named "revers"', 'did you mean "reverse-mc"']),
    ("snapshots = [0, 1.5]", "media.snapshots[1]", ["<= 1"]),
    ("snapshots = []", "media.snapshots", ["at least 1"]),
    ("video_seconds = 1", "media.video_seconds", [">= 2"]),
    ("headlines = 'x'", "media.headlines", ['did you mean "headline"']),
])
def test_bad_media_is_one_clear_line(media, path, words):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(FULL + f"\n[media]\n{media}\n", "x.toml")
    assert path in info.value.path and ONE_LINE.match(str(info.value))
    for word in words:
        assert word in str(info.value)


def test_schema_describes_media():
    media = json_schema()["$defs"]["line"]["properties"]["media"]
    assert media["additionalProperties"] is False
    assert set(media["properties"]) == {"headline", "snapshots", "video_seconds"}


def test_diagnostics_table_defaults_and_limits():
    # a TOML table written after [[runs]] would belong to the last run: it goes before
    text = HEAD + TARGET + '[diagnostics]\nq = { mean = 0.5, std = 0.8 }\n' + RUN
    d = parse_scenario(text).diagnostics
    assert (d.mean, d.std, d.samples, d.repeats, d.seed) == (0.5, 0.8, F.DEFAULT_DIAGNOSTIC_SAMPLES, 2000, 0)
    assert parse_scenario(make()).diagnostics is None
    with pytest.raises(ScenarioError, match=r"diagnostics.repeats: repeats x sum\(samples\)"):
        parse_scenario(HEAD + TARGET + '[diagnostics]\nq = { mean = 0.5, std = 0.8 }\nrepeats = 100000\n'
                       'samples = [1024]\n' + RUN)
    with pytest.raises(ScenarioError, match=r"diagnostics.q: missing required key"):
        parse_scenario(HEAD + TARGET + '[diagnostics]\nrepeats = 100\n' + RUN)
