"""The regional desks in app.yaml (guide chapter 1 and 4.1): their working hours and holidays
(`regions`, `service_hours`), the on-call service (`oncall`) and the escalation chain (`escalation`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator, model_validator

from jsm_autopilot.config.durations import Duration
from jsm_autopilot.config.sections import Language, Name
from jsm_autopilot.config.sections import Section as _Section

Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PriorityRole = Literal["p1", "p2", "p3", "p4"]
PRIORITY_ROLES: tuple[PriorityRole, ...] = get_args(PriorityRole)


# Defaults of list and dict fields are named, typed functions, not lambdas: mypy reads a lambda's
# literal as list[str] or dict[str, ...], not as the field's Literal-typed list or dict.
def _weekdays() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri"]


class WorkingHours(_Section):
    # The working days (mon ... sun).
    days: list[Weekday] = Field(default_factory=_weekdays, min_length=1)
    # When the working day starts (HH:MM, the region's time).
    start: Clock = "08:00"
    # When the working day ends (HH:MM, the region's time).
    end: Clock = "17:00"

    @model_validator(mode="after")
    def _start_before_end(self) -> "WorkingHours":
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


class HolidaySource(_Section):
    """Public holidays from the `holidays` library: an ISO country code and, optionally, a subdivision."""

    # The country whose public holidays the region keeps (holidays library code, e.g. DE).
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    # The state or province, for its own public holidays (e.g. SL).
    subdivision: str | None = None

    @model_validator(mode="after")
    def _known(self) -> "HolidaySource":
        import holidays

        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision)
        except NotImplementedError:
            raise ValueError(f"country {self.country!r} is not known to the holidays library") from None
        except (KeyError, ValueError) as error:
            raise ValueError(f"subdivision {self.subdivision!r} of {self.country}: {error}") from None
        return self


class Region(_Section):
    """A support region: who may see its confidential tickets, and when its desk works."""

    # The issue security level id of the region's support staff (reclassify.confidential).
    security_level: Annotated[str, Field(pattern=r"^\d+$")] | None = None
    timezone: str | None = None  # IANA; default: project.timezone
    holidays: HolidaySource | None = None
    # Further days off of the region (YYYY-MM-DD).
    extra_holidays: list[date] = []
    holidays_ics: str | None = None  # an iCalendar file of company days off, relative to app.yaml
    # The region's working hours: days, start and end.
    hours: WorkingHours = WorkingHours()

    @model_validator(mode="before")
    @classmethod
    def _old_form(cls, data: object) -> object:
        if isinstance(data, (str, int)):
            raise ValueError(f"the old form (an issue security level id, {data!r}) is now a mapping: write "
                             f"`security_level: \"{data}\"` under the region, with timezone, holidays and hours beside it")
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name like Australia/Melbourne)") from None
        return value


def _serious_priorities() -> list[PriorityRole]:
    return ["p1", "p2"]


class OnCall(_Section):
    """oncall.alert: what makes a new Incident serious enough to wake the on-call service."""

    # Priorities (p1..p4, as in priorities) that make a new Incident serious.
    priorities: list[PriorityRole] = Field(default_factory=_serious_priorities)
    # Customers cannot set a priority on the portal (guide 2.5), so a new Incident without one is
    # serious by what it carries: these values of fields.urgency or fields.impact (as Jira shows
    # them), else one of these phrases in its summary or description (per language, any matches).
    urgent_values: list[Name] = []
    # Values of fields.impact that make a new Incident without a priority serious.
    impact_values: list[Name] = []
    # Phrases per language that, in a new Incident's summary or description, make it serious.
    outage_phrases: dict[str, list[Annotated[str, Field(min_length=3)]]] = {}
    # The rank such a serious Incident without a priority counts as: its alert's, and its SLA targets'.
    unprioritised_as: PriorityRole = "p2"
    # Jira Service Management operations' alert endpoint, used when JSM_AUTOPILOT_JSM_OPS_API_KEY is set.
    jsm_ops_url: Annotated[str, Field(pattern=r"^https?://")] = "https://api.atlassian.com/jsm/ops/integration/v2/alerts"


class EscalationLevel(_Section):
    """One step of the escalation chain (guide 4.1): the Jira accounts (accountId on Cloud, user
    name on Data Center) per team or region, or under `all` one for everyone."""

    name: Name
    accounts: dict[Name, Name] = Field(min_length=1)


def _complaint_phrases() -> dict[Language, list[str]]:
    return {
        "en": ["complaint", "complain", "escalate", "escalation", "unacceptable", "disappointed", "not acceptable",
               "your manager", "very dissatisfied"],
        "de": ["beschwerde", "beschweren", "eskalieren", "eskalation", "inakzeptabel", "nicht akzeptabel", "enttäuscht",
               "unzufrieden", "ihren vorgesetzten"],
    }


class Escalation(_Section):
    # The team of each region (Support Team DACH, Support Team International, ...).
    teams: dict[Name, Name] = {}
    # Team lead first, then head of the Support Team, head of Customer Services, management board.
    levels: list[EscalationLevel] = []
    # A customer comment with one of these complains or asks to escalate (escalation.complaint).
    complaint_phrases: dict[Language, list[Name]] = Field(default_factory=_complaint_phrases)

    def accounts_at(self, level: int, region: str | None) -> tuple[str, ...]:
        """Who is told at this level of the chain for a ticket of `region` (none beyond the chain)."""
        if level >= len(self.levels):
            return ()
        accounts = self.levels[level].accounts
        team = self.teams.get(region or "")
        for key in (team, region, "all"):
            if key is not None and key in accounts:
                return (accounts[key],)
        return ()


class ServiceHours(_Section):
    # The region whose hours apply to tickets of organisations without one (null: those never wait).
    default_region: Name | None = None
    # Weekdays are worked around the clock (guide chapter 1); what customers see waits only over the
    # region's weekends and public holidays. True: it also waits for the regional desk's hours.
    business_hours_only: bool = False


def _working_duration(text: object) -> Duration:
    """A target in working time: `d` is one working day of the region (its daily hours), `h` and
    `m` hours and minutes of working time. Weeks would be ambiguous here and are refused."""
    if isinstance(text, str) and "w" in text:
        raise ValueError(f"write an SLA target in working days, hours or minutes (2d, 4h, 30m), not weeks: {text!r}")
    return Duration.parse(text)


WorkingDuration = Annotated[Duration, BeforeValidator(_working_duration), PlainSerializer(str, return_type=str)]


class SlaTarget(_Section):
    """The contractual times of one priority (guide 2.5.1), in the region's working time."""

    # Contractual reaction time in working time (4h, 30m, 2d = two working days of the region).
    reaction: WorkingDuration | None = None
    # Contractual resolution time in working time (4h, 30m, 2d = two working days of the region).
    resolution: WorkingDuration | None = None


SlaIssueType = Literal["incident", "software_defect", "non_software_defect", "request", "support_request",
                       "consulting_request", "customisation", "suggestion"]


def _sla_issue_types() -> list[SlaIssueType]:
    return ["incident", "software_defect", "non_software_defect"]


class Sla(_Section):
    # Per priority role (p1..p4, named in `priorities`); organisations.<name>.sla overrides them.
    targets: dict[PriorityRole, SlaTarget] = {}
    # The share of a target after which the team lead is warned; at the whole, the next level.
    warn_at: float = Field(0.8, gt=0, lt=1)
    # The resolution clock also stops while a fixed ticket waits in Delivery Pending for its patch:
    # the fix is done, the delivery follows the release plan (PROCESS.md, sla.resolution).
    pause_in_delivery_pending: bool = True
    # A warning or miss that happened longer ago than this (working time) is not written: tickets
    # already late when jsm-autopilot was installed, or while it was stopped, get no note about the past.
    stale_after: WorkingDuration = Duration(days=1)
    # The types the contract's times apply to (guide 2.5.1: the defects; an Incident until it is
    # classified), as roles of `issue_types`.
    issue_types: list[SlaIssueType] = Field(default_factory=_sla_issue_types)
