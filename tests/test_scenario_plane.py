"""Scenario files with dim = 2: the SPEC's example, resolution of covariances and
starts, one-line errors for every bad 2-D input, and agreement with the schema."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divcore.scenario import Component2, ScenarioError, Start2, json_schema, parse_scenario
from divcore.scenario import fields as F
from test_scenario import ONE_LINE, toml_doc

SPEC_2D = """\
title = "Two dimensions"

[target]
dim = 2
components = [
  { mean = [-2.0, 0.0], cov = [[1.0, 0.6], [0.6, 1.0]], weight = 0.5 },
  { mean = [ 2.0, 1.0], std = [0.7, 1.2], corr = -0.3,   weight = 0.5 },
]

[fit]
family = "gaussian"
parameterization = "mean-logcholesky"
start = { mean = [0.0, 0.0], std = [1.5, 1.5], corr = 0.0 }

[[runs]]
name = "reverse"
divergence = "kl"
direction = "reverse"
"""


def plane(run: str = 'name = "r"\ndivergence = "kl"\ndirection = "reverse"\n', fit: str = "",
          components: str | None = None, extra: str = "") -> str:
    components = components or '{ mean = [0.0, 0.0], std = [1.0, 2.0], weight = 1.0 }'
    return (f'title = "t"\n{extra}[target]\ndim = 2\ncomponents = [{components}]\n\n[fit]\n{fit}\n'
            f'[[runs]]\n{run}')


def test_only_the_correlation_a_run_uses_is_checked_against_its_family():
    """[fit] start is correlated, but the mean-field run's grid brings its own covariance."""
    run = ('name = "g"\ndivergence = "kl"\ndirection = "reverse"\nfamily = "gaussian-diag"\n'
           'starts = { mean = [[0.0, 0.0]], std = [1.0, 2.0] }\n')
    s = parse_scenario(plane(run, fit="start = { mean = [0.0, 0.0], std = [0.5, 0.5], corr = 0.5 }\n"))
    assert s.runs[0].starts == (Start2((0.0, 0.0), (1.0, 2.0), 0.0),)


def test_the_spec_example_resolves_covariances_and_starts():
    s = parse_scenario(SPEC_2D, "bishop.toml")
    assert s.target.dim == 2
    c0, c1 = s.target.components
    assert c0 == Component2((-2.0, 0.0), ((1.0, 0.6), (0.6, 1.0)), 0.5)
    assert np.allclose(c1.cov, [[0.49, -0.3 * 0.7 * 1.2], [-0.3 * 0.7 * 1.2, 1.44]])
    run = s.runs[0]
    assert run.starts == (Start2((0.0, 0.0), (1.5, 1.5), 0.0),) and run.family == "gaussian"
    assert s.run_dict(run)["target"]["dim"] == 2
    assert run.parameterization == "mean-logcholesky"


def test_a_grid_of_starting_means_takes_the_runs_start_covariance():
    run = ('name = "g"\ndivergence = "kl"\ndirection = "reverse"\n'
           'starts = { mean = [[0.0, 0.0], [1.0, -1.0], [2.0, 2.0]] }\n')
    s = parse_scenario(plane(run, fit="start = { mean = [9.0, 9.0], std = [0.5, 2.0], corr = 0.25 }\n"))
    r = s.runs[0]
    assert [st.mean for st in r.starts] == [(0.0, 0.0), (1.0, -1.0), (2.0, 2.0)]
    assert all(st.std == (0.5, 2.0) and st.corr == 0.25 for st in r.starts)
    assert r.start_grid == (((0.0, 0.0), (1.0, -1.0), (2.0, 2.0)),) and r.batch_size == 3
    own = run.replace("] }", "], std = [1.0, 1.0] }")
    assert parse_scenario(plane(own)).runs[0].starts[0] == Start2((0.0, 0.0), (1.0, 1.0), 0.0)


