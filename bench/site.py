"""`make bench`, the whole build: a cold `divfit build` of every scene in
scenes/ (medium-quality videos, one worker per core), a no-op rebuild, a
rebuild after editing one scenario's description and one after editing its
steps, each timed as the command a user types (start-up included), and the
size of build/site."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDITED = "chi-square"


def build(scenes: Path, out: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "divcore", "build", "--scenes", str(scenes), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: build failed: {proc.stderr.strip()}")
    return seconds, proc.stdout


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> int:
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        scenes, out = Path(tmp) / "scenes", Path(tmp) / "build"
        shutil.copytree(ROOT / "scenes", scenes)
        n = len(list(scenes.glob("*.toml")))
        print(f"divfit bench: the whole site ({n} scenes, medium videos, {jobs} workers)\n")
        cold, log = build(scenes, out)
        print(f"  cold build:                {cold:7.1f} s  (aim <= 180)")
        for line in log.splitlines():
            if ":" in line and ("built" in line or line.startswith("critical path")):
                print(f"      {line.strip()}")
        noop, _ = build(scenes, out)
        print(f"  no-op rebuild:             {noop:7.1f} s  (aim <= 2)")
        scene = scenes / f"{EDITED}.toml"
        text = scene.read_text()
        scene.write_text(text.replace('title = "', 'description = "Edited for the benchmark."\ntitle = "', 1)
                         if "description" not in text else text.replace("Pearson", "Karl Pearson", 1))
        desc, _ = build(scenes, out)
        print(f"  {EDITED} description edited: {desc:5.1f} s  (pages only)")
        scene.write_text(scene.read_text().replace("steps = 600", "steps = 700", 1))
        steps, _ = build(scenes, out)
        print(f"  {EDITED} steps edited:   {steps:7.1f} s  (its data, figures, GIF, video, pages)")
        print(f"  build/site: {size(out / 'site') / 1e6:.1f} MB in {sum(1 for p in (out / 'site').rglob('*') if p.is_file())} files "
              f"(build/ in all: {size(out) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
