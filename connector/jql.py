"""JQL written by the connector: names and keys are data, quoted, never pasted in raw."""

from __future__ import annotations


def jql_string(value: str) -> str:
    """A JQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
