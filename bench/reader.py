"""`make bench`, the reader's side: what the built pages cost a phone.

Builds a site of a few scenes at their full length (no videos: they play in
the browser's own player, not in our script), then in Debian's Chromium at
390 px wide and 3 device pixels per CSS pixel:

- the article (every scene's scrubber on one page) loaded with the CPU slowed
  4x, as Lighthouse's mobile run does: total blocking time (each main-thread
  task's time over 50 ms, summed, until the page settles) and the canvas
  memory it holds (every canvas's backing store);
- the K sweep played for 4 s: frame changes per second against the rate the
  recording plays at (its frames over 12 s);
- layout shift on each page while it loads over a slow network (150 ms, 1.6
  Mbit/s, as Lighthouse's mobile run), served on the loopback: the sum of
  unexpected shifts;
- Lighthouse's own mobile run of each page (performance and accessibility
  scores, total blocking time, layout shift, largest contentful paint), when
  it is installed (`sh tools/setup.sh lighthouse`, which `make bench` runs).

    python bench/reader.py [--keep DIR]   # DIR keeps the build for a rerun
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import threading
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCENES = ("k-sweep", "forward-reverse-kl", "importance-sampling-k", "reinforce-vs-reparam", "chi-square",
          "bishop-two-modes")
PLAYED = "k-sweep"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
PLAY_SECONDS = 12  # site/static/scrubber.js: a whole run at 1x

# collects long tasks and layout shifts from the first moment of the page
OBSERVE = """
window.__bench = {tbt: 0, tasks: 0, cls: 0};
new PerformanceObserver(l => l.getEntries().forEach(e => {
  window.__bench.tasks++; window.__bench.tbt += Math.max(0, e.duration - 50); })).observe({type: 'longtask', buffered: true});
new PerformanceObserver(l => l.getEntries().forEach(e => {
  if (!e.hadRecentInput) window.__bench.cls += e.value; })).observe({type: 'layout-shift', buffered: true});
