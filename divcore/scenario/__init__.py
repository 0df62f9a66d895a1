"""Scenario files: the declarative TOML format, its validation and its JSON Schema."""

from .model import Basins, Component, Component2, Diagnostics, FigureStyle, Media, RunConfig, Scenario, Start, Start2, Target
from .parse import ScenarioError, load_scenario, parse_figure, parse_scenario, parse_table
from .schema import SCHEMA_FILE, json_schema, schema_text

__all__ = [
    "Basins",
    "Component",
    "Component2",
    "Diagnostics",
    "FigureStyle",
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
    "parse_figure",
    "parse_scenario",
    "parse_table",
]
