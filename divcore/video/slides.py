"""A scenario's video as an offline presentation (`divfit slides`).

The video plays one segment and stops: the title card, then each chapter (the
start, each of the scenario's `[media] snapshots` steps), then the final state.
The presentation is a folder — `index.html` (the player: plain HTML and a few
lines of script, no library, nothing fetched) beside the MP4 and its poster —
that opens from `file://` on a laptop with no network, and advances with the
keys a presentation clicker sends (→, PageDown, Space; ← and PageUp go back).

Why not manim-slides: it renders a scene of its own per slide and its HTML
export loads reveal.js from a CDN; divfit already has the video and the
moments to stop at (the chapters), so stopping the one video at them is all a
presentation needs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..resources import TEMPLATES
from .render import companions


def stops(sidecar: dict, title: str) -> list[dict]:
    """Where the presentation rests, in video seconds, with what each stop
    shows: the first frame (the title card), the start of every chapter after
    it, and the end of the animation (the final state, which the closing hold
    only repeats)."""
    out = [{"t": 0.0, "name": title}]
    out += [{"t": round(t0, 3), "name": name} for t0, _, name in sidecar["chapters"][1:]]
    end = sidecar["animation_start"] + sidecar["step_times"][-1]
    if end - out[-1]["t"] > 1.0 / sidecar["fps"]:
        out.append({"t": end, "name": "The final state"})
    # the last stop in the closing hold, mid-way through its second frame: the frame at
    # `end` is the animation's last, drawn just before the tracker reaches the last step
    # (it shows "step 699 / 700"); the hold's frames after it show the final state
    if len(out) > 1:
        out[-1]["t"] = round(end + 1.5 / sidecar["fps"], 3)
    return out


def write(video: Path, dest: Path, title: str) -> Path:
    """The presentation of `video` (an MP4 `divfit video` made, with its
    companions) as the folder `dest`, replaced whole; returns its index.html."""
    files = companions(video)
    sidecar = json.loads(files["sidecar"].read_text())
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined)
    html = env.get_template("slides.html").render(
        title=title, video=files["video"].name, poster=files["poster"].name,
        width=sidecar["width"], height=sidecar["height"], fps=sidecar["fps"],
        stops_json=json.dumps(stops(sidecar, title)).replace("</", "<\\/"),
    )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for key in ("video", "poster", "captions"):
            _link_or_copy(files[key], staging / files[key].name)
        (staging / "index.html").write_text(html, encoding="utf-8")
        os.chmod(staging, 0o755)
        old = dest.with_name(f".{dest.name}.old")
        if dest.exists():
            os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest / "index.html"


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
