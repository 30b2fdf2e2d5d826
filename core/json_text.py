"""JSON read from files a user or a download hands us: one rule for a document too deep to parse."""

from __future__ import annotations

import json
from typing import Any


def parsed_json(data: str | bytes) -> Any:
    """json.loads, with a document nested deeper than Python's parser goes (`[[[[…`, which escaped as a
    RecursionError and a traceback) raised as the ValueError it is, as bad JSON and bad UTF-8 are."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
