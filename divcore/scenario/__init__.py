"""Scenario files: the declarative TOML format, its validation and its JSON Schema."""

from .model import Basins, Component, Diagnostics, Media, RunConfig, Scenario, Start, Target
from .parse import ScenarioError, load_scenario, parse_scenario
from .schema import json_schema

__all__ = [
    "Basins",
    "Component",
    "Diagnostics",
    "Media",
    "RunConfig",
    "Scenario",
    "ScenarioError",
    "Start",
    "Target",
    "json_schema",
    "load_scenario",
    "parse_scenario",
]
