"""The `divfit` command line: exit codes, one-line errors, nothing written on failure."""

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from divcore import trajectory
from divcore.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENES = sorted((ROOT / "scenes").glob("*.toml"))

SMALL = """
title = "Small"
[target]
components = [{ mean = -2.0, std = 0.8, weight = 1.0 }, { mean = 2.0, std = 0.8, weight = 1.0 }]
[fit]
steps = 30
[media]
video_seconds = 2
snapshots = [1.0]
[[runs]]
name = "fwd"
divergence = "kl"
direction = "forward"
[[runs]]
name = "rev"
divergence = "kl"
direction = "reverse"
estimator = "reparam"
samples = 8
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_is_silent_on_success(tmp_path, capsys):
    assert main(["check", str(write(tmp_path, "small.toml", SMALL))]) == 0
    assert capsys.readouterr() == ("", "")


def test_every_scene_in_the_repository_is_valid():
    assert SCENES, "scenes/ is empty"
    assert main(["check", *map(str, SCENES)]) == 0


def test_check_reports_each_bad_file_in_one_line(tmp_path, capsys):
    good = write(tmp_path, "good.toml", SMALL)
    bad = write(tmp_path, "bad.toml", SMALL.replace('"reparam"', '"reparm"'))
    assert main(["check", str(good), str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {bad}: runs[1].estimator: ") and "reparam" in err[0]


def test_run_writes_one_record_per_run_and_prints_the_paths(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, "small.toml", SMALL)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "small" / "fwd.npz"), str(out / "small" / "rev.npz")]
    rec = trajectory.load(out / "small" / "rev.npz")
    assert rec["config"]["run"]["estimator"] == "reparam" and rec["config"]["scenario"] == "small"
    assert rec["particles"].shape == (1, 30, 8)


def test_a_bad_file_means_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "out"
    good = write(tmp_path, "good.toml", SMALL)
    bad = write(tmp_path, "bad.toml", SMALL.replace("steps = 30", "steps = -1"))
    assert main(["run", str(good), str(bad), "--out", str(out)]) == 2
    assert not out.exists() or not any(out.rglob("*"))
    assert "fit.steps" in capsys.readouterr().err


def test_a_failure_during_a_run_leaves_no_partial_files(tmp_path, monkeypatch):
    from divcore import runner

    out = tmp_path / "out"
    calls = []
    real = runner.run

    def flaky(target, cfg, progress=None):
        calls.append(cfg.name)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(target, cfg, progress)

    monkeypatch.setattr(runner, "run", flaky)
    assert main(["run", str(write(tmp_path, "small.toml", SMALL)), "--out", str(out)]) == 1
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_the_shipped_schema_file_is_what_divfit_schema_prints_and_every_scene_points_at_it(capsys):
    from divcore.scenario import SCHEMA_FILE

    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert SCHEMA_FILE.read_text() == printed, "run `divfit schema > divcore/scenario/scenario.schema.json`"
    assert json.loads(printed)["$id"] == "urn:divfit:scenario"
    for scene in sorted((ROOT / "scenes").glob("*.toml")):
        first = scene.read_text().splitlines()[0]
        assert first.startswith("#:schema "), scene.name
        assert (scene.parent / first.split(None, 1)[1]).resolve() == SCHEMA_FILE


def test_schema_is_json_with_every_top_level_key(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["$defs"]["line"]["properties"]) >= {"title", "description", "target", "fit", "runs"}
    assert set(schema["$defs"]["plane"]["properties"]) >= {"title", "description", "target", "fit", "runs"}


def test_python_dash_m_and_exit_status_2_without_traceback(tmp_path):
    bad = write(tmp_path, "bad.toml", "title = \n")
    proc = subprocess.run([sys.executable, "-m", "divcore", "check", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and "line 1" in proc.stderr


def _build_args(root: Path) -> list[str]:
    return ["build", "--scenes", str(root / "scenes"), "--out", str(root / "build"), "--jobs", "1",
            "--quality", "low", "--content", str(root / "content")]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory):
    """A site of SMALL built from nothing, and what that build printed: built
    once, as the tests below only rebuild copies of it."""
    root = tmp_path_factory.mktemp("small-site")
    (root / "scenes").mkdir()
    write(root / "scenes", "small.toml", SMALL)
    (root / "content").mkdir()
    write(root / "content", "index.md", "A small site about $q_\\phi$.\n")
    write(root / "content", "article.md", "# Small\n\n::: scrubber small\n\n::: video small\n\n::: figure small\n")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(_build_args(root)) == 0
    return root, printed.getvalue()


@pytest.fixture
def small_site(built_once, tmp_path):
    """A copy of that site in tmp_path: its scenes folder, the build command
    for it, and what its first build printed."""
    root, printed = built_once
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    return tmp_path / "scenes", _build_args(tmp_path), printed


def test_build_runs_every_scene_then_reuses_them(tmp_path, capsys, small_site):
    scenes, args, printed = small_site
    assert "data: 2 built, 0 up to date" in printed and "gallery: 1 built" in printed
    first = (tmp_path / "build/data/small/fwd.npz").read_bytes()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "data: 0 built, 2 up to date" in out and "gif: 0 built, 1 up to date" in out
    write(scenes, "small.toml", SMALL.replace("steps = 30", "steps = 31"))
    assert main(args) == 0
    assert "data: 2 built" in capsys.readouterr().out
    assert (tmp_path / "build/data/small/fwd.npz").read_bytes() != first


def test_a_title_edit_redraws_the_media_but_keeps_the_data(capsys, small_site):
    scenes, args, _ = small_site
    write(scenes, "small.toml", SMALL.replace('title = "Small"', 'title = "Smaller"'))
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "data: 0 built, 2 up to date" in out and "figures: 1 built" in out and "gif: 1 built" in out
    assert "video: 1 built" in out


def test_figures_and_gif_commands_write_under_build_media(tmp_path, capsys):
    scene = write(tmp_path, "small.toml", SMALL)
    assert main(["figures", str(scene), "--out", str(tmp_path / "b"), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in printed) == sorted(
        f"{b}.{e}" for b in ("summary", "snapshots") for e in ("pdf", "svg", "png"))
    assert all(Path(p).parent == tmp_path / "b/media/small" and Path(p).stat().st_size > 0 for p in printed)
    assert main(["gif", str(scene), "--out", str(tmp_path / "b"), "--jobs", "1"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "b/media/small/small.gif")]


def test_a_failing_render_is_one_line_naming_the_scenario(tmp_path, capsys, monkeypatch):
    from divcore import pipeline

    def boom(*args):
        raise ValueError("no luck")

    monkeypatch.setattr(pipeline, "_make_gif", boom)
    scene = write(tmp_path, "small.toml", SMALL)
    assert main(["gif", str(scene), "--out", str(tmp_path / "b"), "--jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gif of small failed: ValueError: no luck" in err
    assert not (tmp_path / "b/media/small/small.gif").exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and re.fullmatch(r"divfit \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_a_reader_that_stops_early_ends_the_command_quietly():
    """`divfit schema | true`: the schema (over a pipe's 64 KiB) meets a closed pipe."""
    proc = subprocess.Popen([sys.executable, "-m", "divcore", "schema"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and err == b""


@pytest.mark.parametrize("command", ["build", "site", "serve"])
def test_build_options_are_documented_in_help(command, capsys):
    """`divfit build --help` (and its aliases) shows every option a user needs,
    each with what it does."""
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0
    shared = ("--scenes DIR", "--out DIR", "--content DIR", "--jobs N", "--quality")
    own = ("--port PORT",) if command == "serve" else ("--executor", "--scheduler ADDRESS")
    for option in shared + own:
        assert option in text, option
    assert "SUPPRESS" not in text and "==SUPPRESS==" not in text
