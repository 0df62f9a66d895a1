"""Scenario files: the declarative TOML format, its validation and its JSON Schema."""

from .model import Basins, Component, Component2, Diagnostics, Media, RunConfig, Scenario, Start, Start2, Target
from .parse import ScenarioError, load_scenario, parse_scenario
from .schema import SCHEMA_FILE, json_schema, schema_text

__all__ = [
    "Basins",
    "Component",
    "Component2",
    "Diagnostics",
    "Media",
    "RunConfig",
    "Scenario",
    "ScenarioError",
    "Start",
    "Start2",
    "Target",
    "SCHEMA_FILE",
    "json_schema",
    "schema_text",
    "load_scenario",
    "parse_scenario",
]
