"""The typed settings of jsm-autopilot, validated once at start from app.yaml.

Every name Jira shows (status, issue type, transition, priority, field) and every number of the
process is here, so that a site with other names, or in German, needs no code change.
Secrets are deliberately absent: they come from the environment (see `config.environment`).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal, Mapping, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    field_validator,
    model_validator,
)

from jsm_autopilot.config.calendars import WorkCalendar, weekday_numbers
from jsm_autopilot.config.confirmation import Confirmation
from jsm_autopilot.config.console import ConsoleSettings
from jsm_autopilot.config.desks import PRIORITY_ROLES, Escalation, OnCall, PriorityRole, Region, ServiceHours, Sla, SlaTarget
from jsm_autopilot.config.durations import Duration
from jsm_autopilot.config.notify import Notify
from jsm_autopilot.config.sections import Language, Name, Section
from jsm_autopilot.config.texts import Texts
from jsm_autopilot.config.triage_model import LearnedTriage
from jsm_autopilot.config.vocabulary import Vocabulary

DurationSetting = Annotated[
    Duration, BeforeValidator(Duration.parse), PlainSerializer(str, return_type=str)
]
FieldId = Annotated[str, Field(pattern=r"^(customfield_\d+|[a-z][a-zA-Z]*)$")]


_Section = Section


class Project(_Section):
    """The Jira project the service runs, and where its days are counted."""

    # The JSM project key.
    key: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,9}$")]
    # IANA zone in which days are counted.
    timezone: str = "Europe/Berlin"
    # Cloud or datacenter.
    deployment: Literal["cloud", "datacenter"] = "cloud"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Automation(_Section):
    """The Jira account the service acts as, and the issue property where it logs its firings."""

    account: Name  # accountId on Cloud, user name on Data Center
    # The issue and comment property it writes.
    property_key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9.\-]{2,}$")] = "jsm-autopilot"


class Statuses(_Section):
    """The statuses of the workflow, by their role in the guide, as Jira names them on this site."""

    opened: Name = "Opened"
    in_review: Name = "In Review by Service Desk"
    clarification: Name = "Clarification required / On hold"
    in_progress: Name = "In Progress"
    delivery_pending: Name = "Delivery Pending"
    resolved: Name = "Resolved"
    closed: Name = "Closed"
    estimation_in_progress: Name = "Estimation in progress"
    estimation_available: Name = "Estimation available"
    ordered: Name = "Ordered"
    planned: Name = "Planned"
    delivered: Name = "Delivered"
    stage_installation_completed: Name = "Stage installation completed"
    installation_completed: Name = "Installation completed"
    # Where a customer's non-confirming reply on a Resolved ticket sends it back to.
    hand_back_to: Name = "In Review by Service Desk"


class IssueTypes(_Section):
    """The issue types, by their role in the guide, as Jira names them on this site."""

    incident: Name = "Incident"
    request: Name = "Request"
    software_defect: Name = "Software Defect"
    non_software_defect: Name = "Non-Software Defect"
    consulting_request: Name = "Consulting Request"
    support_request: Name = "Support Request"
    customisation: Name = "Customisation"
    suggestion: Name = "Suggestion"
    delivery: Name = "Delivery"


class Transitions(_Section):
    """Transition names; null means "the transition that leads to the target status"."""

    # The transition to the closed status; null: the one that leads to statuses.closed.
    close: Name | None = None
    # The transition that hands a Resolved ticket back; null: the one that leads to
    # statuses.hand_back_to.
    hand_back: Name | None = None
    # The transition to Resolved; null: the one that leads to statuses.resolved.
    resolve: Name | None = None
    accept: Name | None = None  # Opened -> In Review by Service Desk
    # Values for required fields a site put on its transition screens, by field id, as Jira takes
    # them (`customfield_10400: {value: "No"}`). A required field not named here (nor Resolution,
    # nor one with a default) fails the firing once, with a note naming it.
    screen_fields: dict[Annotated[str, Field(pattern=r"^(customfield_\d+|[a-z][A-Za-z]*)$")], Any] = {}


class Resolutions(_Section):
    """The resolution sent where a transition's screen asks for one (JSM's Resolved and Closed)."""

    # The Resolution sent where a transition's screen asks for one (JSM's Resolved and Closed).
    done: Name = "Done"


class Limits(_Section):
    """How much a sweep may do at once."""

    # A first start on a site with history must not flood customers: customer-facing firings per
    # sweep beyond this wait for the next sweep (internal notes are not counted).
    max_firings_per_sweep: Annotated[int, Field(ge=1, le=100_000)] = 100
    # Tickets a sweep reads and writes at once (each ticket's own firings stay in order). Halved
    # while Jira answers 429, grown back one at a time after that.
    concurrency: Annotated[int, Field(ge=1, le=32)] = 4
    # A customer-visible write whose answer never came is not sent again before this long has
    # passed since it was sent (on the service's clock) and the ticket, read again, lacks it:
    # Jira may apply a write minutes after the client gave up on it.
    uncertain_settle: DurationSetting = Duration(seconds=600)


class Priorities(_Section):
    """The priorities P1 (highest) to P4, as Jira names them on this site."""

    p1: Name = "P1"
    p2: Name = "P2"
    p3: Name = "P3"
    p4: Name = "P4"


class Fields(_Section):
    """The ids of the fields the rules read and write (`customfield_10100`, or a system field's id)."""

    delivery_version: FieldId
    estimated_delivery_date: FieldId
    organizations: FieldId
    confidential: FieldId
    request_participants: FieldId
    documentation_links: FieldId | None = None
    environment: FieldId = "environment"
    # A date-time field agents see, where intake.accept records the start of resolution time.
    accepted_at: FieldId | None = None
    # A date-time field on Delivery tickets: when a hosted customer's system will be maintained
    # (delivery.maintenance announces it); null: the rule has nothing to announce.
    maintenance_date: FieldId | None = None
    # The request's urgency and impact (select lists on the portal form), for oncall.urgent_values
    # and oncall.impact_values; null: not asked.
    urgency: FieldId | None = None
    impact: FieldId | None = None


class ClarificationTimers(_Section):
    """Reminders while a ticket waits for the customer in Clarification, then the close."""

    # Interval between reminders.
    reminder_every: DurationSetting = Duration(days=10)
    # Number of reminders (1–10).
    reminders: Annotated[int, Field(ge=1, le=10)] = 3
    # Wait after the last reminder.
    close_after_last_reminder: DurationSetting = Duration(days=10)


class ResolvedTimers(_Section):
    """The close of a Resolved ticket the customer does not answer."""

    # Resolved without feedback, then closed.
    close_after: DurationSetting = Duration(days=50)


class Timers(_Section):
    """The timers of PROCESS.md, on the fixed calendar (days count every day)."""

    clarification: ClarificationTimers = ClarificationTimers()
    resolved: ResolvedTimers = ResolvedTimers()


StatusLabels = dict[Language, dict[Literal["resolved", "closed"], Name]]


def _status_labels() -> StatusLabels:
    # A named, typed default: mypy reads a lambda's dict literal as dict[str, ...], not Literal keys.
    return {"de": {"resolved": "Gelöst", "closed": "Geschlossen"}}


class LanguageSettings(_Section):
    """The language customers are written to when their organisation names none, and how the desk signs."""

    # En or de, for organisations not listed.
    default: Language = "en"
    # The desk every customer comment is signed by.
    desk_name: Name = "imc Service Desk"
    # Statuses as customers read them in their language, by role of `statuses`; a status not named
    # here is shown with its name in Jira (a German site's names need no labels).
    status_labels: StatusLabels = Field(default_factory=_status_labels)

    def status_label(self, language: str, role: str, jira_name: str) -> str:
        return self.status_labels.get(language, {}).get(role, jira_name)  # type: ignore[call-overload]


class Organisation(_Section):
    """One JSM organisation (a customer): its language, budget, region and contract."""

    # An organisation's language (the name as in JSM).
    language: Language
    # Consulting is charged to this budget; without one, agents are warned instead (3.3).
    extended_support_budget: bool = True
    # The support region whose staff may see confidential tickets (key of `regions`).
    region: Name | None = None
    # Contractual targets that differ from sla.targets, per priority role; unnamed ones are inherited.
    sla: dict[PriorityRole, SlaTarget] = {}


class ProductManagement(_Section):
    """Where reclassify.suggestion files a linked issue for product management."""

    # The key of the product-management project reclassify.suggestion files a linked issue in.
    project: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,9}$")]
    # The issue type of that linked issue.
    issue_type: Name = "Idea"
    # The link type between the ticket and that issue.
    link_type: Name = "Relates"


