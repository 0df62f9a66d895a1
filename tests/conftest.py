import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI explores the same examples every run: a red build always reproduces
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from divcore.core.target import Mixture

# A suite started in the background by a non-interactive shell (`make test &`)
# inherits SIGINT ignored, and so would every command the Ctrl-C tests start
# (they would check nothing but that): give the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: leave it
        pass


@pytest.fixture(scope="session", autouse=True)
def _manim_media_per_worker(tmp_path_factory):
    """manim writes each Text's glyphs to an SVG under config.media_dir (./media
    by default) and reuses a file that exists: test workers sharing one folder
    could read another's half-written file (a layout test failed so, once).
    Each worker gets its own folder."""
    try:
        from manim import config
    except ImportError:  # the base install: nothing draws with manim
        return
    config.media_dir = str(tmp_path_factory.getbasetemp() / "manim-media")


@pytest.fixture
def two_modes():
    return Mixture.create([-3.0, 2.0], [0.9, 0.7], [0.5, 0.5])


@pytest.fixture
def three_modes():
    return Mixture.create([-4.0, 0.5, 3.0], [0.6, 1.2, 0.4], [0.2, 0.5, 0.3])


def random_mixture(rng, max_components=3):
    C = int(rng.integers(1, max_components + 1))
    return Mixture.create(
        rng.uniform(-5, 5, C), np.exp(rng.uniform(np.log(0.1), np.log(3.0), C)), rng.uniform(0.1, 1.0, C)
    )


def run_config(**overrides):
    """A resolved run configuration with test defaults (what the parser would produce)."""
    from divcore.scenario.model import RunConfig, Start

    cfg = dict(
        name="t", divergence="kl", direction="reverse", estimator="exact", baseline="none",
        family="gaussian", parameterization="mu-logsigma", starts=(Start(0.5, 1.0),), start_grid=None,
        optimizer="adam", natural_gradient=False, clip=5.0, lr=0.05, lr_decay=0.0, steps=200,
        samples=16, seed=0, repeat=1, record_particles=True,
    )
    cfg.update(overrides)
    if cfg["estimator"] == "exact":
        cfg.update(samples=0, record_particles=False)
    return RunConfig(**cfg)


def target_of(p):
    from divcore.scenario.model import Component, Target

    return Target(tuple(Component(float(m), float(s), float(w)) for m, s, w in zip(p.means, p.stds, p.weights)))


def record_bytes(record: dict) -> bytes:
    """A record as the bytes its file would hold (without a config)."""
    import io

    from divcore import trajectory

    buf = io.BytesIO()
    trajectory.to_bytes_file(record, buf)
    return buf.getvalue()


# Debian's Chromium, driven by Playwright (which downloads no browser here)
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]


def _browser_or_skip():
    """`make test` sets DIVFIT_REQUIRE_BROWSER=1: there a missing browser fails the tests."""
    required = os.environ.get("DIVFIT_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed (make test installs it)")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")


@pytest.fixture(scope="session")
def browser():
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()