@pytest.mark.parametrize(("text", "path", "words"), [
    (plane(components="{ mean = [0.0, 0.0], cov = [[1.0, 0.5], [0.4, 1.0]], weight = 1.0 }"),
     "target.components[0].cov", ["not symmetric"]),
    (plane(components="{ mean = [0.0, 0.0], cov = [[1.0, 2.0], [2.0, 1.0]], weight = 1.0 }"),
     "target.components[0].cov", ["not positive definite"]),
    (plane(components="{ mean = 0.0, std = [1.0, 1.0], weight = 1.0 }"),
     "target.components[0].mean", ["expected an array", "[x, y]", "dim = 2"]),
    (plane(components="{ mean = [0.0, 0.0, 1.0], std = [1.0, 1.0], weight = 1.0 }"),
     "target.components[0].mean", ["3 items, more than 2"]),
    (plane(components="{ mean = [0.0, 0.0], std = [1.0, 1.0], corr = 1.0, weight = 1.0 }"),
     "target.components[0].corr", ["must be < 1", "strictly between -1 and 1"]),
    (plane(components="{ mean = [0.0, 0.0], std = [1.0, 1.0], corr = -1.5, weight = 1.0 }"),
     "target.components[0].corr", ["must be > -1"]),
    (plane(components="{ mean = [0.0, 0.0], weight = 1.0 }"),
     "target.components[0]", ["neither cov nor std"]),
    (plane(components="{ mean = [0.0, 0.0], std = [1.0, 1.0], cov = [[1.0, 0.0], [0.0, 1.0]], weight = 1.0 }"),
     "target.components[0].std", ["both given"]),
    (plane(components="{ mean = [0.0, 0.0], cov = [[1.0, 0.0], [0.0, 1.0]], corr = 0.5, weight = 1.0 }"),
     "target.components[0].corr", ["goes with std"]),
    (plane(components="{ mean = [0.0, 0.0], std = [0.003157946926401185, 0.0012593422698076824], "
                      "corr = 0.9999999999999999, weight = 1.0 }"),
     "target.components[0].corr", ["degenerate", "|corr| further from 1"]),
    (plane(fit="start = { mean = [0.0, 0.0], std = [1.0, 1.0], corr = 0.99999999999999 }\n"),
     "fit.start.corr", ["degenerate"]),
    (plane('name = "r"\ndivergence = "kl"\ndirection = "reverse"\nstarts = { mean = [[0.0, 0.0]], corr = 0.5 }\n'),
     "runs[0].starts.corr", ["without std"]),
    (plane(fit='family = "gaussian-fixed-std"\n'), "fit.family", ['unknown family "gaussian-fixed-std"',
                                                                 '"gaussian-diag"', "dim = 2"]),
    (plane(fit='parameterization = "mu-sigma"\n'), "fit.parameterization", ['"mean-logcholesky"']),
    (plane(fit="start = { mean = 0.0, std = 1.0 }\n"), "fit.start.mean", ["expected an array"]),
    (plane(fit='family = "gaussian-diag"\nstart = { mean = [0.0, 0.0], std = [1.0, 1.0], corr = 0.3 }\n'),
     "fit.start.corr", ["mean-field", "corr = 0"]),
    (plane().replace("dim = 2", "dim = 3"), "target.dim", ["must be <= 2", "1 or 2"]),
    (plane(extra="[basins]\nmean = [0.0, 1.0]\n"), "basins.mean", ['unknown key "mean"', "size, x, y"]),
    (plane(extra="[basins]\nx = [1.0, 1.0]\n"), "basins.x", ["empty"]),
    (plane(extra="[basins]\nsize = 201\nsteps = 2000\n"), "basins.size", ["exceeds", "K = 8192"]),
    ('title = "t"\n[target]\ncomponents = [{ mean = 0.0, std = 1.0, cov = 2.0, weight = 1.0 }]\n'
     '[[runs]]\nname = "r"\ndivergence = "kl"\ndirection = "reverse"\n',
     "target.components[0].cov", ['unknown key "cov"', "set dim = 2 in [target]"]),
])
def test_bad_2d_input_is_one_clear_line(text, path, words):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "x.toml")
    msg = str(err.value)
    assert ONE_LINE.match(msg), msg
    assert err.value.path == path, msg
    for w in words:
        assert w in msg, msg


finite = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731
point = st.lists(finite(-F.MEAN_LIMIT, F.MEAN_LIMIT), min_size=2, max_size=2)
sds = st.lists(finite(F.STD_MIN, 30.0), min_size=2, max_size=2)
corr = finite(-0.99, 0.99)


