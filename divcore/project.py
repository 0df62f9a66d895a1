"""A divfit project: a folder with a `divfit.toml`, its `scenes/` and its `content/`.

`divfit build` and `divfit serve` run in such a folder build that project; run
anywhere else (this repository included) they build `scenes/` with divfit's own
prose and the default settings. `divfit init` writes a new project from the
starter shipped with the package.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .resources import CONTENT, STARTER
from .video.render import QUALITY
from .scenario import FigureStyle, ScenarioError, parse_figure, schema_text

CONFIG = "divfit.toml"
QUALITIES = tuple(QUALITY)
_KEYS = {"site": {"title", "author", "base_url", "description"}, "media": {"quality"}, "figure": None}  # figure: as in scenes


@dataclass(frozen=True)
class Site:
    """What every page says about the site it belongs to."""

    title: str = "divfit"
    author: str = ""
    base_url: str = ""  # where it is hosted, for canonical links; the site's own links stay relative
    # divfit's own site (no divfit.toml); a project's says what it sets, or nothing
    description: str = ("How fitting q to p behaves under forward and reverse KL, chi-square and alpha "
                        "divergences, with exact and Monte Carlo gradients, drawn from scenario files.")


@dataclass(frozen=True)
class Project:
    root: Path
    site: Site = field(default_factory=Site)
    quality: str = "medium"
    figure: FigureStyle = field(default_factory=FigureStyle)
    configured: bool = False  # read from a divfit.toml

    @property
    def scenes(self) -> Path:
        return self.root / "scenes"

    @property
    def content(self) -> Path:
        own = self.root / "content"
        return own if self.configured and own.is_dir() else CONTENT


def _text(file: str, key: str, value, pattern: str | None = None, allowed: str = "a string") -> str:
    if not isinstance(value, str) or (pattern and not re.fullmatch(pattern, value)):
        raise ScenarioError(file, key, f"{value!r} is not allowed", allowed)
    return value


def load_project(folder: Path | str = ".") -> Project:
    """The project in `folder`: its divfit.toml, or the defaults when there is none."""
    root = Path(folder)
    path = root / CONFIG
    if not path.is_file():
        return Project(root)
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(file, "(file)", f"not valid TOML ({err})", "TOML as in https://toml.io") from None
    for table, value in data.items():
        if table not in _KEYS:
            raise ScenarioError(file, table, "unknown table", f"tables: {', '.join(sorted(_KEYS))}")
        if not isinstance(value, dict):
            raise ScenarioError(file, table, "must be a table", f"a [{table}] table")
        for key in value if _KEYS[table] else ():
            if key not in _KEYS[table]:
                raise ScenarioError(file, f"{table}.{key}", "unknown key", f"keys: {', '.join(sorted(_KEYS[table]))}")
    site = data.get("site", {})
    base_url = _text(file, "site.base_url", site.get("base_url", ""), r"(https?://\S+)?",
                     "empty, or an http(s):// address such as https://example.org/post/")
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    quality = data.get("media", {}).get("quality", "medium")
    if quality not in QUALITIES:
        raise ScenarioError(file, "media.quality", f"{quality!r} is not a quality", f"one of {', '.join(QUALITIES)}")
    return Project(root, Site(
        title=_text(file, "site.title", site.get("title", root.resolve().name), r".*\S.*", "a non-empty string"),
        author=_text(file, "site.author", site.get("author", "")),
        base_url=base_url,
        description=_text(file, "site.description", site.get("description", "")),
    ), quality, parse_figure(data.get("figure", {}), file), configured=True)


def init(folder: Path | str) -> Path:
    """Write a small working project into `folder` (new or empty): the starter's
    divfit.toml titled after the folder, one scenario and its prose, and the
    scenario schema the scenes point their editors at. Written
    beside the target and renamed into place, so a failure leaves nothing."""
    dest = Path(folder)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ScenarioError(str(dest), "(folder)", "exists and is not empty", "a new or empty folder")
    staging = dest.with_name(f".{dest.name}-init-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(STARTER, staging, ignore=shutil.ignore_patterns("__pycache__"))
        # for editors whose TOML language server completes keys (`#:schema` in each scene)
        (staging / "scenario.schema.json").write_text(schema_text(), encoding="utf-8")
        config = staging / CONFIG
        title = dest.resolve().name.replace("-", " ").replace("_", " ").strip().capitalize() or "My divfit project"
        config.write_text(config.read_text(encoding="utf-8").replace("{{title}}", title.replace('"', "'")),
                          encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest
