"""Lossy WebP, the one way media are encoded for the web (previews, posters,
the scrubber's colour washes)."""

from __future__ import annotations

import io

from PIL import Image

# libwebp's effort: 6 (its most) took 2x the time of 5 for 0.8 % fewer bytes at the
# same PSNR on k-sweep's summary, the basins map and textbook's snapshots at 1000 px
METHOD = 5


def webp(image: Image.Image, quality: int) -> bytes:
    """`image` (RGB) as lossy WebP bytes at `quality` (0-100)."""
    buf = io.BytesIO()
    image.save(buf, format="WEBP", quality=quality, method=METHOD)
    return buf.getvalue()
