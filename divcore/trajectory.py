"""Trajectory records on disk: `.npz` files, byte-identical for identical arrays.

`numpy.savez` stamps each member with the current time; here every member
gets a fixed timestamp and a fixed order, so the same arrays give the same
bytes. Files are written to a temporary name in the destination folder and
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

_EPOCH = (1980, 1, 1, 0, 0, 0)


def config_json(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def to_bytes_file(arrays: dict[str, np.ndarray], fh) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asarray(arrays[key]), allow_pickle=False)


class Staged:
    """Writes records to temporary files beside their destinations and renames
    them all into place only when the block ends without an exception; on an
    exception every temporary file is removed and nothing is replaced.

        with Staged() as out:
            out.save(path, record, config)
    """

    def __init__(self):
        self.pending: list[tuple[str, Path]] = []

    def save(self, path: Path, record: dict[str, np.ndarray], config: dict) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = dict(record, config=np.array(config_json(config)))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self.pending.append((tmp, path))
        with os.fdopen(fd, "wb") as fh:
            to_bytes_file(arrays, fh)
        os.chmod(tmp, 0o644)
        return path

    def __enter__(self) -> "Staged":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            for tmp, path in self.pending:
                os.replace(tmp, path)
        else:
            for tmp, _ in self.pending:
                Path(tmp).unlink(missing_ok=True)
        self.pending.clear()


def save(path: Path, record: dict[str, np.ndarray], config: dict) -> Path:
    """Write `record` plus its `config` (as a JSON string) atomically to `path`."""
    with Staged() as out:
        return out.save(path, record, config)


def load(path: Path) -> dict:
    """All arrays of a record; `config` comes back as a dict."""
    with np.load(path, allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    out["config"] = json.loads(str(out["config"]))
    return out


# ---------------------------------------------------------------- landscapes kept beside records
# A 1-D run is drawn over its divergence on a grid (`core.landscape.grid_for`),
# which the figures, the GIF, the video and the scrubber each need: a build's
# data stage evaluates it once and keeps it in `.landscape/` beside the record
# (outside the `<run>.npz` names the record layout reserves).


def landscape_path(record_path: Path) -> Path:
    record_path = Path(record_path)
    return record_path.parent / ".landscape" / record_path.name


def save_with_landscape(path: Path, record: dict[str, np.ndarray], config: dict, landscape=None) -> Path:
    """Write `record` (as `save`) and, if given, the landscape (phi0, phi1,
    value) it is drawn over, tagged with the same config: both files are
    replaced together or neither is. Without a landscape, one kept from an
    earlier record at `path` is removed (it would be another record's)."""
    with Staged() as out:
        out.save(path, record, config)
        if landscape is not None:
            arrays = {"phi0": landscape.phi0, "phi1": landscape.phi1, "value": landscape.value}
            out.save(landscape_path(path), arrays, config)
    if landscape is None:
        landscape_path(path).unlink(missing_ok=True)
    return Path(path)


def load_landscape(record_path: Path, config: dict, grid: tuple[np.ndarray, np.ndarray]):
    """The landscape kept for the record at `record_path`, if it was kept for a
    record of this `config` on exactly this `grid`; else None (also for a
    missing or unreadable file)."""
    from .core.landscape import Landscape

    try:
        kept = load(landscape_path(record_path))
        same_grid = all(np.array_equal(kept[k], g) for k, g in zip(("phi0", "phi1"), grid))
        if kept["config"] != config or not same_grid:
            return None
        return Landscape(kept["phi0"], kept["phi1"], kept["value"])
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        return None
