"""Figures sized for the page: a [figure] table (per project, per scenario, per
call) sets the exact width, the font, the text size and the panels' aspect;
single panels for subfigures; `divfit figure` and `divfit export`."""

from __future__ import annotations

import csv
import multiprocessing
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.text import Text

import divcore
from divcore.cli import main
from divcore.project import load_project
from divcore.render import figures
from divcore.render.typeset import TooNarrow
from divcore.scenario import FigureStyle, ScenarioError, parse_scenario
from divcore.scenario.fields import LENGTH_UNITS

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "forward-reverse-kl.toml"
BP_PER_IN = 72.0  # a PDF page is measured in PostScript points


@pytest.fixture(scope="module")
def result():
    return divcore.run(SCENE, steps=60)


def pdf_page(data: bytes) -> tuple[float, float]:
    box = [float(v) for v in re.search(rb"/MediaBox \[ *([^\]]*)\]", data).group(1).split()]
    return box[2] - box[0], box[3] - box[1]


def pdf_streams(data: bytes) -> list[bytes]:
    """Every stream of the PDF, inflated (those stored raw are left out)."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            continue
    return out


def pdf_text_sizes(data: bytes) -> list[float]:
    """The size of every text run in the PDF's content streams (the operand of Tf)."""
    return [float(v) for body in pdf_streams(data) for v in re.findall(rb"/F\d+ ([0-9.]+) Tf", body)]


def texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]


# ------------------------------------------------------------ the settings


def test_a_scenario_figure_table_is_read_with_units(result):
    text = SCENE.read_text() + '\n[figure]\nwidth = "8.5cm"\nfont = "serif"\nsize = 8\naspect = 0.6\n'
    assert parse_scenario(text, "s.toml").figure == FigureStyle(8.5 / 2.54, "serif", 8.0, 0.6)
    assert parse_scenario(SCENE.read_text(), "s.toml").figure == FigureStyle()


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value="0.01", max_value="999.99", places=2), st.sampled_from(sorted(LENGTH_UNITS)))
def test_a_width_is_its_value_in_its_unit_or_a_one_line_error(value, unit):
    text = SCENE.read_text() + f'\n[figure]\nwidth = "{value}{unit}"\n'
    inches = float(value) * LENGTH_UNITS[unit]
    if 1.0 <= inches <= 20.0:
        assert parse_scenario(text, "s.toml").figure.width == pytest.approx(inches, rel=1e-12)
    else:
        with pytest.raises(ScenarioError, match=r"^s.toml: figure.width: width .* is .* in; a length such as"):
            parse_scenario(text, "s.toml")


