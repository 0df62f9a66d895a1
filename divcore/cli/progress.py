"""A one-line progress display on stderr; silent when stderr is not a terminal (CI, pipes)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.total = max(total, 1)
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        total = total or self.total
        now = time.monotonic()
        if 0 < done < total and now - self.last < 0.1:
            return
        self.last = now
        frac = done / total
        elapsed = now - self.start
        eta = f" ETA {elapsed * (1 - frac) / frac:5.1f}s" if 0 < frac < 1 else ""
        bar = "#" * int(24 * frac)
        self.stream.write(f"\r{self.label} [{bar:<24}] {100 * frac:3.0f}%{eta}   ")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
