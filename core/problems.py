"""A task's recorded problem: a catalogue key with parameters, or a platform's own words."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_PREFIX = "key:"


@dataclass(frozen=True)
class Problem:
    """Why a task failed or waits; `key` is None when only the raw text is known."""

    raw: str
    key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def encode_problem(key: str, params: dict[str, Any]) -> str:
    """Return the stored form of a catalogue problem."""
    return _PREFIX + json.dumps({"key": key, "params": params}, ensure_ascii=False, default=str)


def decode_problem(stored: str | None) -> Problem | None:
    """Return the problem recorded in a task's `error` column."""
    if not stored:
        return None
    if stored.startswith(_PREFIX):
        try:
            data = json.loads(stored[len(_PREFIX) :])
            return Problem(stored, str(data["key"]), dict(data.get("params") or {}))
        except (ValueError, KeyError, TypeError):
            return Problem(stored)
    return Problem(stored)
