"""Render one scenario's video.

manim's configuration is global: `render` sets it for the render and restores
it after, so the build renders in its own worker processes, and a caller whose
process is not ours (a notebook) renders in a fresh interpreter
(`render_in_subprocess`). A render (`render`, or `python -m
divcore.video.render SPEC.json`) remuxes the MP4 with `+faststart` (so
browsers and PowerPoint start playing before the download ends), writes a
poster PNG of the final frame, captions (WebVTT, from the recorded runs) and a
small JSON sidecar (the step shown at each frame's time and where q's marker
is drawn), each through a temporary file.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BuildError

# preset -> (width, height, frames per second); 4k for large halls' projectors
QUALITY = {"low": (854, 480, 15), "medium": (1280, 720, 30), "high": (1920, 1080, 60), "4k": (3840, 2160, 30)}
QUALITY_HELP = "low 480p15, medium 720p30, high 1080p60, 4k 2160p30"
# x264's settings (H.264, yuv420p as manim writes it: what PowerPoint, Keynote and browsers play).
# manim's crf 23 leaves grey blocks around text on white (2 % of the pixels 2-8 px from the
# title's ink more than 3 levels off white, some 5 levels). Against the frames as drawn (after
# yuv420p), veryfast at crf 11 loses no more than medium at crf 16 did on four videos
# (k-sweep, parameterizations, estimators-2d, sticking-the-landing: PSNR 49.4-52.1 dB against
# 48.9-51.4, white pixels more than 3 levels off 0.35-0.76 % against 0.36-0.75 %, more than 8
# levels 0.014-0.029 % against 0.016-0.034 %) for 0.4-0.5x x264's time and 1.3-1.6x the bytes:
# encoding was half of a video's build time. Sub-pixel refinement at its lowest (subme 1):
# 0.74-0.82x x264's time on the same four, for 1.01-1.03x the bytes, PSNR within 0.14 dB
# either way and white pixels off by more than 3 levels 0.34-0.70 % against 0.35-0.76 %.
# One thread: x264's output depends on how many it runs (by default, by the machine's
# cores), so the same scenario gave different bytes on different machines
ENCODER = {"crf": "11", "tune": "animation", "preset": "veryfast", "threads": "1", "x264-params": "subme=1"}
DEFAULT_SECONDS = 12.0


def companions(video: Path) -> dict[str, Path]:
    """Where a video and the files made with it go: the MP4, then beside it its
    poster, captions, chapters and sidecar (the keys a render spec names)."""
    video = Path(video)
    return {"video": video, "poster": video.with_name(f"{video.stem}-poster.png"),
            "captions": video.with_suffix(".vtt"), "chapters": video.with_name(f"{video.stem}.chapters.vtt"),
            "sidecar": video.with_name(f"{video.stem}.video.json")}


def spec_of(scn, records: list, quality: str, outputs: dict) -> dict:
    """What `render` needs to make a scenario's video from its `records` (paths
    of .npz files), written to `outputs` (as `companions` names them)."""
    return {"title": scn.title, "records": [str(p) for p in records], "seconds": scn.media.video_seconds,
            "snapshots": list(scn.media.snapshots), "quality": quality,
            **{k: str(v) for k, v in outputs.items()}}


def _replace(tmp: Path, dest: Path) -> None:
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


def remux_faststart(src: Path, dest: Path) -> None:
    """Copy the H.264 stream into a new MP4 whose index (moov) comes first."""
    import av

    with av.open(str(src)) as inp, av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        for packet in inp.demux(s_in):
            if packet.dts is None:
                continue
            packet.stream = s_out
            out.mux(packet)


POSTER_BAND = 0.12  # the poster's title band, as a share of its height


def poster(final, dest: Path, title: str) -> None:
    """What the video shows before it plays: its title in a band along the top,
    over its final frame (`final`, a PIL image, scaled to fit below it), at the
    video's size."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    from ..style import palette

    final = final.convert("RGB")
    W, H = final.size
    band = round(POSTER_BAND * H)
    scale = (H - band) / H
    out = Image.new("RGB", (W, H), "white")
    shrunk = final.resize((round(W * scale), H - band), Image.LANCZOS)
    out.paste(shrunk, ((W - shrunk.width) // 2, band))
    font_file = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"))
    size = round(band * 0.5)
    font = ImageFont.truetype(font_file, size)
    draw = ImageDraw.Draw(out)
    while draw.textlength(title, font=font) > 0.94 * W and size > 8:
        size -= 1
        font = ImageFont.truetype(font_file, size)
    draw.text((W / 2, band * 0.55), title, fill=palette()["text"], font=font, anchor="mm")
    out.save(dest, format="PNG")


def import_manim() -> None:
    """Import manim, leaving the process's logging and warnings as they were.

    manim's import sets logging up for the whole process: a handler on the
    root logger at INFO, PIL's and matplotlib's loggers at INFO. In a build
    worker that then drew a figure, fontTools printed every font it subset
    for a PDF (7,000 lines in a cold build). manim's own logger is its own."""
    import logging
    import warnings

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = logging.root.manager.loggerDict
    levels = {name: lg.level for name, lg in loggers.items() if isinstance(lg, logging.Logger)}
    with warnings.catch_warnings():
        import manim  # noqa: F401
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lg in list(loggers.items()):
        if isinstance(lg, logging.Logger) and name.split(".")[0] != "manim":
            lg.setLevel(levels.get(name, logging.NOTSET))


def render(spec: dict) -> None:
    """Render `spec` (title, records, seconds, snapshots, quality, and where to
    write the video, poster, captions, chapters and sidecar) in this process."""
    import_manim()
    from manim import config, tempconfig
    from PIL import Image

    from .captions import chapters, chapters_file, webvtt
    from .scene import HOLD_SECONDS, TITLE_SECONDS, DivfitScene, keys_sidecar

    width, height, fps = QUALITY[spec["quality"]]
    out = {k: Path(spec[k]) for k in ("video", "poster", "captions", "chapters", "sidecar")}
    out["video"].parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out["video"].parent, prefix=".render-") as tmp:
        settings = {
            "pixel_width": width, "pixel_height": height, "frame_rate": fps, "media_dir": tmp,
            "disable_caching": True, "verbosity": "ERROR", "progress_bar": "none", "renderer": "cairo",
            "output_file": "video", "write_to_movie": True, "format": "mp4",
            "video_encoder_options": dict(ENCODER),
        }
        # tempconfig puts `verbosity` back but not the level its setter gave manim's logger
        manim_logger = logging.getLogger("manim")
        level = manim_logger.level
        try:
            with tempconfig(settings):
                scene = DivfitScene({"title": spec["title"], "records": spec["records"], "duration": spec["seconds"]})
                scene.render()
                produced = Path(scene.renderer.file_writer.movie_file_path)
                # the camera still holds the last frame written: no need to decode the video for it
                final = Image.fromarray(scene.renderer.get_frame())
                panel = scene.panels[0]
                start = TITLE_SECONDS + 0.6  # title card, then the panels fade in
                sidecar = {
                    "width": width, "height": height, "fps": fps, "animation_start": start,
                    "step_times": [float(t) for t in panel.times],
                    "marker_px": [panel.marker_pixel(t, width, height) for t in range(panel.view.steps + 1)],
                    "frame_width_units": config.frame_width,
                    **keys_sidecar(panel, scene.key, width, height),
                }
                views = [p.view for p in scene.panels]
                captions = webvtt(spec["title"], views, panel.times, start, HOLD_SECONDS)
                marks = chapters(spec["title"], views, panel.times, start, HOLD_SECONDS, spec["snapshots"])
                sidecar["chapters"] = [list(c) for c in marks]  # where `divfit slides` stops
        finally:
            manim_logger.setLevel(level)
        tmp = Path(tmp)
        remux_faststart(produced, tmp / "fast.mp4")
        poster(final, tmp / "poster.png", spec["title"])
        (tmp / "sidecar.json").write_text(json.dumps(sidecar))
        (tmp / "captions.vtt").write_text(captions, encoding="utf-8")
        (tmp / "chapters.vtt").write_text(chapters_file(marks), encoding="utf-8")
        _replace(tmp / "fast.mp4", out["video"])
        _replace(tmp / "poster.png", out["poster"])
        _replace(tmp / "captions.vtt", out["captions"])
        _replace(tmp / "chapters.vtt", out["chapters"])
        _replace(tmp / "sidecar.json", out["sidecar"])
    # manim keeps the SVGs it parsed (the title card's formulas) by their files' paths, here
    # in the folder just removed: none can be asked for again, and a worker kept them all
    from manim.mobject.svg.svg_mobject import SVG_HASH_TO_MOB_MAP

    SVG_HASH_TO_MOB_MAP.clear()


def render_in_subprocess(spec: dict) -> None:
    """Render in a fresh interpreter; a failure becomes one BuildError line."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    try:
        proc = subprocess.run([sys.executable, "-m", "divcore.video.render", fh.name],
                              capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise BuildError(f"video render failed: {lines[-1] if lines else 'exit status ' + str(proc.returncode)}")


if __name__ == "__main__":
    render(json.loads(Path(sys.argv[1]).read_text()))
