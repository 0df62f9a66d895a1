"""The registries are the one source of names: every entry goes through a
scenario file, a run, a figure, a video layout and a page, and no reader ever
sees a raw key."""

import itertools
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from divcore import runner
from divcore.core import divergences, estimators, family, optimizers, parameterizations
from divcore.core.bivariate.gaussian import FAMILIES_2D
from divcore.core.bivariate.parameterizations import PARAMETERIZATIONS_2D
from divcore.core.registry import Registry
from divcore.render import labels
from divcore.render.view import RunView
from divcore.scenario import json_schema, parse_scenario
from divcore.scenario import fields as F

ROOT = Path(__file__).resolve().parents[1]

# every registry, and the modules allowed to spell its keys out
# (the modules of core/bivariate are the plane's own registries and implementations)
PLANE = "divcore/core/bivariate/"
REGISTRIES = {
    "divergence": (divergences.DIVERGENCES, {"divcore/core/divergences.py", "divcore/core/estimators.py",
                                             PLANE + "divergences.py"}),
    "direction": (divergences.DIRECTIONS, {"divcore/core/divergences.py", "divcore/core/estimators.py",
                                           PLANE + "divergences.py"}),
    "estimator": (estimators.ESTIMATORS, {"divcore/core/estimators.py"}),
    "baseline": (estimators.BASELINE.choices, {"divcore/core/baselines.py"}),
    "family": (family.FAMILIES, {"divcore/core/family.py", PLANE + "gaussian.py"}),
    "parameterization": (parameterizations.PARAMETERIZATIONS, {"divcore/core/parameterizations.py",
                                                               PLANE + "parameterizations.py"}),
    "optimizer": (optimizers.OPTIMIZERS, {"divcore/core/optimizers.py"}),
    "family (2-D)": (FAMILIES_2D, {"divcore/core/family.py", PLANE + "gaussian.py"}),
    "parameterization (2-D)": (PARAMETERIZATIONS_2D, {"divcore/core/parameterizations.py",
                                                      PLANE + "parameterizations.py"}),
}
# keys that are also ordinary names elsewhere: a run's `alpha` key, the build's
# "data" stage, matplotlib's "none", the diagnostics' "exact" gradients
HOMONYMS = {"alpha", "data", "none", "exact"}


def all_labels() -> list[str]:
    out = []
    for reg, _ in REGISTRIES.values():
        for entry in reg.values():
            out += [entry.label] + [getattr(entry, a) for a in ("long_label",) if hasattr(entry, a)]
    return out


def raw_keys() -> set[str]:
    """Keys a reader must never see: those no label spells (a label may be its
    key, as "momentum" or "forward" are)."""
    texts = all_labels()
    return {k for reg, _ in REGISTRIES.values() for k in reg
            if not any(_token(k).search(t) for t in texts)}


def _token(key: str):
    return re.compile(rf"(?<![\w-]){re.escape(key)}(?![\w-])")


def raw_in(text: str) -> list[str]:
    return sorted(k for k in raw_keys() if _token(k).search(text))


def test_the_checker_finds_raw_keys_and_passes_labels():
    assert raw_in("adam, lr 0.02, mu-logsigma") == ["adam", "mu-logsigma"]
    assert raw_in("score, K = 8") == [] or "score" in raw_keys()
    assert raw_in("reinforce: KL(q‖p)") == ["reinforce"]
    assert raw_in("REINFORCE (score function), leave-one-out baseline, K = 8") == []
    assert raw_in("Adam, lr 0.05, in (μ, log σ)") == []
    assert {"reinforce", "reparam", "mu-logsigma", "mu-sigma", "mu-tau", "adam", "sgd", "chi2", "kl",
            "gaussian-fixed-std", "plus-one"} <= raw_keys()


def test_registry_lookup_names_the_allowed_keys():
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'; allowed: adam, sgd, momentum"):
        optimizers.OPTIMIZERS["rmsprop"]
    with pytest.raises(ValueError, match="registered twice"):
        Registry("thing", [optimizers.OPTIMIZERS["adam"]] * 2)


@pytest.mark.parametrize("what", sorted(REGISTRIES))
def test_keys_are_spelled_out_only_in_their_registry(what):
    """The `git grep` of the issue: outside its registry module no source file
    (Python, the page script, the templates) spells a key as a string literal."""
    reg, homes = REGISTRIES[what]
    sources = [p for p in (ROOT / "divcore").rglob("*.py")] + list((ROOT / "site").rglob("*.js")) \
        + list((ROOT / "site").rglob("*.html"))
    found = []
    for key in set(reg) - HOMONYMS:
        literal = re.compile(r"""(["'])%s\1""" % re.escape(key))
        for path in sources:
            rel = str(path.relative_to(ROOT))
            if rel not in homes and literal.search(path.read_text(encoding="utf-8")):
                found.append(f"{key} in {rel}")
    assert not found


def test_schema_and_field_table_list_every_entry():
    schema = json_schema()
    run = schema["$defs"]["line"]["properties"]["runs"]["items"]["properties"]
    for field, reg in (("divergence", divergences.DIVERGENCES), ("direction", divergences.DIRECTIONS),
                       ("estimator", estimators.ESTIMATORS), ("family", family.FAMILIES),
                       ("parameterization", parameterizations.PARAMETERIZATIONS),
                       ("optimizer", optimizers.OPTIMIZERS), ("baseline", estimators.BASELINE.choices)):
        assert run[field]["enum"] == list(reg.keys())
    for (div, direction), valid in F.ESTIMATORS.items():
        assert set(valid) == {e for e in estimators.ESTIMATORS if (div, direction) in estimators.ESTIMATORS[e].methods}


