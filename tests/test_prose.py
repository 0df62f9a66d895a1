"""The site's prose: dollar math that leaves code alone, and what a stray dollar says."""

import pytest

from divcore.errors import BuildError
from divcore.site import prose


def _place(d):
    return f"<div>{d.kind} {d.name}</div>"


def test_math_becomes_mathml_and_directives_become_blocks():
    html = prose.render("Inline $q_\\phi$ and\n\n$$\\mathrm{KL}(p \\,\\|\\, q)$$\n\n::: video some-scene\n", _place)
    assert html.count("<math") == 2 and 'display="block"' in html
    assert "<div>video some-scene</div>" in html and "<p><div" not in html
    assert "$" not in html


def test_subscripts_are_not_emphasis_and_dollars_can_be_escaped():
    html = prose.render("$a_1 b_2$ costs \\$5 and _this_ is emphasis.", _place)
    assert "<em>this</em>" in html and html.count("<em>") == 1 and "$5" in html


def test_dollars_in_code_spans_and_fences_stay_code():
    html = prose.render("cost is `$5 and $6`\n\n```\nprice = $7 + $8\n```\n", _place)
    assert "<math" not in html
    assert "<code>$5 and $6</code>" in html and "price = $7 + $8" in html


def test_math_next_to_code_is_still_math():
    html = prose.render("`$x` and $x_1$ then `y$`\n", _place)
    assert html.count("<math") == 1 and "<code>$x</code>" in html and "<code>y$</code>" in html


def test_display_math_inside_a_paragraph_is_valid_html():
    html = prose.render("before $$x^2$$ after\n", _place)
    assert 'display="block"' in html and "<div" not in html  # no block inside <p>


@pytest.mark.parametrize("source, line", [
    ("fine\n\nbroken $x\n", 3),
    ("a first line\nthen a second with $ alone\n", 2),
    ("# heading\n\n- item\n- $ stray in a list\n", 4),
])
def test_a_stray_dollar_is_an_error_on_its_own_line(source, line):
    with pytest.raises(BuildError, match=rf"article.md: line {line}: unmatched \$ \(write \\\$"):
        prose.render(source, _place, where="article.md")


def test_an_escaped_dollar_is_a_dollar_sign():
    html = prose.render(r"it costs \$5, and \$6 too", _place)
    assert "<math" not in html and "$5" in html and "$6" in html