class Reclassification(_Section):
    # An agent's type change must hold this long before the customer hears of it: a change undone
    # within it (a slip of the mouse) leaves no comment that no longer holds.
    grace: DurationSetting = Duration(seconds=120)
    # Only changes (and, for triage, new tickets) this recent are acted on: installing the
    # service on a site with history must not send comments about old reclassifications.
    window: DurationSetting = Duration(days=1)
    # null: suggestions are only forwarded by the comment; set: also as a linked issue there.
    product_management: ProductManagement | None = None


TriageTarget = Literal["software_defect", "non_software_defect", "consulting_request", "support_request", "customisation", "suggestion"]
TRIAGE_TARGETS: tuple[TriageTarget, ...] = get_args(TriageTarget)


class Triage(_Section):
    """Keywords that point to a target type; a suggestion needs `min_matches` of them and a lead
    of `lead` over the runner-up, else nothing is said."""

    # Keywords needed for a type suggestion.
    min_matches: Annotated[int, Field(ge=1, le=20)] = 2
    # How many keywords the suggested type must lead the next one by.
    lead: Annotated[int, Field(ge=1, le=20)] = 1
    # Keywords pointing to each target type, per language.
    vocabulary: dict[TriageTarget, dict[Language, list[Name]]] = {}
    # Until `triage learn` has learned from the site's own history, suggest from the model learned
    # from the shipped corpus (600 tickets); the keywords stay the fallback where it is unsure.
    default_model: bool = True


