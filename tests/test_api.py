"""divfit from Python: `divcore.run` returns what `divfit run` records, draws
without touching the caller's matplotlib, and shows itself in Jupyter as a
self-contained scrubber (tested in a real kernel and a real browser)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import divcore
from divcore import pipeline, trajectory
from divcore.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "forward-reverse-kl.toml"
PLANE = ROOT / "scenes" / "bishop-mean-field.toml"


@pytest.fixture(scope="module")
def result():
    return divcore.run(SCENE, steps=80)


def test_the_records_are_the_ones_divfit_run_writes(tmp_path):
    written = pipeline.run_files([SCENE], tmp_path)
    result = divcore.run(SCENE)
    assert list(result) == [p.stem for p in written] == ["forward", "reverse"]
    for path in written:
        on_disk = trajectory.load(path)
        mine = result[path.stem]
        assert mine.keys() == on_disk.keys()
        assert mine["config"] == on_disk["config"]
        for key in on_disk.keys() - {"config"}:
            assert mine[key].dtype == on_disk[key].dtype
            np.testing.assert_array_equal(mine[key], on_disk[key])


def test_a_toml_string_and_a_dict_run_the_same_scenario(result):
    text = SCENE.read_text()
    from_text = divcore.run(text, steps=80)
    from_dict = divcore.run(tomllib.loads(text), steps=80)
    for other in (from_text, from_dict):
        assert other.scenario.name == "scenario"  # no file, no file stem
        for name in result:
            np.testing.assert_array_equal(other[name]["mean"], result[name]["mean"])
            assert other[name]["config"]["run"] == result[name]["config"]["run"]


def test_overrides_set_every_run_and_are_validated_like_the_file():
    r = divcore.run(SCENE, steps=12, lr=0.01, start={"mean": 0.5, "std": 2.0})
    for name in r:
        assert r[name]["mean"].shape == (1, 13)  # the file's starts grid gave way to one start
        assert r[name]["config"]["run"]["lr"] == 0.01
        assert (r[name]["mean"][0, 0], r[name]["std"][0, 0]) == (0.5, 2.0)
    with pytest.raises(ScenarioError, match=r"^.*forward-reverse-kl.toml: runs\[0\].steps: steps must be >= 1"):
        divcore.run(SCENE, steps=0)
    with pytest.raises(ScenarioError, match=r"title: 'title' is not a run key that can be overridden; keys: divergence, alpha"):
        divcore.run(SCENE, title="x")
    with pytest.raises(ScenarioError, match=r"nope.toml: \(file\): cannot read the file"):
        divcore.run(ROOT / "nope.toml")
    with pytest.raises(TypeError, match="a scenario is a path, a TOML string or a dict, not int"):
        divcore.run(3)
    with pytest.raises(KeyError, match="no run named 'fwd'; runs: forward, reverse"):
        divcore.run(SCENE, steps=3)["fwd"]


def test_figures_leave_the_callers_matplotlib_alone(tmp_path):
    """The old figure modules called matplotlib.use("Agg") on import: a
    notebook's inline backend was gone. Now neither the backend, nor pyplot's
    figures, nor the rcParams change."""
    code = f"""
import matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
plt.figure()
before = dict(matplotlib.rcParams)
import divcore
r = divcore.run({str(SCENE)!r}, steps=20)
for kind in ("summary", "snapshots", "distribution", "landscape", "history"):
    fig = r.figure(kind, font="cm", size=11)
    fig.savefig({str(tmp_path)!r} + "/" + kind + ".pdf")
r.gif({str(tmp_path / "a.gif")!r})
after = dict(matplotlib.rcParams)
changed = sorted(k for k in before if str(before[k]) != str(after[k]))
print(matplotlib.get_backend(), plt.get_fignums(), changed)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "svg [1] []"


def _sources(html: str) -> list[str]:
    return re.findall(r'(?:src|href|data-payload)="([^"]*)"', html)


