"""The files divfit ships beside its code: the site's sources (templates,
static files, the default prose) and the starter project `divfit init` copies.

In a checkout, or an editable install, they are the repository's own `site/`
folder; a wheel carries the same files as `divcore/_site` (pyproject.toml maps
the one onto the other), so an installed divfit builds sites anywhere.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _site_sources() -> Path:
    shipped = PACKAGE / "_site"
    return shipped if shipped.is_dir() else PACKAGE.parent / "site"


SITE = _site_sources()
TEMPLATES = SITE / "templates"
STATIC = SITE / "static"
CONTENT = SITE / "content"  # the prose: index.md (the front page's text) and article.md
STARTER = SITE / "starter"  # what `divfit init` writes
