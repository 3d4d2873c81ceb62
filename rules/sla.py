"""`sla.reaction` and `sla.resolution` (guide 2.5.1: "escalation of support requests if they cannot
be answered by the support team within the specified time"). Both clocks count working time of the
responsible region's calendar against the contractual target of the ticket's priority:
- reaction runs from creation to the first public agent response;
- resolution runs from acceptance to Resolved, paused while the ticket waits for the customer.
At `sla.warn_at` of a target the team lead (first escalation level) is told in an internal note
that mentions them; when the target is missed, the next level. Each is said once per clock, and
only while it is news (`sla.stale_after`): installing on a site with late tickets sends no flood.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jsm_autopilot.rules.actions import AUDIT_PREFIX, Action, InternalComment
from jsm_autopilot.rules.model import Role, Ticket, require_aware
from jsm_autopilot.rules.oncall import effective_priority
from jsm_autopilot.rules.wording import local_time

if TYPE_CHECKING:
    from jsm_autopilot.config.calendars import WorkCalendar
    from jsm_autopilot.config.durations import Duration
    from jsm_autopilot.config.settings import Settings

REACTION = "sla.reaction"
RESOLUTION = "sla.resolution"
WARNING, MISSED = "warning", "missed"


@dataclass(frozen=True)
class SlaClock:
    """Where one SLA clock of a ticket stands at a moment."""

    rule: str
    region: str
    started: datetime
    target: timedelta  # working time
    elapsed: timedelta  # working time while the clock ran
    running: bool  # counting now (unanswered, open, not waiting for the customer)
    warn_at: datetime | None  # when the warning falls due if nothing changes; None: not running
    missed_at: datetime | None

    @property
    def share(self) -> float:
        return self.elapsed / self.target


def working(duration: "Duration", calendar: "WorkCalendar") -> timedelta:
    """A target in working time: `d` is one working day of the region."""
    return duration.days * calendar.working_day + timedelta(seconds=duration.seconds)


def status_timeline(ticket: Ticket) -> list[tuple[datetime, str | None]]:
    """(since, status) from creation on, from the status changes Jira's changelog shows; a status
    the snapshot cannot tell is None."""
    changes = ticket.changes_of("status")
    start = ticket.created or ticket.status_since
    if start is None:
        return []
    if changes:
        return [(start, changes[0].old)] + [(c.at, c.new) for c in changes]
    if ticket.status_since is None or ticket.status_since <= start:
        return [(start, ticket.status)]
    return [(start, None), (ticket.status_since, ticket.status)]


def _counted(calendar: "WorkCalendar", timeline, start: datetime, end: datetime, paused: set[str]) -> timedelta:
    total = timedelta(0)
    bounds = [at for at, _ in timeline[1:]] + [end]
    for (since, status), until in zip(timeline, bounds):
        low, high = max(since, start), min(until, end)
        if high > low and status not in paused:
            total += calendar.working_time_between(low, high)
    return total


def _first_answer(ticket: Ticket) -> datetime | None:
    answers = [c.created for c in ticket.comments if c.role is Role.AGENT and c.public]
    return answers[0] if answers else None


def _accepted(ticket: Ticket) -> datetime | None:
    """When the service desk accepted the ticket: fields.accepted_at, else its first public answer."""
    raw = ticket.custom_fields.get("accepted_at")
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, str) and raw:
        try:
            return require_aware(datetime.fromisoformat(raw), f"{ticket.key} accepted_at")
        except ValueError:
            pass
    return _first_answer(ticket)


def sla_clock(ticket: Ticket, rule: str, now: datetime, settings: "Settings") -> SlaClock | None:
    """The clock of `rule` on this ticket at `now`; None where no target or region applies."""
    if not ticket.complete or ticket.created is None:
        return None
    if ticket.type not in {getattr(settings.issue_types, role) for role in settings.sla.issue_types}:
        return None
    # A serious portal Incident has no priority yet (customers cannot set one): it still has a clock.
    target = settings.sla_target(effective_priority(ticket, settings), ticket.organisation)
    duration = getattr(target, "reaction" if rule == REACTION else "resolution", None) if target else None
    region = settings.region_of(ticket.organisation)
    if duration is None or region is None:
        return None
    calendar = settings.calendar_of(region)
    done = {settings.statuses.resolved, settings.statuses.closed}
    started: datetime | None
    if rule == REACTION:
        started, answered, paused = ticket.created, _first_answer(ticket), done
        end = min(answered, now) if answered else now
        running = answered is None and ticket.status not in paused
    else:
        started, paused = _accepted(ticket), done | {settings.statuses.clarification}
        if settings.sla.pause_in_delivery_pending:
            paused = paused | {settings.statuses.delivery_pending}
        if started is None:
            return None
        end, running = now, ticket.status not in paused
    limit = working(duration, calendar)
    elapsed = _counted(calendar, status_timeline(ticket), started, end, paused) if end > started else timedelta(0)
    warn_at = missed_at = None
    if running:
        warn_at = calendar.after_working_time(now, max(timedelta(0), limit * settings.sla.warn_at - elapsed))
        missed_at = calendar.after_working_time(now, max(timedelta(0), limit - elapsed))
    return SlaClock(rule, region, started, limit, elapsed, running, warn_at, missed_at)


def due_at(ticket: Ticket, rule: str, now: datetime, settings: "Settings") -> datetime | None:
    """When this clock's next note falls due, if nothing changes in Jira (None: no note to come)."""
    clock = sla_clock(ticket, rule, now, settings)
    if clock is None or not clock.running:
        return None
    said = {f.stage for f in ticket.fired(rule, since=clock.started)}
    if MISSED in said:
        return None
    return clock.missed_at if WARNING in said else clock.warn_at