@st.composite
def component_2d(draw):
    c = {"mean": draw(point), "weight": draw(finite(F.WEIGHT_MIN, F.WEIGHT_MAX))}
    sx, sy = draw(sds)
    r = draw(corr)
    if draw(st.booleans()):
        c["cov"] = [[sx * sx, r * sx * sy], [r * sx * sy, sy * sy]]
    else:
        c["std"], c["corr"] = [sx, sy], r
    return c


@st.composite
def plane_doc(draw):
    family = draw(st.sampled_from(F.FAMILIES_2D))
    start = {"mean": draw(point), "std": draw(sds)}
    if family == "gaussian":
        start["corr"] = draw(corr)
    run = {"name": "r", "divergence": "kl", "direction": draw(st.sampled_from(["forward", "reverse"])),
           "family": family, "parameterization": draw(st.sampled_from(F.PARAMETERIZATIONS_2D)), "start": start}
    return {"title": "t", "target": {"dim": 2, "components": draw(st.lists(component_2d(), min_size=1, max_size=4))},
            "runs": [run]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plane_doc())
def test_valid_2d_scenarios_parse_and_the_schema_accepts_them(doc):
    """Positive definiteness can fail by rounding for |corr| near 1; such files are
    rejected with the covariance's error, never anything else."""
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator(json_schema()).validate(doc)
    try:
        s = parse_scenario(toml_doc(doc), "plane.toml")
    except ScenarioError as err:
        assert (err.path.endswith(".cov") and "positive definite" in err.what) or (
            err.path.endswith(".corr") and "degenerate" in err.what)
        return
    for comp, given_ in zip(s.target.components, doc["target"]["components"]):
        assert list(comp.mean) == given_["mean"]
        if "cov" in given_:
            assert [list(r) for r in comp.cov] == given_["cov"]
        else:
            (sx, sy), r = given_["std"], given_["corr"]
            assert math.isclose(comp.cov[0][1], r * sx * sy) and comp.cov[1][1] == sy * sy
        assert comp.cov[0][1] == comp.cov[1][0]
    assert math.isclose(sum(c.weight for c in s.target.components), 1.0)
    start = s.runs[0].starts[0]
    assert list(start.mean) == doc["runs"][0]["start"]["mean"] and list(start.std) == doc["runs"][0]["start"]["std"]


def test_the_schema_rejects_1d_keys_in_2d_files_and_the_reverse():
    jsonschema = pytest.importorskip("jsonschema")
    v = jsonschema.Draft202012Validator(json_schema())
    doc = tomllib.loads(SPEC_2D)
    assert v.is_valid(doc)
    doc["fit"]["start"]["mean"] = 0.0
    assert not v.is_valid(doc)
    line = tomllib.loads(SPEC_2D.replace("dim = 2\n", ""))
    assert not v.is_valid(line)


def test_divfit_run_records_a_2d_scenario(tmp_path, capsys):
    from divcore.cli import main

    path = tmp_path / "plane.toml"
    path.write_text(SPEC_2D.replace('direction = "reverse"\n', 'direction = "reverse"\nestimator = "reparam"\n'
                                    'samples = 4\nsteps = 20\n'))
    assert main(["check", str(path)]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    written = capsys.readouterr().out.split()
    assert written == [str(tmp_path / "out" / "plane" / "reverse.npz")]
    rec = np.load(written[0])
    assert rec["cov"].shape == (1, 21, 2, 2) and rec["particles"].shape == (1, 20, 4, 2)


def test_a_2d_basin_map_ranges_over_starting_means_around_p_by_default():
    scn = parse_scenario(plane(extra="[basins]\nsize = 5\nsteps = 10\n",
                               run='name = "r"\ndivergence = "kl"\ndirection = "reverse"\nestimator = "reparam"\n'),
                         "x.toml")
    b = scn.basins
    assert (b.size, b.steps, b.x, b.y) == (5, 10, (-3.0, 3.0), (-6.0, 6.0))  # the component's mean +- 3 sd
    assert scn.basins.to_dict()["x"] == [-3.0, 3.0]
