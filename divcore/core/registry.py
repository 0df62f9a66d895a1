"""Ordered tables of named things, each entry carrying its key, its reader's
label and whatever makes it work.

Every name a scenario file may use (divergence, direction, estimator and its
options, family, parameterization, optimizer) is defined once, in the
registry of the module that implements it. The scenario format, the JSON
Schema, error messages, figure, video and page labels all read from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Iterator, Protocol, TypeVar


class Named(Protocol):
    key: str
    label: str


E = TypeVar("E", bound=Named)


class Registry(Generic[E]):
    """Entries by key, in the order they were registered (the order lists and
    tables show them in). Reads like a dict: iterating gives the keys,
    `values()` the entries; an unknown key is a ValueError naming the allowed ones."""

    def __init__(self, what: str, entries: tuple[E, ...] | list[E], default: str | None = None):
        self.what = what
        self.default = default  # what a scenario file gets when it does not say
        self._entries: dict[str, E] = {}
        for e in entries:
            if e.key in self._entries:
                raise ValueError(f"{what} {e.key!r} registered twice")
            self._entries[e.key] = e
        if default is not None and default not in self._entries:
            raise ValueError(f"default {what} {default!r} is not registered")

    def __getitem__(self, key: str) -> E:
        try:
            return self._entries[key]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.what} {key!r}; allowed: {', '.join(self._entries)}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def values(self) -> tuple[E, ...]:
        return tuple(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def label(self, key: str) -> str:
        return self[key].label


@dataclass(frozen=True)
class Choice:
    """One value of an option with a fixed set of values."""

    key: str
    label: str  # what a reader sees, e.g. "leave-one-out baseline"
    doc: str = ""
    min_samples: int = 1  # the least K this choice works with


@dataclass(frozen=True)
class Option:
    """A setting an entry takes besides its key (an estimator's baseline)."""

    key: str
    doc: str
    choices: Registry[Choice]
    default: str
