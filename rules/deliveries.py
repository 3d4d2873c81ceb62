"""Delivery rules (guide 3.1, 3.5, 3.7).

`delivery.version_required` looks at one ticket. The others look at a Delivery ticket together
with the tickets it concerns (a `DeliveryView`): the organisation's tickets in Delivery Pending,
and the tickets the Delivery ticket links to. The connector gathers the view; these functions
only decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeGuard

from jsm_autopilot.rules.actions import Action, FieldChange, IssueLinkChange, Table, Transition, audit_note
from jsm_autopilot.rules.clock import add_duration
from jsm_autopilot.rules.hours import within_hours
from jsm_autopilot.rules.model import Ticket, require_aware
from jsm_autopilot.rules.reclassify import is_confidential
from jsm_autopilot.rules.wording import customer_language, customer_zone, local_time, public_comment

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

VERSION_REQUIRED = "delivery.version_required"
CREATE = "delivery.create"
REFRESH = "delivery.refresh"
DATE_CHANGED = "delivery.date_changed"
DONE = "delivery.done"
AVAILABLE = "delivery.available"
MAINTENANCE = "delivery.maintenance"
OVERDUE = "delivery.overdue"


def valid_delivery_version(value: object, settings: "Settings") -> bool:
    text = str(value).strip() if value is not None else ""
    return text == settings.deliveries.custom_marker or is_patch_version(text, settings)


def is_patch_version(value: object, settings: "Settings") -> TypeGuard[str]:
    return isinstance(value, str) and re.fullmatch(settings.deliveries.version_pattern, value.strip()) is not None


def version_required(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.version_required`: a ticket in Delivery Pending must say which delivery brings it;
    agents get one note each time it enters the status without a valid version."""
    require_aware(now, "now")
    if not ticket.complete or ticket.status != settings.statuses.delivery_pending or ticket.status_since is None:
        return []
    version = ticket.custom_fields.get("delivery_version")
    if valid_delivery_version(version, settings) or ticket.fired(VERSION_REQUIRED, since=ticket.status_since):
        return []
    found = f"{version!r}" if version not in (None, "") else "nothing"
    reason = (f"a ticket in {settings.statuses.delivery_pending} needs a Delivery version: a patch version such as "
              f"14.21.3.1, or {settings.deliveries.custom_marker} for customer-specific changes (found {found})")
    return [audit_note(ticket.key, VERSION_REQUIRED, reason)]


@dataclass(frozen=True)
class DeliveryView:
    delivery: Ticket
    # The organisation's tickets in Delivery Pending, whatever their version (the core chooses).
    pending: tuple[Ticket, ...] = ()
    # The tickets the Delivery ticket links to with the deliveries link type, in any status.
    linked: tuple[Ticket, ...] = ()


def _key_order(key: str) -> tuple:
    project, _, number = key.rpartition("-")
    return (project, int(number)) if number.isdigit() else (project, 0)


def delivery_version(ticket: Ticket, settings: "Settings") -> str | None:
    """The patch version a Delivery ticket delivers; None when it has no valid one yet."""
    value = ticket.custom_fields.get("delivery_version")
    return value.strip() if is_patch_version(value, settings) else None


def is_delivery(ticket: Ticket, settings: "Settings") -> bool:
    return ticket.type == settings.issue_types.delivery


def belongs(ticket: Ticket, delivery: Ticket, settings: "Settings") -> bool:
    """A ticket belongs in a delivery while it waits in Delivery Pending for that patch version (or
    for CUSTOM, the customer's own changes that ship with any patch) and has the same organisation."""
    version = delivery_version(delivery, settings)
    wanted = ticket.custom_fields.get("delivery_version")
    return (
        version is not None
        and not is_delivery(ticket, settings)
        and ticket.status == settings.statuses.delivery_pending
        and ticket.organisation is not None
        and ticket.organisation == delivery.organisation
        and isinstance(wanted, str)
        and wanted.strip() in (version, settings.deliveries.custom_marker)
    )


def included(view: DeliveryView, settings: "Settings") -> tuple[Ticket, ...]:
    """What the Delivery ticket should list, in key order."""
    found = {t.key: t for t in view.pending if belongs(t, view.delivery, settings)}
    return tuple(sorted(found.values(), key=lambda t: _key_order(t.key)))


def _links_of_type(delivery: Ticket, settings: "Settings") -> dict[str, str]:
    """Linked issue key -> link id, for the deliveries link type."""
    return {link.other: link.id for link in delivery.links if link.type == settings.deliveries.link_type}


def description_table(tickets: tuple[Ticket, ...], language: str, settings: "Settings") -> Table:
    """The customer sees this table on the portal: a confidential ticket is listed by key and type
    only, its summary withheld (PROCESS.md, deliveries)."""
    texts = settings.texts
    columns = tuple(part.strip() for part in texts.render(language, "delivery_columns").split("|"))
    withheld = texts.render(language, "delivery_withheld")
    return Table(
        heading=texts.render(language, "delivery_heading"),
        columns=columns,
        rows=tuple((t.key, t.type, withheld if is_confidential(t) else t.summary) for t in tickets),
    )