@pytest.mark.parametrize("line, message", [
    ('width = "3"', 'figure.width: invalid width "3"'),
    ("width = 3.25", "figure.width: expected a string, got float 3.25"),
    ('font = "times"', 'figure.font: unknown font "times"'),
    ("size = 40", "figure.size: size must be <= 24, got 40"),
    ("aspect = 0", "figure.aspect: aspect must be >= 0.2, got 0"),
    ("dpi = 300", 'figure.dpi: unknown key "dpi"'),
])
def test_a_bad_figure_setting_names_its_key(line, message):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(SCENE.read_text() + f"\n[figure]\n{line}\n", "s.toml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_project_sets_figures_and_a_scenario_overrides_it(tmp_path):
    (tmp_path / "divfit.toml").write_text('[figure]\nwidth = "6.5in"\nfont = "cm"\nsize = 10\n')
    project = load_project(tmp_path)
    assert project.figure == FigureStyle(6.5, "cm", 10.0, None)
    own = FigureStyle(width=3.25, font="serif")
    assert own.over(project.figure) == FigureStyle(3.25, "serif", 10.0, None)
    (tmp_path / "divfit.toml").write_text('[figure]\nsize = "big"\n')
    with pytest.raises(ScenarioError, match="divfit.toml: figure.size: expected a number"):
        load_project(tmp_path)


# ------------------------------------------------------------ the page


@pytest.mark.parametrize("width, inches", [("3.25in", 3.25), ("8cm", 8 / 2.54), ("85mm", 8.5 / 2.54),
                                           ("246pt", 246 / 72.27)])
def test_a_pdf_page_is_exactly_the_requested_width(result, width, inches):
    fig = result.figure("distribution", run="reverse", step=10, width=width, font="serif")
    w, h = pdf_page(figures.to_bytes(fig, "pdf"))
    assert w == pytest.approx(inches * BP_PER_IN, abs=1e-6)
    assert h == pytest.approx(fig.get_size_inches()[1] * BP_PER_IN, abs=1e-6)


@pytest.mark.parametrize("kind, size", [("distribution", 8.0), ("landscape", 10.0), ("history", 9.0),
                                        ("summary", 8.0), ("snapshots", 7.0)])
def test_the_text_is_the_requested_size(result, kind, size):
    """Every label, tick and legend entry at the size; only the figure's title
    larger (1.2 times) and only math scripts smaller."""
    fig = result.figure(kind, run="reverse" if kind in figures.PANELS else None, width="7in", font="cm", size=size)
    pdf = figures.to_bytes(fig, "pdf")
    shown = texts(fig)
    title = [t for t in shown if t is getattr(fig, "_suptitle", None)]
    assert {t.get_fontsize() for t in shown if t not in title} == {size}
    assert [t.get_fontsize() for t in title] == ([1.2 * size] if kind in ("summary", "snapshots") else [])
    sizes = pdf_text_sizes(pdf)
    assert max(set(sizes), key=sizes.count) == size  # most text, by far, is the body size
    assert max(sizes) <= 1.2 * size + 1e-9 and min(sizes) >= 0.5 * size


@pytest.mark.parametrize("font, family", [("sans", "DejaVu Sans"), ("serif", "STIXGeneral"), ("cm", "cmr10")])
def test_the_font_is_embedded_in_the_pdf(result, font, family):
    pdf = figures.to_bytes(result.figure("history", run="forward", font=font), "pdf")
    # embedded as a subset: a six-letter tag, then the font's name
    assert re.search(rb"/BaseFont /[A-Z]{6}\+" + family.replace(" ", "").encode(), pdf, re.I)


def test_aspect_sets_each_panels_height(result):
    a = result.figure("summary", width="7in", aspect=0.5).get_size_inches()
    b = result.figure("summary", width="7in", aspect=1.0).get_size_inches()
    rows, panel_width = 2, 7.0 / 3
    assert a[0] == b[0] == 7.0
    assert b[1] - a[1] == pytest.approx(rows * panel_width * 0.5)


def test_a_width_too_narrow_for_the_panels_is_refused_naming_what_fits(result):
    with pytest.raises(TooNarrow, match=r"summary has 3 panel\(s\) side by side and needs a width of at least"):
        result.figure("summary", width="3.25in")
    result.figure("landscape", run="reverse", width="3.25in")  # a single panel fits a column


def test_single_panels_show_one_run_at_one_step(result):
    v = result.view("reverse")
    fig = result.figure("distribution", run="reverse", step=12)
    (ax,) = fig.axes
    q = max(ax.get_lines(), key=lambda line: line.get_linewidth())
    x = q.get_xdata()
    m, s = v.record["mean"][v.member, 12], v.record["std"][v.member, 12]
    np.testing.assert_allclose(q.get_ydata(), np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi)),
                               rtol=1e-9)
    assert ax.get_title(loc="left").startswith("reverse:")
    hist = result.figure("history", run="reverse", step=12)
    assert any(np.allclose(line.get_xdata(), 12) for line in hist.axes[0].get_lines())
    land = result.figure("landscape", run="reverse", step=12)
    trail = [line for line in land.axes[0].get_lines() if len(line.get_xdata()) == 13]
    assert trail, "the trail ends at the step"
    with pytest.raises(ValueError, match="step 61 is outside the run's 0..60"):
        result.figure("history", run="reverse", step=61)
    with pytest.raises(ValueError, match="unknown figure 'violin'"):
        result.figure("violin")


def test_the_same_figure_gives_the_same_bytes(result):
    one = [figures.to_bytes(result.figure("distribution", run="reverse", font="serif"), ext)
           for ext in figures.FORMATS]
    two = [figures.to_bytes(result.figure("distribution", run="reverse", font="serif"), ext)
           for ext in figures.FORMATS]
    assert one == two


# ------------------------------------------------------------ the commands


