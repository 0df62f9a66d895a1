"""A project of one's own: divfit.toml, `divfit init`, and what the pages say about the site."""

from __future__ import annotations

import pytest

from divcore.cli import main
from divcore.project import Site, load_project
from divcore.resources import CONTENT, STARTER
from divcore.scenario import ScenarioError, load_scenario, schema_text
from divcore.site import pages, prose


def test_a_folder_without_divfit_toml_builds_with_the_defaults(tmp_path):
    project = load_project(tmp_path)
    assert not project.configured and project.site == Site() and project.quality == "medium"
    assert project.scenes == tmp_path / "scenes" and project.content == CONTENT


def test_settings_are_read_and_the_address_ends_with_a_slash(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "divfit.toml").write_text(
        '[site]\ntitle = "Notes"\nauthor = "A. Lecturer"\nbase_url = "https://example.org/vi"\n'
        '[media]\nquality = "low"\n')
    project = load_project(tmp_path)
    assert project.site == Site("Notes", "A. Lecturer", "https://example.org/vi/", "")
    assert project.quality == "low" and project.content == tmp_path / "content"


@pytest.mark.parametrize("text, where", [
    ("[site]\ntitel = 'x'\n", "site.titel: unknown key"),
    ("[sites]\ntitle = 'x'\n", "sites: unknown table"),
    ("site = 3\n", "site: must be a table"),
    ("[site]\ntitle = ' '\n", "site.title"),
    ("[site]\nauthor = 3\n", "site.author"),
    ("[site]\nbase_url = 'example.org'\n", "site.base_url"),
    ("[media]\nquality = 'ultra'\n", "media.quality: 'ultra' is not a quality; one of low, medium, high, 4k"),
    ("[site\n", "(file): not valid TOML"),
])
def test_a_bad_setting_is_one_line_naming_the_key(tmp_path, capsys, monkeypatch, text, where):
    (tmp_path / "divfit.toml").write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_project(tmp_path)
    assert where in str(err.value) and "\n" not in str(err.value)
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 2
    assert capsys.readouterr().err.startswith("error: divfit.toml: ")
    assert not (tmp_path / "build").exists()


def test_init_writes_a_valid_project_titled_after_its_folder(tmp_path, capsys):
    assert main(["init", str(tmp_path / "vi-lecture")]) == 0
    project = load_project(tmp_path / "vi-lecture")
    assert project.configured and project.site.title == "Vi lecture"
    scenes = sorted(project.scenes.glob("*.toml"))
    assert [s.name for s in scenes] == [s.name for s in sorted((STARTER / "scenes").glob("*.toml"))]
    for scene in scenes:
        load_scenario(scene)
    for scene in scenes:  # editors find the schema beside the project
        first = scene.read_text().splitlines()[0]
        assert (scene.parent / first.removeprefix("#:schema ")).read_text() == schema_text()
    told = {d.name for d in prose.directives((project.content / "article.md").read_text())}
    assert told == {s.stem for s in scenes}  # the article places every scene it ships
    assert "divfit build" in capsys.readouterr().out


def test_init_refuses_a_folder_that_is_not_empty_and_touches_nothing(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["init", str(tmp_path)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["init", str(empty)]) == 0 and (empty / "divfit.toml").is_file()
    assert not list(tmp_path.glob(".*"))  # no staging folder left behind


def test_pages_say_whose_site_it_is_and_where_it_lives():
    env = pages.environment(Site("Notes on VI", "A. Lecturer", "https://example.org/vi/", "Pictures of VI."))
    html = env.get_template("article.html").render(root="", page="article.html", nav=[], body="", title="Fitting")
    assert "<title>Fitting · Notes on VI</title>" in html
    assert '<link rel="canonical" href="https://example.org/vi/article.html">' in html
    assert '<meta name="author" content="A. Lecturer">' in html and "By A. Lecturer." in html
    assert '<meta name="description" content="Pictures of VI.">' in html
    plain = pages.environment().get_template("article.html").render(root="", page="article.html", nav=[],
                                                                      body="", title="Fitting")
    assert "canonical" not in plain and 'name="author"' not in plain


@pytest.mark.parametrize("source, title", [
    ("# Which way\n\ntext", "Which way"),
    ("intro\n\n# Fitting $q$ to $p$ #\n", "Fitting q to p"),
    ("## only a section\n", "Article"),
])
def test_the_article_is_titled_by_its_first_heading(source, title):
    assert prose.title(source) == title
