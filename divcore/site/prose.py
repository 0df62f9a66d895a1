"""The site's prose: Markdown with LaTeX math and block directives, to HTML.

- `$...$` is inline math and `$$...$$` display math, converted to MathML at
  build time (latex2mathml), so pages need no network and no script to show
  formulas; `\\$` is a literal dollar sign.
- A line `::: scrubber NAME`, `::: video NAME` or `::: figure NAME [WHICH]` places
  that scenario's scrubber, video or figure (WHICH: summary, the default, or
  one the scenario asks for: alpha-sweep, diagnostics, basins); the caller
  renders them.

Math is parsed by markdown-it's dollarmath plugin, so `_` in a subscript is
never emphasis and a `$` in a code span or fence stays code; directives are
swapped for placeholder words before Markdown runs and back after. Only the
project's own prose goes through here: scenario titles and descriptions are
text and are escaped by the templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from latex2mathml.converter import convert
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from mdit_py_plugins.dollarmath import dollarmath_plugin

from ..errors import BuildError

_DIRECTIVE = re.compile(r"^::: *(scrubber|video|figure) +([a-z0-9][a-z0-9-]*)(?: +([a-z0-9-]+))? *$", re.MULTILINE)
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


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "typographer": False}).use(
        dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    # joined text would hide which dollars were escaped (\$) and which are stray
    md.disable("text_join")
    md.add_render_rule("text_special", lambda self, tokens, i, options, env: escapeHtml(tokens[i].content))
    md.add_render_rule("math_inline", lambda self, tokens, i, options, env: math(tokens[i].content))
    md.add_render_rule("math_inline_double", lambda self, tokens, i, options, env: math(tokens[i].content, True))
    md.add_render_rule("math_block", lambda self, tokens, i, options, env:
                       f'<div class="display-math">{math(tokens[i].content, True)}</div>\n')
    return md


def render(source: str, place: Callable[[Directive], str], where: str = "prose") -> str:
    """Markdown `source` to HTML; `place(directive)` gives each directive's HTML."""
    pieces: list[str] = []

    def block(m: re.Match) -> str:
        pieces.append(place(Directive(m.group(1), m.group(2), m.group(3) or "")))
        return f"\n{_TOKEN.format(len(pieces) - 1)}\n"

    md = _markdown()
    tokens = md.parse(_DIRECTIVE.sub(block, source))
    for token in tokens:
        stray = [c for c in token.children or () if c.type == "text" and "$" in c.content]
        if stray:
            before = token.children[: token.children.index(stray[0])]
            line = token.map[0] + 1 + sum(c.type in ("softbreak", "hardbreak") for c in before)
            raise BuildError(f"{where}: line {line}: unmatched $ (write \\$ for a dollar sign)")
    html = md.renderer.render(tokens, md.options, {})
    # a directive alone in its paragraph replaces the paragraph
    html = re.sub(r"<p>(DIVFITTOKEN\d+X)</p>", r"\1", html)
    return re.sub(r"DIVFITTOKEN(\d+)X", lambda m: pieces[int(m.group(1))], html)