class Deliveries(_Section):
    # A patch version such as 14.21.3.1; or the marker for customer-specific changes (3.3, 3.5).
    version_pattern: str = r"^\d+\.\d+\.\d+\.\d+$"
    # The Delivery version of customer-specific changes.
    custom_marker: Name = "CUSTOM"
    # The link type between a Delivery ticket and the tickets it includes. The automation owns
    # links of this type on Delivery tickets: it adds and removes them as the list changes.
    link_type: Name = "Relates"
    # Changes of the estimated date older than this are history, not news, when the service
    # starts on a site with existing Delivery tickets; and done deliveries older than this are
    # no longer swept.
    window: DurationSetting = Duration(days=7)
    # The JSM request type Delivery tickets are created as, so that the organisation's contacts
    # find them on the portal and hear of their public comments (guide Figure 18).
    request_type: Name = "Delivery"

    @field_validator("version_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a regular expression: {error}") from None
        return value


class TemplateSettings(_Section):
    """Where the admin's rewording of the customer texts is."""

    directory: str | None = None  # relative to app.yaml; overrides the shipped wording


class WebhookSettings(_Section):
    """The webhook receiver and the workers that act on what it stored."""

    # Larger deliveries get 413.
    max_body_bytes: Annotated[int, Field(ge=1024, le=50 * 2**20)] = 2 * 2**20
    # Only for a Data Center site that cannot sign its webhooks; then anyone who can reach the
    # endpoint can make the service re-read tickets (never act wrongly: it re-reads Jira).
    allow_unsigned: bool = False
    # Worker threads of serve.
    workers: Annotated[int, Field(ge=1, le=32)] = 2
    # Jira sends several events for one change (a transition with a comment: issue_updated and
    # comment_created); waiting this long lets one read of the ticket answer them all.
    settle_seconds: Annotated[float, Field(ge=0, le=60)] = 1.0
    # Attempts before an event is kept as failed.
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    # Workers wait up to this long for the receiver to be quiet before each claim; 0: never.
    yield_to_intake_seconds: Annotated[float, Field(ge=0, le=10)] = 0.5
    # The HTTP server (waitress): connections open at once, and how long an idle or half-sent one
    # may hold its place. Jira's deliveries are small and quick; a slow client is dropped.
    connection_limit: Annotated[int, Field(ge=10, le=10000)] = 1000
    # A connection that sends nothing this long is closed.
    idle_timeout_seconds: Annotated[int, Field(ge=1, le=300)] = 10


class ScheduleSettings(_Section):
    """Sweeps inside `serve`. Each sweep is a complete pass over the candidate statuses; the
    nightly one is the same pass at a fixed local hour, so a day never goes unswept."""

    # Interval of the sweeps inside serve (null: none).
    sweep_every: DurationSetting | None = Duration(seconds=15 * 60)
    # Local time (HH:MM, project.timezone) of the nightly sweep (null: none).
    full_pass_at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = "03:00"


