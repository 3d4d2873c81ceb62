"""Every rule of PROCESS.md, with its id and whether it is implemented yet. Nothing pretends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Sequence

from jsm_autopilot.rules import deliveries, escalation, hours, oncall, reclassify, sla, timers, triage
from jsm_autopilot.rules.actions import REFUSED, Action, Deferred
from jsm_autopilot.rules.model import Ticket, require_aware

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

RuleFunction = Callable[[Ticket, datetime, "Settings"], list[Action]]


@dataclass(frozen=True)
class Rule:
    id: str
    chapter: str
    summary: str
    function: RuleFunction | None = None
    # What the rule does with this site's numbers and names, for `check`.
    describe: Callable[["Settings"], str] | None = None
    # The statuses a ticket must be in for the rule to fire: the sweep's JQL asks for just these.
    candidate_statuses: Callable[["Settings"], tuple[str, ...]] | None = None
    # Rules that decide on a Delivery ticket with the tickets it concerns (rules/deliveries.py),
    # evaluated through `deliveries.evaluate_delivery` rather than per ticket.
    on_delivery_view: bool = False
    # A rule that shapes the others' actions rather than making its own (hours.window).
    shapes_others: bool = False
    # For a rule that falls due with time alone (a timer, an SLA clock): when it next may, if
    # nothing changes in Jira. Other rules fire on a change, which the sweep finds by `updated`.
    due_at: Callable[[Ticket, datetime, "Settings"], datetime | None] | None = None

    @property
    def implemented(self) -> bool:
        return self.function is not None or self.on_delivery_view or self.shapes_others


def _reminder_schedule(settings: "Settings") -> str:
    timers_ = settings.timers.clarification
    marks, total = [], timers_.reminder_every
    for _ in range(timers_.reminders):
        marks.append(str(total))
        total = total + timers_.reminder_every
    return (
        f"public reminder after {', '.join(marks)} in {settings.statuses.clarification!r} "
        f"without customer feedback ({timers_.reminders} reminders, {timers_.reminder_every} apart)"
    )


def _clarification_close(settings: "Settings") -> str:
    timers_ = settings.timers.clarification
    total = timers_.close_after_last_reminder
    for _ in range(timers_.reminders):
        total = total + timers_.reminder_every
    return (
        f"close {timers_.close_after_last_reminder} after reminder {timers_.reminders} "
        f"({total} in all) with a public comment, to {settings.statuses.closed!r}"
    )


def _sla_targets(settings: "Settings", which: str, span: str) -> str:
    targets = [f"{getattr(settings.priorities, role)} {getattr(target, which)}"
               for role, target in settings.sla.targets.items() if getattr(target, which) is not None]
    overrides = sum(1 for o in settings.organisations.values() if any(getattr(t, which) for t in o.sla.values()))
    return (f"working-time targets {', '.join(targets) or 'none set (sla.targets)'}"
            + (f" ({overrides} organisation(s) with their own)" if overrides else "")
            + f" {span}; the team lead is told at {settings.sla.warn_at:.0%}, the next escalation level when missed")


def _waiting(settings: "Settings") -> tuple[str, ...]:
    return (settings.statuses.clarification,)


def _resolved(settings: "Settings") -> tuple[str, ...]:
    return (settings.statuses.resolved,)


RULES: tuple[Rule, ...] = (
    Rule(
        reclassify.EMAIL, "2.5", "a ticket that arrived by e-mail is typed Request",
        reclassify.email_is_a_request,
        lambda s: f"a ticket that came in by e-mail (JQL request-channel-type = email) is typed {s.issue_types.request!r}",
        lambda s: (s.statuses.opened,),
    ),
    Rule("intake.email_share", "2.5", "an e-mailed ticket without an organisation is shared with its reporter's one organisation"),
    Rule(
        reclassify.ACCEPT, "3", "first agent response moves Opened to In Review and records acceptance",
        reclassify.accept_on_first_response,
        lambda s: f"an agent's first public answer moves {s.statuses.opened!r} to {s.statuses.in_review!r}"
                  + (f" and records it in {s.fields.accepted_at}" if s.fields.accepted_at else ""),
        lambda s: (s.statuses.opened,),
    ),
    Rule(
        triage.SUGGEST, "2.5", "suggest the likely target type as an internal comment",
        triage.suggest_type,
        lambda s: f"an internal note suggesting the type of a new {s.issue_types.incident} or {s.issue_types.request} "
                  f"({sum(len(w) for by in s.triage.vocabulary.values() for w in by.values())} keywords, "
                  f"at least {s.triage.min_matches} to match)",
        lambda s: (s.statuses.opened, s.statuses.in_review),
    ),
    Rule(
        reclassify.PRIORITY, "2.5.1", "defects need a priority; a Software Defect at P1 becomes P2",
        reclassify.defect_priority,
        lambda s: f"a {s.issue_types.software_defect} at {s.priorities.p1} goes to {s.priorities.p2}; a defect without priority gets a request",
        reclassify.open_statuses,
    ),
    Rule(
        reclassify.SUGGESTION, "3.6", "Suggestion: forwarded-to-product-management comment, then Resolved",
        reclassify.forward_suggestion,
        lambda s: f"{s.reclassification.grace} after a change to {s.issue_types.suggestion}: public comment, then {s.statuses.resolved!r}",
        reclassify.open_statuses,
    ),
    Rule(
        reclassify.CONSULTING, "3.3", "Consulting Request: budget comment, or a warning without budget",
        reclassify.consulting_budget,
        lambda s: f"{s.reclassification.grace} after a change to {s.issue_types.consulting_request}: budget comment, "
                  f"or a warning for agents where the organisation has no budget",
        reclassify.open_statuses,
    ),
    Rule(
        reclassify.CONFIDENTIAL, "2.5", "confidential data: issue security level of the customer's region",
        reclassify.confidential_region,
        lambda s: f"confidential answer Yes: issue security level of the organisation's region ({len(s.regions)} region(s))",
        lambda s: tuple(x for x in reclassify.open_statuses(s)) + (s.statuses.resolved,),
    ),
    Rule(
        timers.REMINDER, "2.9", "public reminders while waiting for customer feedback",
        timers.due_reminder, _reminder_schedule, _waiting,
        due_at=lambda t, now, s: timers.clarification_due_at(t, s),
    ),
    Rule(
        timers.CLARIFICATION_CLOSE, "2.9", "close a waiting ticket after the last reminder",
        timers.due_clarification_close, _clarification_close, _waiting,
        due_at=lambda t, now, s: timers.clarification_due_at(t, s),
    ),
    Rule(
        timers.RESET, "2.9", "a customer comment restarts the reminder clock",
        timers.clock_reset_by_customer,
        lambda s: "a comment by the reporter or a participant restarts the clock; agents get a note",
        _waiting,
    ),
    Rule(
        timers.RESOLVED_CLOSE, "2.9", "close a Resolved ticket without customer feedback",
        timers.due_resolved_close,
        lambda s: (
            f"close {s.timers.resolved.close_after} after {s.statuses.resolved!r} without customer "
            f"feedback, with a public comment"
        ),
        _resolved,
        due_at=lambda t, now, s: timers.resolved_close_due_at(t, s),
    ),
    Rule(
        timers.RESOLVED_CONFIRM, "2.9", "a confirming customer comment closes a Resolved ticket",
        timers.customer_feedback_on_resolved,
        lambda s: (
            f"a reply with one of {sum(len(p) for p in s.confirmation.phrases.values())} confirmation "
            f"phrases closes at once; any other reply goes back to {s.statuses.hand_back_to!r}"
        ),
        _resolved,
    ),
    Rule(
        deliveries.VERSION_REQUIRED, "3.1", "Delivery Pending needs a Delivery version",
        deliveries.version_required,
        lambda s: f"a ticket in {s.statuses.delivery_pending!r} without a Delivery version ({s.fields.delivery_version}) "
                  f"matching {s.deliveries.version_pattern} or {s.deliveries.custom_marker!r} gets a note for agents",
        lambda s: (s.statuses.delivery_pending,),
    ),
    Rule(
        deliveries.CREATE, "3.7", "generate the Delivery ticket of a patch for an organisation",
        describe=lambda s: f"a {s.issue_types.delivery!r} ticket with organisation and {s.fields.delivery_version} gets its summary, "
                           f"the table of the organisation's {s.statuses.delivery_pending!r} tickets of that version or "
                           f"{s.deliveries.custom_marker!r}, and a {s.deliveries.link_type!r} link to each "
                           f"(also: jsm-autopilot delivery create, POST /api/deliveries)",
        on_delivery_view=True,
    ),
    Rule(
        deliveries.REFRESH, "3.7", "keep a Planned Delivery ticket's list current",
        describe=lambda s: f"while {s.statuses.planned!r}, tickets entering or leaving {s.statuses.delivery_pending!r} "
                           f"join or leave the table and the links",
        on_delivery_view=True,
    ),
    Rule(
        deliveries.DATE_CHANGED, "3.7", "announce a changed estimated delivery date",
        describe=lambda s: f"a change of {s.fields.estimated_delivery_date} (within {s.deliveries.window}) is announced "
                           f"with a public comment, old and new date",
        on_delivery_view=True,
    ),
    Rule(
        deliveries.DONE, "3.1, 3.5, 3.7", "resolve included tickets once the delivery has taken place",
        describe=lambda s: f"at the first of {s.statuses.delivered!r}, {s.statuses.stage_installation_completed!r} and "
                           f"{s.statuses.installation_completed!r} the included tickets still in {s.statuses.delivery_pending!r} "
                           f"go to {s.statuses.resolved!r} ({s.issue_types.customisation}: {s.statuses.closed!r}) with a "
                           f"public comment naming the patch",
        on_delivery_view=True,
    ),
    Rule(
        deliveries.AVAILABLE, "3.7", "at Delivered, tell the customer the package can be downloaded",
        describe=lambda s: f"at {s.statuses.delivered!r}, one public comment on the Delivery ticket: the package can be downloaded",
        on_delivery_view=True,
    ),
    Rule(
        deliveries.MAINTENANCE, "3.7", "announce a planned maintenance date on a hosted customer's Delivery ticket",
        describe=lambda s: (f"a maintenance date set or changed in {s.fields.maintenance_date} is announced with a public comment"
                            if s.fields.maintenance_date else "fields.maintenance_date is not set: nothing to announce"),
        on_delivery_view=True,
    ),
    Rule(
        deliveries.OVERDUE, "3.7", "an internal note when the estimated date passed and the delivery is still Planned",
        describe=lambda s: f"the day after {s.fields.estimated_delivery_date} while still {s.statuses.planned!r}: "
                           f"one internal note per date asking agents for a new one",
        on_delivery_view=True,
    ),
    # Planned in PROCESS.md: listed in its order, not implemented until the issue that builds each lands.
    Rule("customisation.estimation", "3.5", "at Estimation in progress, the organisation's sales contact is told in an internal note"),
    Rule("customisation.offer", "3.5", "Estimation available: sales told; reminders and the close counted from the offer date"),
    Rule("customisation.ordered", "3.5", "at Ordered, a public comment: a consultant writes the functional concept"),
    Rule("customisation.implementation", "3.5", "an accepted concept goes to development, and its delivery comes back"),
    Rule("consulting.route", "3.3", "a Consulting Request with a budget: its Consulting Lead or the Learning Consulting Team"),
    Rule("incident.details", "2.5.1", "a new Incident without log files, URL or date is asked once for what is missing"),
    Rule("defect.handoff", "3.1", "a Software Defect goes to the development project, and its fix version comes back"),
    Rule(
        hours.WINDOW, "1", "customer-facing actions wait for the region's working hours",
        describe=lambda s: (f"public comments and status changes due outside a region's working hours wait for its next "
                            f"working hour ({len(s.regions)} region(s); default {s.service_hours.default_region or 'none'})"),
        shapes_others=True,
    ),
    Rule(
        oncall.ALERT, "1", "a serious Incident on a weekend or public holiday alerts the on-call service",
        oncall.alert_on_call,
        lambda s: (f"a new {s.issue_types.incident} at {', '.join(getattr(s.priorities, p) for p in s.oncall.priorities)}"
                   + (f", or without a priority at urgency {', '.join(s.oncall.urgent_values)}" if s.oncall.urgent_values else "")
                   + (f", impact {', '.join(s.oncall.impact_values)}" if s.oncall.impact_values else "")
                   + (f", or one of {sum(len(p) for p in s.oncall.outage_phrases.values())} outage phrases"
                      if s.oncall.outage_phrases else "")
                   + " raised on its region's weekend or public holiday: POST to $JSM_AUTOPILOT_ONCALL_URL, and the customer is told"),
        lambda s: (s.statuses.opened, s.statuses.in_review),
    ),
    Rule(
        sla.REACTION, "2.5.1", "warn and escalate before and when the reaction time is missed",
        sla.reaction,
        lambda s: _sla_targets(s, "reaction", "from creation to the first public agent answer"),
        reclassify.open_statuses,
        due_at=lambda t, now, s: sla.due_at(t, sla.REACTION, now, s),
    ),
    Rule(
        sla.RESOLUTION, "2.5.1", "warn and escalate before and when the resolution time is missed",
        sla.resolution,
        lambda s: _sla_targets(s, "resolution", f"from acceptance to {s.statuses.resolved!r}, paused in {s.statuses.clarification!r}"
                                                + (f" and {s.statuses.delivery_pending!r}" if s.sla.pause_in_delivery_pending else "")),
        reclassify.open_statuses,
        due_at=lambda t, now, s: sla.due_at(t, sla.RESOLUTION, now, s),
    ),
    Rule(
        escalation.COMPLAINT, "4.1", "a complaint is handed to agents and the team lead",
        escalation.complaint,
        lambda s: (f"a customer comment with one of {sum(len(p) for p in s.escalation.complaint_phrases.values())} complaint "
                   f"phrases: an internal note mentioning the team lead ({len(s.escalation.levels)} escalation level(s))"),
        lambda s: tuple(x for x in reclassify.open_statuses(s)) + (s.statuses.resolved,),
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


def switch_problems(enabled: list[str] | None, shadow: Sequence[str] = ()) -> list[str]:
    """What is wrong with `rules.enabled` and `rules.shadow`: ids the catalogue does not know, or only plans."""
    problems = []
    for key, ids in (("rules.enabled", enabled or []), ("rules.shadow", shadow)):
        for rule_id in ids:
            if rule_id not in RULES_BY_ID:
                problems.append(f"{key}: unknown rule {rule_id!r}")
            elif not RULES_BY_ID[rule_id].implemented:
                problems.append(f"{key}: rule {rule_id!r} is not implemented yet")
    return problems


def implemented_ids() -> list[str]:
    return [rule.id for rule in RULES if rule.implemented]


def with_switches(settings: "Settings") -> "Settings":
    """The settings with `rules.enabled` written out: every implemented rule when app.yaml lists none."""
    if settings.rules.enabled is not None:
        return settings
    enabled = [rule.id for rule in RULES if rule.implemented]
    return settings.model_copy(update={"rules": settings.rules.model_copy(update={"enabled": enabled})})


def delivery_rules_enabled(settings: "Settings") -> bool:
    """Whether sweeps and workers need to look at Delivery tickets at all."""
    return any(rule.on_delivery_view and settings.is_enabled(rule.id) for rule in RULES)


def candidate_statuses(settings: "Settings") -> tuple[str, ...]:
    """Every status in which some enabled rule can fire, in catalogue order."""
    statuses: dict[str, None] = {}
    for rule in RULES:
        if rule.candidate_statuses is not None and settings.is_enabled(rule.id):
            statuses.update(dict.fromkeys(rule.candidate_statuses(settings)))
    return tuple(statuses)


def next_check(ticket: Ticket, now: datetime, settings: "Settings") -> datetime | None:
    """A moment after `now` when a rule may become due on this ticket without anything changing
    in Jira (a reclassification settling); workers look again then instead of waiting for a sweep."""
    moment = reclassify.settled_at(ticket, settings)
    waiting_types = (settings.issue_types.suggestion, settings.issue_types.consulting_request)
    if moment is not None and moment > now and ticket.type in waiting_types:
        return moment
    return None


def next_due(ticket: Ticket, now: datetime, settings: "Settings", decided: list[Action]) -> datetime | None:
    """The first moment after `now` at which a rule may fire on this ticket with nothing changed
    in Jira, given what was `decided` at `now` (a firing waiting for working hours comes then).
    None: only a change can make a rule fire. Incremental sweeps read a ticket again then."""
    moments = [a.not_before for a in decided if isinstance(a, Deferred)]
    settled = next_check(ticket, now, settings)
    if settled is not None:
        moments.append(settled)
    for rule in RULES:
        if rule.due_at is not None and settings.is_enabled(rule.id):
            moment = rule.due_at(ticket, now, settings)
            if moment is not None:
                moments.append(moment)
    return min((m for m in moments if m > now), default=None)


def evaluate(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """Every enabled rule's actions for one ticket at one moment, in catalogue order."""
    require_aware(now, "now")
    actions: list[Action] = []
    for rule in RULES:
        if rule.function is not None and settings.is_enabled(rule.id) and not refused_here(ticket, rule.id):
            actions.extend(rule.function(ticket, now, settings))
    return hours.within_hours(actions, ticket.organisation, now, settings)


def refused_here(ticket: Ticket, rule_id: str) -> bool:
    """Whether Jira refused this rule's firing for good (REFUSED) since the ticket entered its
    status: agents were told; it is tried again only once the ticket has moved."""
    return any(f.stage == REFUSED and (ticket.status_since is None or f.at >= ticket.status_since)
               for f in ticket.fired(rule_id))
