"""Intake and reclassification (guide 2.5, 2.5.1, chapter 3): what follows an agent's decision."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from jsm_autopilot.rules.actions import Action, FieldChange, LinkedIssue, Transition, audit_note
from jsm_autopilot.rules.clock import add_duration
from jsm_autopilot.rules.model import Role, Ticket, require_aware
from jsm_autopilot.rules.wording import local_time, public_comment

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

EMAIL = "intake.email_request"
ACCEPT = "intake.accept"
PRIORITY = "reclassify.priority"
SUGGESTION = "reclassify.suggestion"
CONSULTING = "reclassify.consulting"
CONFIDENTIAL = "reclassify.confidential"
YES = frozenset({"yes", "ja", "true"})


def open_statuses(settings: "Settings") -> tuple[str, ...]:
    """Statuses in which agents still work on a ticket."""
    done = {settings.statuses.resolved, settings.statuses.closed, settings.statuses.delivered,
            settings.statuses.installation_completed}
    return tuple(s for role, s in settings.statuses.model_dump().items() if role != "hand_back_to" and s not in done)


def _is_open(ticket: Ticket, settings: "Settings") -> bool:
    return ticket.complete and ticket.status in open_statuses(settings)


def settled_at(ticket: Ticket, settings: "Settings") -> datetime | None:
    """When an agent's type change has held long enough to tell the customer; None: unknown."""
    if ticket.type_since is None or ticket.type_since == ticket.created:
        return None
    return add_duration(ticket.type_since, settings.reclassification.grace, settings.project.zone)


def _handled_since_type_change(ticket: Ticket, rule: str) -> bool:
    return bool(ticket.fired(rule, since=ticket.type_since))


def recent(moment: datetime | None, now: datetime, settings: "Settings") -> bool:
    """Within `reclassification.window` of now: older events predate the automation's watch."""
    return moment is not None and now < add_duration(moment, settings.reclassification.window, settings.project.zone)


def _reclassified_recently(ticket: Ticket, now: datetime, settings: "Settings") -> bool:
    """The type was changed after creation (a reclassification), and not long ago."""
    return ticket.type_since is not None and ticket.type_since != ticket.created and recent(ticket.type_since, now, settings)


