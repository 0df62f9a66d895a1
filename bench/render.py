"""`make bench`, renderers: frames/s of a full distribution + landscape frame at
800 x 450 (blitted), and the time to build every figure and GIF of the scenes."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from divcore import pipeline
from divcore.render import animate
from divcore.render.view import RunView

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "importance-sampling-k.toml"


def main() -> int:
    scenes = sorted((ROOT / "scenes").glob("*.toml"))
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(tmp) / "build"
        start = time.perf_counter()
        P, rep = pipeline.build(scenes, build, jobs=1, stages=("data",))
        data_s = time.perf_counter() - start
        print(f"divfit bench: renderers ({len(scenes)} scenes in scenes/)\n")

        scn = pipeline.load_scenario(SCENE)
        view = RunView.load(pipeline.record_path(P.data_dir, scn, scn.run_named("k256")))
        anim = animate.Animator([animate.Cell(view, "k256")], 800, 1, 450 - 36)
        w, h = anim.size
        steps = animate.frame_steps(view.steps, 150)
        anim.frame(0)
        t = time.perf_counter()
        for s in steps:
            anim.frame(int(s))
        fps = len(steps) / (time.perf_counter() - t)
        anim.close()
        print(f"  one frame, distribution + landscape with particles, {w} x {h}: {fps:,.0f} frames/s (aim >= 40)")

        for stage in ("figures", "gif", "gallery"):
            start = time.perf_counter()
            P, rep = pipeline.build(scenes, build, jobs=1, stages=("data", stage))
            print(f"  {stage:<8} for every scene, one process: {time.perf_counter() - start:6.1f} s")
        sizes = sorted((p.stat().st_size, p.relative_to(build)) for p in (build / "media").rglob("*.gif"))
        print(f"  (data for every scene: {data_s:.1f} s)\n\n  GIF sizes (budgets: scenario 2.5 MB at 640 px, gallery 6 MB):")
        for size, path in sizes:
            print(f"    {size / 1e6:5.2f} MB  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