def _span(amount: timedelta) -> str:
    minutes = int(amount.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _judge(ticket: Ticket, rule: str, now: datetime, settings: "Settings") -> list[Action]:
    require_aware(now, "now")
    clock = sla_clock(ticket, rule, now, settings)
    if clock is None or not clock.running:
        return []  # an answered, resolved or waiting ticket: nothing to escalate now
    said = {f.stage for f in ticket.fired(rule, since=clock.started)}
    if MISSED in said:
        return []
    chain = settings.escalation
    what = "reaction" if rule == REACTION else "resolution"
    measured = (f"{what} time of {effective_priority(ticket, settings)} is {_span(clock.target)} of working time in region {clock.region}; "
                f"{_span(clock.elapsed)} have run since {local_time(clock.started, settings)}")
    stale = working(settings.sla.stale_after, settings.calendar_of(clock.region))
    if clock.elapsed >= clock.target:
        if clock.elapsed - clock.target > stale:
            return []  # missed long ago: news to nobody, and no note about the past
        stage, level = MISSED, 1
        mentions = chain.accounts_at(1, clock.region)
        if WARNING not in said:  # the warning never went out (the target was passed between two looks)
            mentions = tuple(dict.fromkeys(chain.accounts_at(0, clock.region) + mentions))
        headline = f"target missed: {measured}"
    elif clock.share >= settings.sla.warn_at and WARNING not in said:
        if clock.elapsed - clock.target * settings.sla.warn_at > stale:
            return []
        stage, level = WARNING, 0
        assert clock.missed_at is not None  # set on every running clock
        mentions = chain.accounts_at(0, clock.region)
        headline = f"{settings.sla.warn_at:.0%} of the target reached (missed at {local_time(clock.missed_at, settings)}): {measured}"
    else:
        return []
    who = (f"{chain.levels[level].name} is mentioned" if mentions
           else f"nobody is set for escalation level {level + 1} of this region (escalation.levels)")
    reason = f"{headline}; {who}"
    return [InternalComment(ticket.key, rule, reason, body=f"{AUDIT_PREFIX} · {rule}: {reason}", mentions=mentions, stage=stage)]


def reaction(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    return _judge(ticket, REACTION, now, settings)


def resolution(ticket: Ticket, now: datetime, settings: "Settings") -> list[Action]:
    return _judge(ticket, RESOLUTION, now, settings)
