"""A scenario's scrubber as one self-contained HTML document (styles, script,
payload and images inline), shown in a notebook inside an iframe: no server,
no files, nothing leaking into the notebook's own styles."""

from __future__ import annotations

import base64
import html

from markupsafe import Markup

from ..resources import STATIC
from ..scenario import Scenario
from . import payload
from .assets import scrubber_data
from .pages import environment, scenario_context


def _data_uri(mime: str, blob: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(blob).decode('ascii')}"


def document(scn: Scenario, views: list) -> str:
    """The scrubber page of `views` (one per run, as the renderers read them)."""
    data, _ = scrubber_data(scn.name, scn.title, views, lambda name, blob: _data_uri("image/webp", blob))
    files = {"assets": "", "scrubber": _data_uri("text/javascript", payload.to_script(data).encode())}
    script = (STATIC / "scrubber.js").read_text(encoding="utf-8")
    if "</script" in script.lower():  # it is inlined in a <script> element
        raise AssertionError("scrubber.js must not contain '</script'")
    page = environment().get_template("notebook.html")
    return page.render(ctx=scenario_context(scn, files, views), root="",
                       css=Markup((STATIC / "scrubber.css").read_text(encoding="utf-8")), script=Markup(script))


def iframe(scn: Scenario, views: list) -> str:
    """The document in an iframe sized to start near its height (it then fits itself)."""
    rows = len(views)
    guess = 150 + 330 * rows
    return (f'<iframe title="divfit scrubber: {html.escape(scn.title)}" srcdoc="{html.escape(document(scn, views))}" '
            f'style="width: 100%; height: {guess}px; border: 0;" loading="lazy"></iframe>')
