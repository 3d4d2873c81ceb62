"""How a ticket came in. Jira exposes the request channel to JQL (`request-channel-type`), not as
an issue field, so the connector asks, and only about tickets where intake.email_request could fire."""

from __future__ import annotations

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.jql import jql_string
from jsm_autopilot.rules.model import Ticket
from jsm_autopilot.rules.reclassify import EMAIL


def _scope(settings: Settings) -> str:
    return (f"project = {jql_string(settings.project.key)} AND status = {jql_string(settings.statuses.opened)} "
            f"AND issuetype != {jql_string(settings.issue_types.request)} AND request-channel-type = email")


def email_tickets(client: JiraClient, settings: Settings) -> set[str]:
    """Keys of the Opened, not-yet-Request tickets that came in by e-mail (one search)."""
    if not settings.is_enabled(EMAIL):
        return set()
    return {issue["key"] for issue in client.search(_scope(settings), ["id"])}


def needs_channel(ticket: Ticket, settings: Settings) -> bool:
    return (settings.is_enabled(EMAIL) and ticket.status == settings.statuses.opened
            and ticket.type != settings.issue_types.request and not ticket.fired(EMAIL))


def came_by_email(client: JiraClient, settings: Settings, key: str) -> bool:
    return any(True for _ in client.search(f"{_scope(settings)} AND key = {jql_string(key)}", ["id"], page_size=1))
