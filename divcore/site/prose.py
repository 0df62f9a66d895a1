"""The site's prose: Markdown with LaTeX math and block directives, to HTML.

- `$...$` is inline math and `$$...$$` display math, converted to MathML at
  build time (latex2mathml), so pages need no network and no script to show
  formulas; `\\$` is a literal dollar sign.
- A line `::: scrubber NAME`, `::: video NAME` or `::: figure NAME [WHICH]` places
  that scenario's scrubber, video or figure (WHICH: summary, the default, or
  one the scenario asks for: alpha-sweep, diagnostics, basins); the caller
  renders them.

Math and directives are swapped for placeholder words before Markdown runs
(so `_` in a subscript is never emphasis) and swapped back after. Only the
project's own prose goes through here: scenario titles and descriptions are
text and are escaped by the templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from latex2mathml.converter import convert
from markdown_it import MarkdownIt

from ..errors import BuildError

_DIRECTIVE = re.compile(r"^::: *(scrubber|video|figure) +([a-z0-9][a-z0-9-]*)(?: +([a-z0-9-]+))? *$", re.MULTILINE)
_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$", re.DOTALL)
_TOKEN = "DIVFITTOKEN{}X"


@dataclass
class Directive:
    kind: str
    name: str
    detail: str = ""  # which figure: "summary" (the default), "alpha-sweep", "diagnostics", "basins"


_FUNCTIONS = re.compile(r"(<mi>(?:log|exp|sin|cos|tan|max|min|det)</mi>)")


def math(tex: str, display: bool = False) -> str:
    try:
        html = convert(tex.strip(), display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises bare exceptions of several kinds
        raise BuildError(f"cannot typeset ${tex.strip()}$: {err}") from err
    # TeX sets a thin space after an operator name; MathML Core needs it spelled out
    return _FUNCTIONS.sub(r'\1<mspace width="0.167em"></mspace>', html)


def title(source: str, default: str = "Article") -> str:
    """The text of the first `# ` heading, for the page's title bar (math as its TeX)."""
    found = re.search(r"^# +(.+?) *#* *$", source, re.MULTILINE)
    return found.group(1).replace("$", "").strip() if found else default


def directives(source: str) -> list[Directive]:
    return [Directive(*found) for found in _DIRECTIVE.findall(source)]


def render(source: str, place: Callable[[Directive], str], where: str = "prose") -> str:
    """Markdown `source` to HTML; `place(directive)` gives each directive's HTML."""
    pieces: list[str] = []

    def stash(html: str) -> str:
        pieces.append(html)
        return _TOKEN.format(len(pieces) - 1)

    def block(m: re.Match) -> str:
        return "\n" + stash(place(Directive(m.group(1), m.group(2), m.group(3) or ""))) + "\n"

    def formula(m: re.Match) -> str:
        display = m.group(1) is not None
        html = math(m.group(1) if display else m.group(2), display)
        return ("\n" + stash(f'<div class="display-math">{html}</div>') + "\n") if display else stash(html)

    masked = _MATH.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)
    stray = re.search(r"(?<!\\)\$", masked)
    if stray:
        line = masked[: stray.start()].count("\n") + 1
        raise BuildError(f"{where}: line {line}: unmatched $ (write \\$ for a dollar sign)")
    text = _DIRECTIVE.sub(block, source)
    text = _MATH.sub(formula, text)
    text = text.replace("\\$", "&#36;")
    html = MarkdownIt("commonmark", {"html": True, "typographer": False}).render(text)
    # a directive or display formula alone in its paragraph replaces the paragraph
    html = re.sub(r"<p>(DIVFITTOKEN\d+X)</p>", r"\1", html)
    return re.sub(r"DIVFITTOKEN(\d+)X", lambda m: pieces[int(m.group(1))], html)