def test_the_notebook_scrubber_is_self_contained(result):
    page = result.html()
    assert _sources(page) and all(s.startswith("data:") for s in _sources(page))
    frame = result._repr_html_()
    assert frame.startswith("<iframe ") and 'srcdoc="' in frame and "<script" not in frame  # escaped inside


def test_the_notebook_scrubber_plays_in_a_browser(result, browser, tmp_path):
    """The iframe as a notebook shows it: the runs are drawn, the slider moves
    them, the frame grows to fit, and nothing is fetched from anywhere."""
    for res, runs in ((result, ["forward", "reverse"]), (divcore.run(PLANE, steps=40), None)):
        page_file = tmp_path / f"{res.scenario.name}.html"
        page_file.write_text(f"<!doctype html><title>notebook</title><p>out[1]:</p>{res._repr_html_()}")
        page = browser.new_page()
        errors, requests = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        frame = page.frame_locator("iframe")
        frame.locator("section.scrubber.ready").wait_for()
        assert frame.locator(".sc-run-name").all_inner_texts() == (runs or list(res))
        slider = frame.locator(".sc-slider")
        slider.fill(slider.get_attribute("max"))
        last = res.view(list(res)[0]).steps
        assert frame.locator("section.scrubber").get_attribute("data-step") == str(last)
        height = page.evaluate("document.querySelector('iframe').getBoundingClientRect().height")
        inner = frame.locator("body").evaluate("b => b.ownerDocument.documentElement.scrollHeight")
        assert abs(height - inner) <= 2
        assert errors == []
        assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
        page.close()


def test_gif_and_video_on_request(result, tmp_path):
    gif = result.gif(tmp_path / "fr.gif")
    assert gif.path.read_bytes()[:6] == b"GIF89a"
    assert gif._repr_html_().startswith('<img src="data:image/gif;base64,')
    from divcore.video import unavailable

    if unavailable():
        pytest.skip(unavailable())
    video = result.video(tmp_path / "talk" / "fr.mp4")
    assert video.path.read_bytes()[4:8] == b"ftyp"
    assert (tmp_path / "talk" / "fr-poster.png").is_file()
    assert sorted(p.name for p in (tmp_path / "talk").iterdir()) == ["fr-poster.png", "fr.chapters.vtt", "fr.mp4",
                                                                      "fr.vtt"]
    assert (tmp_path / "talk" / "fr.vtt").read_text().startswith("WEBVTT\n")
    with pytest.raises(ValueError, match="unknown quality 'ultra'"):
        result.video(tmp_path / "x.mp4", quality="ultra")


def test_a_notebook_runs_a_scenario_shows_the_scrubber_and_saves_a_serif_figure(tmp_path):
    """Executed by nbclient in a real IPython kernel, as Jupyter would."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import divcore\nresult = divcore.run(%r, steps=100)\nresult" % str(SCENE),
        "fig = result.figure('distribution', run='reverse', width='3.25in', font='serif', size=8)\n"
        "fig.savefig('reverse.pdf')\nfig",
        "import matplotlib\nprint(matplotlib.get_backend())",
        "result.gif('fr.gif')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [cell.outputs for cell in nb.cells]
    assert not [o for out in outputs for o in out if o.output_type == "error"]
    scrubber = outputs[0][0]["data"]["text/html"]
    assert scrubber.startswith("<iframe ") and "srcdoc=" in scrubber
    assert "image/png" in outputs[1][0]["data"]  # the figure shows inline too
    assert "inline" in outputs[2][0]["text"]  # the notebook's backend is still its own
    assert outputs[3][0]["data"]["text/html"].startswith('<img src="data:image/gif;base64,')
    pdf = (tmp_path / "reverse.pdf").read_bytes()
    width = [float(v) for v in re.search(rb"/MediaBox \[ *([^\]]*)\]", pdf).group(1).split()][2]
    assert width == pytest.approx(3.25 * 72)
    assert b"STIXGeneral" in pdf
    assert json.loads(json.dumps(nb))  # a notebook one can save