def delivery_summary(version: str, language: str, settings: "Settings") -> str:
    return settings.texts.render(language, "delivery_summary", version=version)


def _ready(delivery: Ticket, settings: "Settings") -> bool:
    return delivery.complete and is_delivery(delivery, settings) and delivery.organisation is not None \
        and delivery_version(delivery, settings) is not None


def fill(view: DeliveryView, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.create` fills a new Delivery ticket in; `delivery.refresh` keeps its list current
    while it is Planned. Both write the summary, the table and the links in one firing."""
    require_aware(now, "now")
    delivery = view.delivery
    if not _ready(delivery, settings) or delivery.status != settings.statuses.planned:
        return []
    want = included(view, settings)
    have = _links_of_type(delivery, settings)
    want_keys = [t.key for t in want]
    added = [k for k in want_keys if k not in have]
    removed = sorted((k for k in have if k not in want_keys), key=_key_order)
    first = not delivery.fired(CREATE)
    if not first and not added and not removed:
        return []
    rule = CREATE if first else REFRESH
    language = customer_language(delivery, settings)
    version = delivery_version(delivery, settings)
    assert version is not None  # _ready() checked it
    listed = ", ".join(want_keys) or "none yet"
    if first:
        reason = f"Delivery of {version} for {delivery.organisation}: {len(want)} ticket(s) in {settings.statuses.delivery_pending}: {listed}"
    else:
        left = {t.key: t.status for t in view.linked}
        parts = [f"added {', '.join(added)}"] if added else []
        if removed:
            parts.append("removed " + ", ".join(f"{k} ({left[k]})" if k in left else k for k in removed))
        reason = f"{'; '.join(parts)}; now {len(want)} ticket(s): {listed}"
    actions: list[Action] = []
    summary = delivery_summary(version, language, settings)
    if delivery.summary != summary:
        actions.append(FieldChange(delivery.key, rule, reason, field="summary", value=summary))
    actions.append(FieldChange(delivery.key, rule, reason, field="description", value=description_table(want, language, settings)))
    actions += [IssueLinkChange(delivery.key, rule, reason, other=k, link_type=settings.deliveries.link_type) for k in added]
    actions += [IssueLinkChange(delivery.key, rule, reason, other=k, link_type=settings.deliveries.link_type, add=False,
                                link_id=have[k]) for k in removed]
    actions.append(audit_note(delivery.key, rule, reason))
    return actions


def _parse_date(value: object) -> date | None:
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def date_changed(view: DeliveryView, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.date_changed`: a changed estimated date is announced on the Delivery ticket, old
    and new, once per change. A first date is not a change; nor is a change and its undo."""
    require_aware(now, "now")
    delivery = view.delivery
    done = (settings.statuses.delivered, settings.statuses.installation_completed)
    if not _ready(delivery, settings) or delivery.status in done:
        return []
    announced = delivery.fired(DATE_CHANGED)
    since = announced[-1].at if announced else None
    window = settings.deliveries.window
    changes = [c for c in delivery.changes_of("estimated_delivery_date", after=since)
               if now < add_duration(c.at, window, settings.project.zone)]
    old = next((d for d in (_parse_date(c.old) for c in changes) if d is not None), None)
    new = _parse_date(delivery.custom_fields.get("estimated_delivery_date"))
    if old is None or new is None or old == new:
        return []
    version = delivery_version(delivery, settings)
    reason = f"estimated delivery date of {version} changed from {old.isoformat()} to {new.isoformat()}"
    return [public_comment(delivery, DATE_CHANGED, reason, "delivery_date_changed", settings,
                           version=version, old_date=old, new_date=new),
            audit_note(delivery.key, DATE_CHANGED, reason)]


def _delivered(delivery: Ticket, settings: "Settings") -> bool:
    statuses = settings.statuses
    return delivery.status in (statuses.delivered, statuses.stage_installation_completed, statuses.installation_completed)


def done(view: DeliveryView, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.done` (3.1, 3.5, 3.7): "once the solution has been delivered, either by providing
    the delivery package or by installing it in the staging or production environment, the ticket
    status changes to Resolved": at the first of Delivered, Stage installation completed and
    Installation completed, each included ticket still in Delivery Pending is resolved, a
    Customisation closed (3.5), with one public comment naming the patch. Included: linked and
    still belonging to this delivery; a ticket once resolved no longer belongs, so later steps
    leave it alone."""
    require_aware(now, "now")
    delivery, statuses = view.delivery, settings.statuses
    if not _ready(delivery, settings) or not _delivered(delivery, settings) or delivery.status_since is None:
        return []
    have = _links_of_type(delivery, settings)
    version = delivery_version(delivery, settings)
    tickets = sorted((t for t in view.linked if t.key in have and t.complete and belongs(t, delivery, settings)),
                     key=lambda t: _key_order(t.key))
    actions: list[Action] = []
    for ticket in tickets:
        if ticket.type == settings.issue_types.customisation:
            reason = f"{delivery.key} ({version}) reached {delivery.status}: a Customisation is closed once delivered (3.5)"
            actions += [public_comment(ticket, DONE, reason, "delivery_closed", settings, version=version, delivery=delivery.key),
                        Transition(ticket.key, DONE, reason, to_status=statuses.closed, transition=settings.transitions.close)]
        else:
            reason = f"{delivery.key} ({version}) reached {delivery.status}: resolved"
            close_after = settings.timers.resolved.close_after
            # Installed on staging first (hosted systems): the customer is asked to test it there.
            template = "delivery_done_staging" if delivery.status == statuses.stage_installation_completed else "delivery_done"
            actions += [public_comment(ticket, DONE, reason, template, settings, version=version, delivery=delivery.key,
                                       close_after_days=close_after.days or round(close_after.nominal.total_seconds() / 86400)),
                        Transition(ticket.key, DONE, reason, to_status=statuses.resolved, transition=settings.transitions.resolve)]
        actions.append(audit_note(ticket.key, DONE, reason))
    if tickets:
        actions.append(audit_note(delivery.key, DONE, f"{delivery.status}: resolved or closed {', '.join(t.key for t in tickets)}"))
    return actions


def available(view: DeliveryView, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.available` (3.7): at Delivered the customer hears, once, that the package can be
    downloaded (Jira's notification of the public comment is the e-mail)."""
    require_aware(now, "now")
    delivery = view.delivery
    if not _ready(delivery, settings) or delivery.status != settings.statuses.delivered or delivery.status_since is None:
        return []
    if delivery.fired(AVAILABLE, since=delivery.status_since):
        return []
    version = delivery_version(delivery, settings)
    reason = f"{delivery.key} reached {delivery.status}: patch {version} can be downloaded"
    return [public_comment(delivery, AVAILABLE, reason, "delivery_available", settings, version=version),
            audit_note(delivery.key, AVAILABLE, reason)]


def _parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def maintenance(view: DeliveryView, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.maintenance` (3.7, hosted systems): a planned maintenance date set or changed on
    the Delivery ticket is announced once per value, while the delivery is not installed yet."""
    require_aware(now, "now")
    delivery, statuses = view.delivery, settings.statuses
    if not _ready(delivery, settings) or settings.fields.maintenance_date is None:
        return []
    if delivery.status not in (statuses.planned, statuses.stage_installation_completed):
        return []
    planned = _parse_instant(delivery.custom_fields.get("maintenance_date"))
    if planned is None or planned <= now:
        return []
    announced = delivery.fired(MAINTENANCE)
    changes = delivery.changes_of("maintenance_date", after=announced[-1].at if announced else None)
    if announced and not changes:
        return []
    window = settings.deliveries.window
    if changes and not any(now < add_duration(c.at, window, settings.project.zone) for c in changes):
        return []  # set long before the service looked: history, not news
    local = planned.astimezone(customer_zone(delivery, settings))  # the customer's region's time, not the site's
    version = delivery_version(delivery, settings)
    reason = f"planned maintenance for {version} on {local_time(planned, settings)}"
    return [public_comment(delivery, MAINTENANCE, reason, "delivery_maintenance", settings, version=version, maintenance_at=local),
            audit_note(delivery.key, MAINTENANCE, reason)]


def overdue(view: DeliveryView, now: datetime, settings: "Settings") -> list[Action]:
    """`delivery.overdue` (3.7, "Delays will be communicated via the delivery ticket"): once the
    estimated date has passed and the delivery is still Planned, agents are asked, once per date,
    to set a new one (which `delivery.date_changed` then announces)."""
    require_aware(now, "now")
    delivery = view.delivery
    if not _ready(delivery, settings) or delivery.status != settings.statuses.planned:
        return []
    estimated = _parse_date(delivery.custom_fields.get("estimated_delivery_date"))
    today = now.astimezone(settings.project.zone).date()
    if estimated is None or estimated >= today:
        return []
    changed = delivery.changes_of("estimated_delivery_date")
    since = changed[-1].at if changed else None
    if delivery.fired(OVERDUE, after=since):
        return []
    reason = (f"the estimated delivery date {estimated.isoformat()} has passed and the delivery is still "
              f"{delivery.status}: please set a new estimated delivery date; the customer is told of it")
    return [audit_note(delivery.key, OVERDUE, reason)]


def evaluate_delivery(view: DeliveryView, now: datetime, settings: "Settings") -> list[Action]:
    """Every enabled delivery rule's actions for one Delivery ticket and the tickets it concerns."""
    require_aware(now, "now")
    actions: list[Action] = []
    steps = (((CREATE, REFRESH), fill), ((DATE_CHANGED,), date_changed), ((AVAILABLE,), available), ((DONE,), done),
             ((MAINTENANCE,), maintenance), ((OVERDUE,), overdue))
    for rule_ids, function in steps:
        if any(settings.is_enabled(r) for r in rule_ids):
            actions += [a for a in function(view, now, settings) if settings.is_enabled(a.rule)]
    # The included tickets belong to the Delivery ticket's organisation: one region for all.
    by_issue: dict[str, list[Action]] = {}
    for action in actions:
        by_issue.setdefault(action.issue, []).append(action)
    return [a for group in by_issue.values() for a in within_hours(group, view.delivery.organisation, now, settings)]
