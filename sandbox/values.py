"""What real Jira refuses in a value the service sends: a date or date-time field's format, a
comment's visibility. Each answer is Jira's own, with its source (sandbox/REAL_JIRA.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from jsm_autopilot.sandbox.state import SandboxError

# Jira's own formats, and nothing else: Python's isoformat (six-digit fraction, `+02:00`) and a
# date-time without its fraction or zone are refused (pycontribs/jira#1358, which lists what a
# Cloud site took and refused; sooperset/mcp-atlassian#709 and #863: "Error parsing time").
JIRA_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{2,3}[+-]\d{4}")
JIRA_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def moment_refused(schema_type: str | None, value: Any) -> str | None:
    """Jira's error for a date or date-time field's value it cannot parse; None when it takes it."""
    if value is None or schema_type not in ("date", "datetime"):
        return None
    if not isinstance(value, str):
        return "Operation value must be a string"
    pattern = JIRA_DATETIME if schema_type == "datetime" else JIRA_DATE
    if pattern.fullmatch(value):
        try:
            datetime.strptime(value[:10], "%Y-%m-%d")
            return None
        except ValueError:
            pass
    return f"Error parsing time: {value}" if schema_type == "datetime" else f"Error parsing date string: {value}"


PROJECT_ROLES = ("Administrators", "Service Desk Team", "Service Desk Customers")


def comment_visibility(value: Any) -> dict | None:
    """A comment's role or group restriction as Jira keeps it; an unknown role is refused with the
    message Cloud gives (atlassian/atlassian-mcp-server#105: "Role with id: Users does not exist.")."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("role", "group"):
        raise SandboxError(400, "", {"commentLevel": "Visibility must have a type of role or group."})
    name = str(value.get("value") or value.get("identifier") or "")
    if value["type"] == "role" and name not in PROJECT_ROLES:
        raise SandboxError(400, f"Role with id: {name} does not exist.")
    return {"type": value["type"], "value": name}