"""
CANVAS_MB = "[...document.querySelectorAll('canvas')].reduce((a, c) => a + c.width * c.height * 4, 0) / 1e6"


def build(folder: Path) -> Path:
    from divcore import pipeline

    scenes, content = folder / "scenes", folder / "content"
    for d in (scenes, content):
        d.mkdir(parents=True, exist_ok=True)
    for name in SCENES:
        shutil.copy(ROOT / "scenes" / f"{name}.toml", scenes)
    (content / "index.md").write_text("# Reader benchmark\n\nThe scenes of the benchmark.\n")
    (content / "article.md").write_text("# Every scrubber\n\n" + "".join(
        f"## {name}\n\nScene {name}.\n\n::: scrubber {name}\n\n" for name in SCENES))
    stages = tuple(s for s in pipeline.STAGES if s != "video")
    P, _ = pipeline.build(sorted(scenes.glob("*.toml")), folder / "build", jobs=2, stages=stages, content=content)
    return P.site_dir


LIGHTHOUSE = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "lighthouse"


def _lighthouse(url: str) -> dict:
    """Lighthouse's mobile run of one page (its default: a phone, a slow 4G
    network and a 4x slower CPU, simulated)."""
    import json
    import os
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([str(LIGHTHOUSE), url, "--quiet", "--only-categories=performance,accessibility",
                        f"--chrome-flags=--headless=new {' '.join(FLAGS)}", "--output=json",
                        f"--output-path={report}"], env={**os.environ, "CHROME_PATH": CHROMIUM},
                       capture_output=True, check=True, timeout=300)
        r = json.loads(report.read_text())
    a, c = r["audits"], r["categories"]
    return {"performance": c["performance"]["score"] * 100, "accessibility": c["accessibility"]["score"] * 100,
            "tbt_ms": a["total-blocking-time"]["numericValue"], "cls": a["cumulative-layout-shift"]["numericValue"],
            "lcp_s": a["largest-contentful-paint"]["numericValue"] / 1000}


@contextmanager
def _served(folder: Path):
    """The folder over http on the loopback, for as long as the block runs."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def measure(site: Path) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            # the article with the CPU slowed 4x
            ctx = browser.new_context(**PHONE)
            page = ctx.new_page()
            page.add_init_script(OBSERVE)
            cdp = ctx.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            page.goto((site / "article.html").as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(4000)
            b = page.evaluate("window.__bench")
            out["article"] = {"tbt_ms": b["tbt"], "long_tasks": b["tasks"], "cls": b["cls"],
                              "canvas_mb": page.evaluate(CANVAS_MB)}
            ctx.close()
            # playback at 1x, on a fast phone and with the CPU slowed 4x
            out["playback"] = {}
            for slow in (1, 4):
                ctx = browser.new_context(**PHONE)
                page = ctx.new_page()
                ctx.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": slow})
                page.goto((site / "scenarios" / f"{PLAYED}.html").as_uri())
                page.wait_for_load_state("load")
                page.locator("section.scrubber").scroll_into_view_if_needed()
                page.wait_for_timeout(500)
                frames = page.evaluate("window.divfitScrubbers[0].frames.length")
                changes = page.evaluate("""() => new Promise(done => {
                    const s = document.querySelector('section.scrubber');
                    let n = 0; const seen = new MutationObserver(() => n++);
                    seen.observe(s, {attributes: true, attributeFilter: ['data-frame']});
                    s.querySelector('.sc-play').click();
                    setTimeout(() => { seen.disconnect(); done(n); }, 4000);
                  })""")
                out["playback"][slow] = {"changes_per_s": changes / 4, "recorded_per_s": frames / PLAY_SECONDS}
                ctx.close()
            # layout shift while each page loads over a slow network
            shifts = {}
            with _served(site) as root:
                for html in sorted(site.rglob("*.html")):
                    ctx = browser.new_context(**PHONE)
                    page = ctx.new_page()
                    page.add_init_script(OBSERVE)
                    cdp = ctx.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 150,
                                                                   "downloadThroughput": 1.6e6 / 8,
                                                                   "uploadThroughput": 750e3 / 8})
                    page.goto(root + html.relative_to(site).as_posix())
                    page.wait_for_load_state("load")
                    page.wait_for_timeout(600)
                    shifts[html.relative_to(site).as_posix()] = page.evaluate("window.__bench.cls")
                    ctx.close()
                out["lighthouse"] = {name: _lighthouse(root + name) for name in shifts} if LIGHTHOUSE.exists() else {}
            out["cls"] = shifts
        finally:
            browser.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", type=Path, help="build here and keep it (a rerun rebuilds only what changed)")
    ap.add_argument("--site", type=Path, help="measure this built site instead (e.g. one an older divfit built)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        print(f"divfit bench: the reader's side ({len(SCENES)} scenes at full length, 390 px, DPR 3)\n")
        site = args.site or build(folder)
        r = measure(site)
    a, p = r["article"], r["playback"]
    print(f"  article, CPU 4x slower:    total blocking time {a['tbt_ms']:7.0f} ms in {a['long_tasks']} long tasks "
          "(aim <= 200)")
    print(f"                             canvas memory       {a['canvas_mb']:7.1f} MB")
    for slow, q in p.items():
        print(f"  {PLAYED} playing, CPU {slow}x: {q['changes_per_s']:5.1f} frame changes/s of the recording's "
              f"{q['recorded_per_s']:.1f} ({q['changes_per_s'] / q['recorded_per_s']:.2f} of it)")
    for name, L in r.get("lighthouse", {}).items():
        print(f"  Lighthouse, mobile: {name:36} performance {L['performance']:3.0f}, accessibility "
              f"{L['accessibility']:3.0f}, TBT {L['tbt_ms']:4.0f} ms, CLS {L['cls']:.3f}, LCP {L['lcp_s']:.1f} s")
    worst = max(r["cls"], key=r["cls"].get)
    print(f"  layout shift:              worst {r['cls'][worst]:.3f} ({worst}; aim <= 0.02), "
          f"{sum(v > 0.02 for v in r['cls'].values())} of {len(r['cls'])} pages over 0.02")
    return 0


if __name__ == "__main__":
    sys.exit(main())
