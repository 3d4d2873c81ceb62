"""Ticket snapshots for core tests, and a small model of what Jira does with the actions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from itertools import count

from jsm_autopilot.rules.actions import Action, InternalComment, PublicComment, Transition
from jsm_autopilot.rules.model import Comment, Firing, Role, Ticket

AUTOMATION = "5b10ac8d82e05b22cc7d4ef5"
CUSTOMER = "qm:customer"
PARTICIPANT = "qm:participant"
AGENT = "712020:agent"

_ids = count(1)


def comment(role: Role, at: datetime, body: str = "text", public: bool = True, rule: str | None = None, author: str | None = None) -> Comment:
    default_author = {Role.CUSTOMER: CUSTOMER, Role.AGENT: AGENT, Role.AUTOMATION: AUTOMATION}[role]
    return Comment(str(next(_ids)), author or default_author, role, public, at, body, rule)


def waiting_ticket(since: datetime, *comments: Comment, status: str = "Clarification required / On hold", language: str = "en") -> Ticket:
    return Ticket(
        key="SD-1",
        type="Incident",
        status=status,
        status_since=since,
        created=since,
        organisation="Acme Learning Ltd",
        language=language,
        reporter=CUSTOMER,
        participants=frozenset({PARTICIPANT}),
        comments=tuple(comments),
    )


def resolved_ticket(since: datetime, *comments: Comment, status: str = "Resolved", language: str = "en") -> Ticket:
    return replace(waiting_ticket(since, *comments, status=status, language=language), resolved=since)


def after_actions(ticket: Ticket, actions: list[Action], at: datetime) -> Ticket:
    """The ticket as Jira would show it once the actions were applied at `at`."""
    comments = list(ticket.comments)
    firings = list(ticket.firings) + [Firing(rule, at) for rule in dict.fromkeys(a.rule for a in actions)]
    status, since = ticket.status, ticket.status_since
    for action in actions:
        if isinstance(action, (PublicComment, InternalComment)):
            comments.append(
                Comment(str(next(_ids)), AUTOMATION, Role.AUTOMATION, isinstance(action, PublicComment), at, action.body, action.rule)
            )
        elif isinstance(action, Transition):
            status, since = action.to_status, at
    return replace(ticket, comments=tuple(comments), firings=tuple(firings), status=status, status_since=since)
