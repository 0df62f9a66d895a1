"""JSON Schema (draft 2020-12) of scenario files, generated from the field tables
(one per dimension).

The schema never rejects a file the validator accepts: rules that span [fit]
and a run (an estimator inherited from [fit], say) cannot be expressed per
object and are left to the validator; the ones within one object are encoded
as if/then blocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import fields as F

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _node(f: F.Field) -> dict[str, Any]:
    json_type = {"table": "object", "array": "array"}.get(f.kind, f.kind)
    s: dict[str, Any] = {"description": f.doc, "type": json_type}
    if f.enum:
        s["enum"] = list(f.enum)
    for key, value in (
        ("pattern", f.pattern),
        ("minLength", f.min_length),
        ("maxLength", f.max_length),
        ("minItems", f.min_items),
        ("maxItems", f.max_items),
    ):
        if value is not None:
            s[key] = value
    if not f.range_if_monte_carlo:
        for key, value in (
            ("exclusiveMinimum", f.exclusive_minimum),
            ("minimum", f.minimum),
            ("maximum", f.maximum),
            ("exclusiveMaximum", f.exclusive_maximum),
        ):
            if value is not None:
                s[key] = value
    if f.kind == "table":
        s["properties"] = {c.name: _node(c) for c in f.fields}
        s["additionalProperties"] = False
        required = [c.name for c in f.fields if c.required]
        if required:
            s["required"] = required
    if f.kind == "array":
        s["items"] = _node(f.items)
    if f.default is not F.MISSING:
        s["default"] = f.default
    return s


def _when(condition: dict[str, Any], required: list[str], then: dict[str, Any]) -> dict[str, Any]:
    return {
        "if": {"properties": condition, "required": required},
        "then": {"properties": then},
    }


def _same_table_rules() -> list[dict[str, Any]]:
    """Rules the validator applies to [fit] and to each run alike."""
    return [{"not": {"required": ["start", "starts"]}}] + [
        _when(
            {key: {"enum": [c for c in option.choices if c != option.default]}},
            [key],
            {"estimator": {"enum": list(F.OPTION_TAKERS[key])}},
        )
        for key, option in F.ESTIMATOR_OPTIONS.items()
    ]


def _run_rules() -> list[dict[str, Any]]:
    """Rules that hold for a run once its own keys are known."""
    samples = F.RUN.child("samples")
    rules = [
        _when(
            {"divergence": {"const": div}, "direction": {"const": direction}},
            ["divergence", "direction", "estimator"],
            {"estimator": {"enum": list(valid)}},
        )
        for (div, direction), valid in F.ESTIMATORS.items()
    ]
    rules.append(
        _when(
            {"estimator": {"enum": list(F.MONTE_CARLO)}},
            ["estimator"],
            {"samples": {"minimum": samples.minimum, "maximum": samples.maximum}},
        )
    )
    for key, option in F.ESTIMATOR_OPTIONS.items():
        for choice in option.choices.values():
            if choice.min_samples > 1:
                rules.append(_when({key: {"const": choice.key}}, [key], {"samples": {"minimum": choice.min_samples}}))
    return rules


def _tree(top: F.Field) -> dict[str, Any]:
    schema = _node(top)
    props = schema["properties"]
    props["fit"]["allOf"] = _same_table_rules()
    props["runs"]["items"]["allOf"] = _same_table_rules() + _run_rules()
    return schema


# names the format, not an address: the schema travels with the package
# (divcore/scenario/scenario.schema.json) and `divfit schema` prints it
SCHEMA_ID = "urn:divfit:scenario"
SCHEMA_FILE = Path(__file__).resolve().parent / "scenario.schema.json"


def schema_text() -> str:
    """The schema as `divfit schema` prints it and the package ships it."""
    return json.dumps(json_schema(), indent=2) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (for `divfit schema` and editors): a file
    whose [target] says dim = 2 is checked against the plane's tree, any other
    against the line's."""
    plane = {"properties": {"target": {"properties": {"dim": {"const": 2}}, "required": ["dim"]}},
             "required": ["target"]}
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "divfit scenario",
        "description": F.SCENARIO.doc,
        "type": "object",
        "if": plane,
        "then": {"$ref": "#/$defs/plane"},
        "else": {"$ref": "#/$defs/line"},
        "$defs": {"line": _tree(F.TREES[1]), "plane": _tree(F.TREES[2])},
    }
