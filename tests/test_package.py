"""divfit as a user installs it: the wheel, in a fresh virtual environment
outside the checkout, starting a project of their own.

The fresh environment gets divfit from the wheel alone. Its dependencies are
the ones already installed in this checkout's environment, offered through a
folder of links (no network, and the same versions the rest of the suite
tests), with the checkout's own editable divfit left out. The base install
leaves out manim and PyAV, as `pip install divfit` does; adding their links
is installing the `video` extra.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VIDEO_EXTRA = ("manim", "av")  # the top-level names the `video` extra installs


def test_every_package_folder_is_listed_for_the_wheel():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "divcore").rglob("*.py")}
    listed = set(config["packages"])
    assert listed - {"divcore._site"} == on_disk
    assert config["package-dir"]["divcore._site"] == "site"


def _run(*cmd, cwd=None, env=None, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of what the repository tracks for it."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("divcore", "site"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--disable-pip-version-check", "-w", root / "dist", src)
    (found,) = (root / "dist").glob("divfit-*.whl")
    return found


def test_the_wheel_carries_what_a_build_needs_and_nothing_of_the_checkout(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("divcore/_site/templates/base.html", "divcore/_site/static/scrubber.js",
                   "divcore/_site/content/article.md", "divcore/_site/starter/divfit.toml",
                   "divcore/_site/starter/scenes/forward-reverse-kl.toml", "divcore/style/palette.json",
                   "divcore/scenario/scenario.schema.json",
                   "divcore/video/scene.py"):
        assert needed in names
    assert not any(n.startswith(("tests/", "scenes/", "site/", "build/")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA").decode()
    base = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)[^;\n]*$", metadata, re.MULTILINE)
    video = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+).*; extra == \"video\"$", metadata, re.MULTILINE)
    assert "manim" not in base and "av" not in base and {"manim", "av"} <= set(video)


class Environment:
    """A fresh virtual environment with the wheel installed and the checkout's
    dependencies linked in, `video` extra or not."""

    def __init__(self, root: Path, wheel: Path):
        self.root = root
        _run(sys.executable, "-m", "venv", "--without-pip", root / "env")
        self.python = root / "env" / "bin" / "python"
        self.bin = root / "env" / "bin"
        purelib = Path(_run(self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
        self.deps = root / "deps"
        self.deps.mkdir()
        (purelib / "checkout-deps.pth").write_text(f"{self.deps}\n")
        self.ours = Path(sysconfig.get_paths()["purelib"])
        for entry in self.ours.iterdir():
            if self._shared(entry.name) and not self._video(entry.name):
                (self.deps / entry.name).symlink_to(entry)
        _run(sys.executable, "-m", "pip", "--python", self.python, "install", "--no-deps", "--no-index",
             "--quiet", "--disable-pip-version-check", wheel)

    @staticmethod
    def _shared(name: str) -> bool:
        # not the checkout's editable divfit, nor the .pth files that would import it
        return not (name.startswith(("__editable__", "divfit", "_divfit", "__pycache__")) or name.endswith(".pth"))

    @staticmethod
    def _video(name: str) -> bool:
        return re.split(r"[-.]", name)[0] in VIDEO_EXTRA

    def add_video_extra(self) -> None:
        for entry in self.ours.iterdir():
            if self._shared(entry.name) and self._video(entry.name):
                (self.deps / entry.name).symlink_to(entry)

    def divfit(self, *args, cwd: Path, check=True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return _run(self.bin / "divfit", *args, cwd=cwd, env=env, check=check)


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel) -> Environment:
    return Environment(tmp_path_factory.mktemp("user"), wheel)


def _built(output: str) -> dict[str, int]:
    return {stage: int(n) for stage, n in re.findall(r"^ *([a-z]+): (\d+) built", output, re.MULTILINE)}


def test_a_new_user_starts_a_project_builds_it_then_adds_the_videos(installed):
    home = installed.root
    imported = installed.divfit("--version", cwd=home)
    assert re.fullmatch(r"divfit \d+\.\d+\.\d+\S*\n", imported.stdout)
    where = _run(installed.python, "-c", "import divcore; print(divcore.__file__)", cwd=home).stdout
    assert str(REPO) not in where and "site-packages" in where  # the wheel's divfit, not the checkout's

    installed.divfit("init", "my-post", cwd=home)
    project = home / "my-post"
    assert (project / "divfit.toml").is_file() and list((project / "scenes").glob("*.toml"))
    installed.divfit("check", *sorted((project / "scenes").glob("*.toml")), cwd=project)

    # the base install: everything but the videos, and one line saying how to add them
    scene = next((project / "scenes").glob("*.toml"))
    refused = installed.divfit("video", scene, cwd=project, check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "divfit[video]" in refused.stderr
    first = installed.divfit("build", "--quality", "low", "--jobs", "2", cwd=project)
    notes = [line for line in first.stderr.splitlines() if "video" in line]
    assert len(notes) == 1 and "divfit[video]" in notes[0] and "libpango1.0-dev" in notes[0]
    site = project / "build" / "site"
    index = (site / "index.html").read_text()
    assert "<title>My post</title>" in index  # the project's settings, not divfit's own
    article = (site / "article.html").read_text()
    assert "Which way the divergence points" in article and 'class="scrubber' in article
    assert ".gif" in article and "<video" not in article  # the GIF stands in for the video
    media = project / "build" / "media" / "forward-reverse-kl"
    assert {p.suffix for p in media.glob("summary.*")} == {".pdf", ".svg", ".png"}
    assert (media / "forward-reverse-kl.gif").is_file() and not list(media.glob("*.mp4"))
    assert not (site / "diagnostics.html").exists()  # nothing to show there

    # `pip install 'divfit[video]'`: the same build adds the videos (and the poster's preview) and
    # redoes nothing else
    installed.add_video_extra()
    second = installed.divfit("build", "--quality", "low", "--jobs", "2", cwd=project)
    assert "skipped" not in second.stderr
    assert _built(second.stdout) == {"data": 0, "video": 1, "figures": 0, "gif": 0, "gallery": 0, "assets": 1,
                                     "site": 1}
    assert (media / "forward-reverse-kl.mp4").is_file()
    assert "<video" in (site / "article.html").read_text()