def test_the_readme_estimator_table_matches_the_registry():
    """README's table of estimators per divergence and direction, with their
    labels, is the registry's."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = "| divergence | direction | estimators |\n|---|---|---|\n"
    rows = text[text.index(head) + len(head):].split("\n\n")[0].splitlines()
    table = {}
    for row in rows:
        div, direction, cell = (c.strip() for c in row.strip("|").split("|"))
        table[div.strip("`"), direction] = [tuple(part.strip().split(" ", 1)) for part in cell.split(";")]
    expected = {pair: [(f"`{k}`", estimators.ESTIMATORS[k].long_label_for(*pair)) for k in F.ESTIMATORS[pair]]
                for pair in divergences.pairs()}
    assert table == expected


# ---------------------------------------------------------------- every entry, end to end


def _runs() -> list[dict]:
    """One run per (divergence, direction, estimator, option choice), then one
    per parameterization, optimizer and family."""
    runs = []
    for div, direction in divergences.pairs():
        for name in estimators.for_pair(div, direction):
            est = estimators.ESTIMATORS[name]
            for combo in itertools.product(*(o.choices.values() for o in est.options)):
                run = {"divergence": div, "direction": direction, "estimator": name}
                run.update({o.key: c.key for o, c in zip(est.options, combo)})
                if divergences.DIVERGENCES[div].has_alpha:
                    run["alpha"] = 0.5
                runs.append(run)
    base = {"divergence": "kl", "direction": "reverse"}
    runs += [{**base, "parameterization": k, "natural_gradient": True} for k in parameterizations.PARAMETERIZATIONS]
    runs += [{**base, "optimizer": k, "lr_decay": 0.01} for k in optimizers.OPTIMIZERS]
    runs += [{**base, "family": k} for k in family.FAMILIES]
    return [{"name": f"r{i}", **r} for i, r in enumerate(runs)]


def _toml(runs: list[dict]) -> str:
    def value(v):
        return ("true" if v else "false") if isinstance(v, bool) else f'"{v}"' if isinstance(v, str) else repr(v)

    text = ['title = "Every registry entry"',
            "[target]",
            "components = [{ mean = -2.0, std = 0.8, weight = 0.6 }, { mean = 1.5, std = 0.6, weight = 0.4 }]",
            "[fit]", "start = { mean = 0.5, std = 0.9 }", "steps = 6", "samples = 4", "lr = 0.05",
            "[diagnostics]", "q = { mean = 0.0, std = 1.2 }", "samples = [2, 4]", "repeats = 20"]
    for r in runs:
        text.append("[[runs]]")
        text += [f"{k} = {value(v)}" for k, v in r.items()]
    return "\n".join(text) + "\n"


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    scn = parse_scenario(_toml(_runs()), "every-entry.toml")
    views = []
    for run in scn.runs:
        record = runner.run(scn.target, run)
        record["config"] = scn.run_dict(run)
        views.append(RunView(record))
    return scn, views


def test_every_entry_validates_and_runs(walked):
    scn, views = walked
    assert len(scn.runs) == len(_runs())
    for v in views:
        assert np.isfinite(v.record["mean"]).all() and np.isfinite(v.record["divergence"][:, 0]).all()
        assert v.record["mean"][0, -1] != v.record["mean"][0, 0], v.name  # q moved


def test_figures_name_every_entry_for_readers(walked):
    import matplotlib.pyplot as plt

    from divcore.render import figures

    scn, views = walked
    texts = []
    for i in range(0, len(views), 6):
        fig = figures.summary(scn.title, views[i : i + 6])
        texts += [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        plt.close(fig)
    titles = [labels.run_title(v.run) for v in views]
    assert all(t in texts for t in titles)
    bad = {t: raw_in(t) for t in texts if raw_in(t)}
    assert not bad


def test_video_layout_names_every_entry_for_readers(walked):
    from manim import ValueTracker

    from divcore.video.scene import RunPanels, title_lines

    scn, views = walked
    texts = list(title_lines(views))
    times = np.linspace(0.0, 1.0, views[0].steps + 1)
    for v in views:
        panels = RunPanels(v, 6.0, 2.5, times, ValueTracker(0.0))
        panels.update_to(v.steps)
        texts += [panels.label.original_text, panels.readout.text]
        texts += [t.original_text for t in panels.axis_names]
    bad = {t: raw_in(t) for t in texts if raw_in(t)}
    assert not bad


def test_pages_name_every_entry_for_readers(walked):

    from divcore.core import diagnostics
    from divcore.site import pages, payload

    scn, views = walked
    ctx = pages.scenario_context(scn, {})
    texts = [r[k] for r in ctx["runs"] for k in ("formula", "estimator", "optimizer", "coordinates")]
    cases = diagnostics.cases([scn.run_dict(r)["run"] for r in scn.runs])
    texts += [labels.estimator_long(case) for case in cases]
    data = payload.scenario_payload(scn.name, scn.title, views, {})
    texts += [r["label"] for r in data["runs"]] + [a for r in data["runs"] for a in r["axes"]]
    bad = {t: raw_in(t) for t in texts if raw_in(t)}
    assert not bad
    # every estimator of the registry is in the runs table under its reader's label
    shown = {r["estimator"] for r in ctx["runs"]}
    for est in estimators.ESTIMATORS.values():
        assert any(cell.startswith(est.long_label_for(*pair)) for cell in shown for pair in est.methods), est.key