def test_divfit_figure_writes_the_requested_file(tmp_path, capsys):
    out = tmp_path / "fig.pdf"
    assert main(["figure", str(SCENE), "distribution", "--run", "reverse", "--step", "5", "--width", "3.25in",
                 "--font", "serif", "--size", "8", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert pdf_page(out.read_bytes())[0] == pytest.approx(3.25 * BP_PER_IN)
    assert 8.0 in pdf_text_sizes(out.read_bytes())


@pytest.mark.parametrize("args, message", [
    (["summary", "--width", "3in"], "needs a width of at least"),
    (["history", "--run", "nope"], "no run named 'nope'; runs: forward, reverse"),
    (["history", "--width", "wide"], 'command line: figure.width: invalid width "wide"'),
    (["history", "--out", "x.jpg"], "unknown format .jpg"),
])
def test_divfit_figure_refuses_bad_input_in_one_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["figure", str(SCENE), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_divfit_export_writes_one_pgfplots_table_per_run(tmp_path, capsys):
    assert main(["export", str(SCENE), "--run", "reverse", "--out", str(tmp_path)]) == 0
    path = tmp_path / "forward-reverse-kl-reverse.csv"
    assert capsys.readouterr().out.strip() == str(path)
    rows = list(csv.DictReader(path.open()))
    full = divcore.run(SCENE)
    v = full.view("reverse")
    steps = v.record["mean"].shape[1]
    assert len(rows) == steps and {r["member"] for r in rows} == {str(v.member)}
    np.testing.assert_allclose([float(r["mean"]) for r in rows], v.record["mean"][v.member], rtol=1e-9)
    assert rows[-1]["grad0"] == "nan"  # no gradient after the last state: pgfplots reads nan, not an empty cell
    assert all(r[k] != "" for r in rows for k in r)


def test_the_projects_figure_settings_redraw_the_figures_and_nothing_else(tmp_path):
    from divcore import pipeline
    from divcore.scenario import load_scenario

    scenarios = [load_scenario(SCENE)]
    keys = {}
    for name, style in (("plain", None), ("page", FigureStyle(width=6.5, font="serif"))):
        P = pipeline.plan(scenarios, tmp_path, figure=style)
        keys[name] = {stage: [j.key for j in jobs] for stage, jobs in P.stages.items()}
    changed = {stage for stage in keys["plain"] if keys["plain"][stage] != keys["page"][stage]}
    # the assets preview the figures and the site links them
    assert changed == {"figures", "assets", "site"}
    own = parse_scenario(SCENE.read_text() + '\n[figure]\nwidth = "6.5in"\nfont = "serif"\n', str(SCENE))
    P = pipeline.plan([own], tmp_path)
    assert [j.key for j in P.stages["figures"]] == keys["page"]["figures"]  # the scenario's own settings, the same


@pytest.mark.parametrize("scene, kind, width", [
    (SCENE, "summary", "6in"), (SCENE, "snapshots", "6.5in"), (SCENE, "distribution", "3.25in"),
    (ROOT / "scenes" / "bishop-two-modes.toml", "snapshots", "6.5in"),
    (ROOT / "scenes" / "bishop-two-modes.toml", "distribution", "3.25in"),
])
def test_nothing_sticks_out_of_the_page(scene, kind, width):
    """The page is exactly the figure (nothing trims it to its ink), so a
    legend wider than the page would be cut at its edges: it wraps instead."""
    import io

    from PIL import Image

    r = divcore.run(scene, steps=20)
    fig = r.figure(kind, width=width, font="serif")
    rgb = np.asarray(Image.open(io.BytesIO(figures.to_bytes(fig, "png"))).convert("RGB"))
    edges = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    assert (edges > 250).all(), "ink on the page's edge"


# ------------------------------------------------------------ what saving caches


def pdf_font_programs(data: bytes) -> list:
    """Every embedded TrueType font program of a PDF, read by fontTools."""
    import io

    from fontTools.ttLib import TTFont

    return [TTFont(io.BytesIO(body)) for body in pdf_streams(data) if body[:4] in (b"\x00\x01\x00\x00", b"true")]


def test_saving_parses_math_text_once_for_every_renderer(result, monkeypatch):
    """A figure saved three ways (and laid out first) parses each math label
    once per output kind, where each renderer parsed it again; the files are
    the bytes matplotlib writes without the shared cache."""
    from matplotlib import mathtext

    from divcore.render import savecache

    if not savecache._FITS:
        pytest.skip("this matplotlib's math text parser is not the one the cache was written for")

    def saved(exts):
        fig = result.figure("summary")  # dropped after: a live figure's fonts shift the next one's SVG by 1e-3 pt
        return [figures.to_bytes(fig, ext) for ext in exts]

    savecache._parse_once.cache_clear()
    shared = saved(("png", "svg"))
    info = savecache._parse_once.cache_info()
    assert info.hits > info.misses > 0
    saved(("pdf",))  # a vector renderer again: its parses were all made for the SVG
    assert savecache._parse_once.cache_info().misses == info.misses
    assert mathtext.MathTextParser._parse_cached is not savecache._shared_parse  # put back after saving
    monkeypatch.setattr(savecache, "_FITS", False)
    assert saved(("png", "svg")) == shared
    # a forked worker starts without them: their fonts read the parent's open files
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_parses_kept) == 0


def _parses_kept() -> int:
    from divcore.render import savecache

    return savecache._parse_once.cache_info().currsize


def test_a_pdf_embeds_its_fonts_without_layout_tables_and_draws_the_same_text(result, monkeypatch):
    from divcore.render import savecache

    if not savecache._PDF_FITS:
        pytest.skip("this matplotlib does not subset fonts through fontTools.subset")
    lean = figures.to_bytes(result.figure("history", run="forward"), "pdf")
    monkeypatch.setattr(savecache, "_PDF_FITS", False)
    full = figures.to_bytes(result.figure("history", run="forward"), "pdf")
    lean_fonts, full_fonts = pdf_font_programs(lean), pdf_font_programs(full)
    assert len(lean_fonts) == len(full_fonts) > 0
    assert any("GPOS" in f for f in full_fonts) and not any(t in f for f in lean_fonts for t in savecache.LAYOUT_TABLES)
    for a, b in zip(lean_fonts, full_fonts):
        # the same glyphs, drawn the same (the full subset also keeps what its ligature rules reach)
        assert set(a.getGlyphOrder()) <= set(b.getGlyphOrder())
        assert all(a["glyf"][g] == b["glyf"][g] and a["hmtx"][g] == b["hmtx"][g] for g in a.getGlyphOrder())
    assert pdf_text_sizes(lean) == pdf_text_sizes(full)  # the pages draw the same runs of text
