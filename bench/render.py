"""`make bench`, renderers: frames/s of a full distribution + landscape frame at
800 x 450 (blitted), the time to build every figure and GIF of the scenes, and
video rendering speed at the medium preset."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from divcore import pipeline
from divcore.render import animate
from divcore.render.view import RunView

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "importance-sampling-k.toml"


def _video_seconds(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        return c.duration / 1e6


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
        anim = animate.Animator([animate.Cell(view, "k256")], 800, 1, 450 - 54)  # 54 px of margins
        w, h = anim.size
        steps = animate.frame_steps(view.steps, 150)
        anim.frame(0)
        t = time.perf_counter()
        for s in steps:
            anim.frame(int(s))
        fps = len(steps) / (time.perf_counter() - t)
        print(f"  one frame, distribution + landscape with particles, {w} x {h}: {fps:,.0f} frames/s (aim >= 40)")

        for stage in ("figures", "gif", "gallery"):
            start = time.perf_counter()
            P, rep = pipeline.build(scenes, build, jobs=1, stages=("data", stage))
            print(f"  {stage:<8} for every scene, one process: {time.perf_counter() - start:6.1f} s")
        # videos: render seconds per second of video, at the site's medium preset
        start = time.perf_counter()
        P, rep = pipeline.build([SCENE], build, jobs=1, stages=("data", "video"), quality="medium")
        one = time.perf_counter() - start
        length = _video_seconds(P.outputs("video")[0])
        print(f"  one medium video ({SCENE.stem}, {length:.1f} s of 720p30): {one:.1f} s to render, "
              f"{one / length:.2f} s per second of video (aim < 1)")
        start = time.perf_counter()
        jobs = os.cpu_count() or 1
        P, rep = pipeline.build(scenes, build, jobs=jobs, stages=("data", "video"), quality="medium")
        total = sum(_video_seconds(p) for p in P.outputs("video") if p.suffix == ".mp4")
        print(f"  every scene's medium video, {jobs} processes: {time.perf_counter() - start:.1f} s "
              f"for {total:.0f} s of video")
        sizes = sorted((p.stat().st_size, p.relative_to(build)) for p in (build / "media").rglob("*.gif"))
        print(f"  (data for every scene: {data_s:.1f} s)\n\n  GIF sizes (budgets: scenario 2.5 MB at 640 px, gallery 6 MB):")
        for size, path in sizes:
            print(f"    {size / 1e6:5.2f} MB  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
