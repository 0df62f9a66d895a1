"""Lecture videos with manim: recorded trajectories animated, nothing computed.

manim (and PyAV, which remuxes its output) come with the `video` extra; a
build without them makes everything else and says how to add the videos.
"""

from __future__ import annotations

from importlib.util import find_spec

INSTALL_HINT = ("pip install 'divfit[video]' (manim builds against Cairo and Pango: "
                "apt-get install libcairo2-dev libpango1.0-dev pkg-config)")


def unavailable() -> str | None:
    """Why videos cannot be made here, in one line; None when they can."""
    missing = [name for name in ("manim", "av") if find_spec(name) is None]
    if not missing:
        return None
    return f"{' and '.join(missing)} not installed; for videos: {INSTALL_HINT}"
