"""A training spec as flat key → value pairs, and where two specs differ (the compare page).

Nested keys are joined with dots and list items indexed (`data.features[0].path`); a list of plain
values is one entry, its JSON (`train.classifier_features`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_SHOWN = 240  # characters of a value a page shows


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def flatten(value, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and value and any(isinstance(item, (dict, list)) for item in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: _json(value)} if prefix else {}


@dataclass
class Difference:
    key: str
    a: str | None
    b: str | None

    @property
    def differs(self) -> bool:
        return self.a != self.b


def compare_specs(a: dict, b: dict) -> list[Difference]:
    """Every key of either spec, those that differ first, each group in key order."""
    flat_a, flat_b = flatten(a or {}), flatten(b or {})
    rows = [Difference(key, flat_a.get(key), flat_b.get(key)) for key in sorted(flat_a.keys() | flat_b.keys())]
    return [r for r in rows if r.differs] + [r for r in rows if not r.differs]


def shorten(value: str | None) -> str:
    if value is None:
        return "(absent)"
    return value if len(value) <= MAX_SHOWN else f"{value[:MAX_SHOWN - 1]}… ({len(value):,} characters)"