RuleId = Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z_]+$")]


class RuleSwitches(_Section):
    """Which rules run, and which only decide and keep what they would do (the console can override both)."""

    # None: every implemented rule. Which ids exist is the catalogue's to say (rules/catalogue.py),
    # checked at start-up (`switch_problems`): the settings know no rules.
    enabled: list[RuleId] | None = None
    # Shadow only: these rules decide as usual, and what they would do is kept as a shadow firing
    # (`jsm-autopilot shadow`, the console) instead of being written to Jira.
    shadow: list[RuleId] = []

    @field_validator("enabled", "shadow")
    @classmethod
    def _listed_once(cls, ids: list[str] | None) -> list[str] | None:
        if ids is not None and len(set(ids)) != len(ids):
            raise ValueError("a rule is listed twice")
        return ids


class Settings(_Section):
    project: Project
    automation: Automation
    statuses: Statuses = Statuses()
    issue_types: IssueTypes = IssueTypes()
    transitions: Transitions = Transitions()
    priorities: Priorities = Priorities()
    resolutions: Resolutions = Resolutions()
    limits: Limits = Limits()
    fields: Fields
    timers: Timers = Timers()
    language: LanguageSettings = LanguageSettings()
    organisations: dict[Name, Organisation] = {}
    confirmation: Confirmation
    templates: TemplateSettings = TemplateSettings()
    rules: RuleSwitches = RuleSwitches()
    webhooks: WebhookSettings = WebhookSettings()
    # Acting on agents' changes of the issue type, and the suggestion hand-over to product management.
    reclassification: Reclassification = Reclassification()
    triage: Triage = Triage()
    # Delivery tickets: what counts as a patch version, how they link their tickets, their request type.
    deliveries: Deliveries = Deliveries()
    # Issue security level id per support region, for reclassify.confidential.
    regions: dict[Name, Region] = {}
    # Which region's calendar a ticket follows, and whether customer-facing actions wait for working
    # hours too.
    service_hours: ServiceHours = ServiceHours()
    oncall: OnCall = OnCall()
    # The escalation chain (guide 4.1) and what a complaint sounds like.
    escalation: Escalation = Escalation()
    # The contractual reaction and resolution times, counted in working time, and when the team lead is
    # warned.
    sla: Sla = Sla()
    schedule: ScheduleSettings = ScheduleSettings()
    # Telling admins of incidents (Jira away, firings failing, dead letters) by e-mail or a chat
    # webhook.
    notify: Notify = Notify()
    console: ConsoleSettings = ConsoleSettings()
    # Loaded from templates/ by the loader, not written in app.yaml.
    texts: Texts = Field(default_factory=Texts.shipped, exclude=True)

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    _vocabulary: Vocabulary | None = PrivateAttr(default=None)
    _learned_triage: "LearnedTriage | None" = PrivateAttr(default=None)
    _reply_model: "LearnedTriage | None" = PrivateAttr(default=None)
    _calendars: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _texts_are_not_a_setting(cls, data: object) -> object:
        if isinstance(data, dict) and "texts" in data and not isinstance(data["texts"], Texts):
            raise ValueError("'texts' is not a setting; change the wording under templates.directory")
        return data

    @model_validator(mode="after")
    def _console_can_sign_in(self) -> "Settings":
        console = self.console
        if console.enabled and self.console_sign_in == "oauth" and console.public_url is None:
            raise ValueError("console.public_url: required for signing in with OAuth (the console's address through the proxy, "
                             "e.g. https://autopilot.example.com)")
        return self

    @property
    def console_sign_in(self) -> str:
        return self.console.sign_in or ("oauth" if self.project.deployment == "cloud" else "token")

    @model_validator(mode="after")
    def _default_region_is_known(self) -> "Settings":
        region = self.service_hours.default_region
        if region is not None and region not in self.regions:
            raise ValueError(f"service_hours.default_region: {region!r} is not one of regions ({', '.join(self.regions) or 'none set'})")
        return self

    @model_validator(mode="after")
    def _regions_are_known(self) -> "Settings":
        for name, organisation in self.organisations.items():
            if organisation.region is not None and organisation.region not in self.regions:
                raise ValueError(f"organisations.{name}.region: {organisation.region!r} is not one of regions ({', '.join(self.regions) or 'none set'})")
        return self

    @model_validator(mode="after")
    def _hand_back_is_an_open_status(self) -> "Settings":
        if self.statuses.hand_back_to in (self.statuses.resolved, self.statuses.closed):
            raise ValueError(
                "statuses.hand_back_to: must be a status agents work in, not "
                f"{self.statuses.hand_back_to!r}"
            )
        return self

    @property
    def vocabulary(self) -> Vocabulary:
        """The triage vocabulary, stemmed once (see config/vocabulary.py)."""
        vocabulary = self._vocabulary
        if vocabulary is None:
            keywords: dict[str, Mapping[str, tuple[str, ...]]] = {
                key: {lang: tuple(words) for lang, words in by_language.items()} for key, by_language in self.triage.vocabulary.items()}
            vocabulary = Vocabulary(keywords, self.triage.min_matches, self.triage.lead)
            object.__setattr__(self, "_vocabulary", vocabulary)
        return vocabulary

    def region_of(self, organisation: str | None) -> str | None:
        """The support region responsible for an organisation's tickets (or the default region)."""
        known = self.organisations.get(organisation or "")
        if known is not None and known.region is not None:
            return known.region
        return self.service_hours.default_region

    def sla_target(self, priority: str | None, organisation: str | None) -> SlaTarget | None:
        """The contractual times for a ticket of this priority (a Jira name) and organisation."""
        role = next((r for r in PRIORITY_ROLES if getattr(self.priorities, r) == priority), None)
        if role is None:
            return None
        base = self.sla.targets.get(role)
        known = self.organisations.get(organisation or "")
        override = known.sla.get(role) if known is not None else None
        if override is None:
            return base
        if base is None:
            return override
        return SlaTarget(reaction=override.reaction or base.reaction, resolution=override.resolution or base.resolution)

    def calendar_of(self, region: str) -> WorkCalendar:
        """The region's working hours and holidays, made once."""
        calendar = self._calendars.get(region)
        if calendar is None:
            spec = self.regions[region]
            calendar = WorkCalendar(
                name=region, zone=ZoneInfo(spec.timezone or self.project.timezone), days=weekday_numbers(spec.hours.days),
                start=time.fromisoformat(spec.hours.start), end=time.fromisoformat(spec.hours.end),
                country=spec.holidays.country if spec.holidays else None,
                subdivision=spec.holidays.subdivision if spec.holidays else None, extra=frozenset(spec.extra_holidays))
            self._calendars[region] = calendar
        return calendar

    @property
    def learned_triage(self) -> "LearnedTriage | None":
        return self._learned_triage

    def with_learned_triage(self, model: "LearnedTriage | None") -> "Settings":
        """These settings, with what `triage learn` learned from the site (None: keywords only)."""
        return self._with_private(_learned_triage=model)

    def _with_private(self, **changed: object) -> "Settings":
        """A copy that keeps what was loaded or learned beside the file (model_copy drops it)."""
        copy = self.model_copy()
        kept = {"_vocabulary": self._vocabulary, "_learned_triage": self._learned_triage, "_reply_model": self._reply_model}
        for name, value in {**kept, **changed}.items():
            object.__setattr__(copy, name, value)
        return copy

    def with_rule_switches(self, enabled: list[str], shadow: list[str]) -> "Settings":
        """These settings with other rule switches (the console's overrides), all else kept."""
        copy = self._with_private()
        object.__setattr__(copy, "rules", self.rules.model_copy(update={"enabled": enabled, "shadow": shadow}))
        return copy

    @property
    def reply_model(self) -> "LearnedTriage | None":
        return self._reply_model

    def with_reply_model(self, model: "LearnedTriage | None") -> "Settings":
        """These settings, with what confirmations read like, learned from the shipped replies."""
        return self._with_private(_reply_model=model)

    def is_enabled(self, rule_id: str) -> bool:
        """Switched on in app.yaml (no list: every rule the catalogue implements; start-up writes the list)."""
        return self.rules.enabled is None or rule_id in self.rules.enabled

    def is_shadow_only(self, rule_id: str) -> bool:
        """Decided, kept as a shadow firing, never written to Jira (rules.shadow, or the console)."""
        return rule_id in self.rules.shadow

    def language_of(self, organisation: str | None) -> str:
        if organisation is not None and organisation in self.organisations:
            return self.organisations[organisation].language
        return self.language.default