def email_is_a_request(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`intake.email_request`: a ticket that came in by e-mail is typed Request (2.5), unless an
    agent has already given it a type."""
    require_aware(now, "now")
    request = settings.issue_types.request
    if not ticket.complete or ticket.channel != "email" or ticket.status != settings.statuses.opened or ticket.type == request:
        return []
    if ticket.fired(EMAIL) or (ticket.type_since is not None and ticket.type_since != ticket.created):
        return []
    reason = f"the ticket came in by e-mail, and e-mail tickets open as {request} (it was {ticket.type})"
    return [FieldChange(ticket.key, EMAIL, reason, field="issuetype", value={"name": request}),
            audit_note(ticket.key, EMAIL, reason)]


def accept_on_first_response(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`intake.accept`: an agent's first public answer on an Opened ticket accepts it."""
    require_aware(now, "now")
    if not ticket.complete or ticket.status != settings.statuses.opened:
        return []
    answers = [c for c in ticket.comments if c.role is Role.AGENT and c.public]
    if not answers:
        return []
    accepted = answers[0].created
    reason = f"the service desk first answered on {local_time(accepted, settings)}; resolution time starts then"
    actions: list[Action] = []
    if settings.fields.accepted_at:
        actions.append(FieldChange(ticket.key, ACCEPT, reason, field=settings.fields.accepted_at, value=accepted))
    actions.append(Transition(ticket.key, ACCEPT, reason, to_status=settings.statuses.in_review, transition=settings.transitions.accept))
    actions.append(audit_note(ticket.key, ACCEPT, reason))
    return actions


def defect_priority(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`reclassify.priority`: a Software Defect is never P1; a defect without a priority gets a request."""
    require_aware(now, "now")
    types = settings.issue_types
    if not _is_open(ticket, settings) or ticket.type not in (types.software_defect, types.non_software_defect):
        return []
    priorities = settings.priorities
    if ticket.type == types.software_defect and ticket.priority == priorities.p1:
        reason = (f"a {types.software_defect} cannot be {priorities.p1}: {priorities.p1} is for system availability, "
                  f"a {types.non_software_defect}; set to {priorities.p2}")
        return [FieldChange(ticket.key, PRIORITY, reason, field="priority", value={"name": priorities.p2}),
                audit_note(ticket.key, PRIORITY, reason)]
    if ticket.priority is None and _reclassified_recently(ticket, now, settings) and not _handled_since_type_change(ticket, PRIORITY):
        allowed = f"{priorities.p2}-{priorities.p4}" if ticket.type == types.software_defect else f"{priorities.p1}-{priorities.p4}"
        reason = f"a {ticket.type} needs a priority ({allowed}); please set one"
        return [audit_note(ticket.key, PRIORITY, reason)]
    return []


def _after_reclassification(ticket: Ticket, now: datetime, settings: "Settings", wanted_type: str, rule: str) -> bool:
    if not _is_open(ticket, settings) or ticket.type != wanted_type or _handled_since_type_change(ticket, rule):
        return False
    if not _reclassified_recently(ticket, now, settings):
        return False
    settled = settled_at(ticket, settings)
    return settled is None or now >= settled


def forward_suggestion(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`reclassify.suggestion`: tell the customer it went to product management, then resolve."""
    require_aware(now, "now")
    if not _after_reclassification(ticket, now, settings, settings.issue_types.suggestion, SUGGESTION):
        return []
    reason = f"reclassified as {settings.issue_types.suggestion}: forwarded to product management and resolved"
    actions: list[Action] = [public_comment(ticket, SUGGESTION, reason, "reclassify_suggestion", settings)]
    product_management = settings.reclassification.product_management
    if product_management is not None:
        actions.append(LinkedIssue(ticket.key, SUGGESTION, reason, project=product_management.project,
                                   issue_type=product_management.issue_type, summary=f"Suggestion from {ticket.key}",
                                   link_type=product_management.link_type))
    actions.append(Transition(ticket.key, SUGGESTION, reason, to_status=settings.statuses.resolved, transition=settings.transitions.resolve))
    actions.append(audit_note(ticket.key, SUGGESTION, reason))
    return actions


def consulting_budget(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`reclassify.consulting`: the customer learns it is charged; without a budget, agents are warned."""
    require_aware(now, "now")
    if not _after_reclassification(ticket, now, settings, settings.issue_types.consulting_request, CONSULTING):
        return []
    organisation = settings.organisations.get(ticket.organisation or "")
    if organisation is not None and not organisation.extended_support_budget:
        reason = (f"reclassified as {settings.issue_types.consulting_request}, but {ticket.organisation} has no extended "
                  f"support budget: agree the effort with the customer (sales) before working on it")
        return [audit_note(ticket.key, CONSULTING, reason)]
    reason = f"reclassified as {settings.issue_types.consulting_request}: the effort is charged to the extended support budget"
    return [public_comment(ticket, CONSULTING, reason, "reclassify_consulting", settings), audit_note(ticket.key, CONSULTING, reason)]


def is_confidential(ticket: Ticket) -> bool:
    """The ticket's "confidential personal data" answer is Yes (in English or German)."""
    return str(ticket.custom_fields.get("confidential")).strip().lower() in YES


def confidential_region(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`reclassify.confidential`: confidential personal data is seen only by the region's support staff."""
    require_aware(now, "now")
    if not ticket.complete or ticket.status == settings.statuses.closed or not is_confidential(ticket):
        return []
    organisation = settings.organisations.get(ticket.organisation or "")
    region = organisation.region if organisation is not None else None
    level = settings.regions[region].security_level if region is not None else None
    if level is None:
        # Nothing to restrict it to: agents must do it by hand; they are told once.
        if ticket.fired(CONFIDENTIAL):
            return []
        missing = (f"no support region is set for {ticket.organisation or 'this organisation'} (organisations.<name>.region "
                   f"in app.yaml)" if region is None else
                   f"region {region} names no issue security level (regions.{region}.security_level in app.yaml)")
        return [audit_note(ticket.key, CONFIDENTIAL, f"confidential personal data, but {missing}: restrict the ticket by hand")]
    if ticket.security_level == level:
        return []
    reason = f"confidential personal data: visible only to the {region} support staff (issue security level {level})"
    return [FieldChange(ticket.key, CONFIDENTIAL, reason, field="security", value={"id": level}),
            audit_note(ticket.key, CONFIDENTIAL, reason)]
