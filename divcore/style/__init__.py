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
