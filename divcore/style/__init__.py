"""The one visual language of divfit: palette.json (read by every renderer,
the videos and the site) and the matplotlib style file beside it."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
PALETTE_FILE = HERE / "palette.json"
MPLSTYLE_FILE = HERE / "divfit.mplstyle"


@lru_cache(maxsize=1)
def palette() -> dict:
    data = json.loads(PALETTE_FILE.read_text())
    data.pop("_comment", None)
    return data


def fingerprint() -> str:
    """A hash of the style definitions, for build keys of anything drawn with them."""
    h = hashlib.sha256()
    for f in (PALETTE_FILE, MPLSTYLE_FILE):
        h.update(f.read_bytes())
    return h.hexdigest()


RUG_LEVELS = 4  # particle contributions are drawn in this many shades of their sign's colour


def shades(colour: str, levels: int = RUG_LEVELS) -> list[str]:
    """`colour` mixed with white, from faint (1/levels of it) to full: exact,
    opaque colours, so a GIF palette can hold every one of them."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    out = []
    for k in range(1, levels + 1):
        f = k / levels
        out.append("#" + "".join(f"{round(255 - f * (255 - c)):02X}" for c in rgb))
    return out


RUG_FLOOR = 1e-9


def rug_level(coef):
    """Which shade (0 faintest .. RUG_LEVELS - 1 full) each particle is drawn in:
    its coefficient's magnitude relative to the step's largest. Coefficients
    below `RUG_FLOOR` are rounding noise (sticking the landing at q = p, say)
    and are drawn faintest, however the step's others compare."""
    import numpy as np

    mag = np.abs(coef) / max(float(np.abs(coef).max(initial=0.0)), RUG_FLOOR)
    return np.clip(np.ceil(mag * RUG_LEVELS).astype(int) - 1, 0, RUG_LEVELS - 1)


def all_colours() -> list[str]:
    """Every colour the style draws with, for building exact GIF palettes."""
    pal = palette()
    found = ["#FFFFFF", "#000000"]
    for value in pal.values():
        values = value.values() if isinstance(value, dict) else [value]
        found += [v for v in values if isinstance(v, str) and v.startswith("#")]
    found += shades(pal["positive"]) + shades(pal["negative"])
    return list(dict.fromkeys(c.upper() for c in found))
