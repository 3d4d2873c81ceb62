"""Admins are told when the service cannot do its work: one message when an incident starts and
one when it ends, by e-mail and/or a chat webhook (`notify:` in app.yaml). Each message says what
happened, since when, what the service does meanwhile, and the command that shows more.

Detection is cheap and frequent (the health check's loop, every 10 s); what is open lives in the
store (store/incidents.py), so replicas share one message. The store itself not being
writable cannot be recorded there: each replica tells of that on its own.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Mapping, Protocol
from zoneinfo import ZoneInfo

import requests

from jsm_autopilot.config.environment import credentials_fix
from jsm_autopilot.config.notify import NOTIFY_WEBHOOK_ENVIRONMENT_VARIABLE, SMTP_PASSWORD_ENVIRONMENT_VARIABLE, Notify, NotifyEmail, NotifyWebhook
from jsm_autopilot.errors import NotifyFailed, StoreUnavailable
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.incidents import Incident, IncidentLog

log = logging.getLogger("jsm_autopilot.notify")

JIRA_UNREACHABLE = "jira_unreachable"
CREDENTIALS_REFUSED = "credentials_refused"
FIRING_FAILED = "firing_failed"
DEAD_LETTERS = "dead_letters"
ONCALL_FAILING = "oncall_failing"


@dataclass(frozen=True)
class Message:
    subject: str
    what: str
    since: str
    meanwhile: str
    more: str

    @property
    def text(self) -> str:
        return f"{self.what}\nSince: {self.since}\nMeanwhile: {self.meanwhile}\nMore: {self.more}\n"


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


@dataclass
class EmailChannel:
    settings: NotifyEmail
    password: str | None = field(default=None, repr=False)
    name: str = "e-mail"

    def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.settings.sender, ", ".join(self.settings.recipients), message.subject
        mail["Date"], mail["Message-ID"] = formatdate(localtime=False), make_msgid(domain=self.settings.sender.split("@")[1])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office reply comes back
        mail.set_content(message.text)
        try:
            with smtplib.SMTP(self.settings.host, self.settings.port, timeout=self.settings.timeout_seconds) as smtp:
                if self.settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.settings.user:
                    smtp.login(self.settings.user, self.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as error:
            raise NotifyFailed(f"SMTP {self.settings.host}:{self.settings.port}: {error}", "smtp") from None


@dataclass
class WebhookChannel:
    url: str = field(repr=False)  # a credential: never logged
    settings: NotifyWebhook
    name: str = "webhook"

    def send(self, message: Message) -> None:
        try:
            answer = requests.post(self.url, json=chat_document(message, self.settings.format), timeout=self.settings.timeout_seconds)
        except requests.RequestException as error:
            raise NotifyFailed(f"chat webhook ({JSON_FORMATS[self.settings.format]}): {type(error).__name__}", "webhook") from None
        if answer.status_code >= 300:
            raise NotifyFailed(f"chat webhook ({JSON_FORMATS[self.settings.format]}) answered {answer.status_code}: {answer.text[:200]}", "webhook")


JSON_FORMATS = {"slack": "Slack", "teams": "Microsoft Teams"}


def chat_document(message: Message, format: str) -> dict:
    """Slack: `text` with mrkdwn. Teams (Workflows webhook): a message with one Adaptive Card."""
    if format == "teams":
        facts = [{"title": title, "value": value} for title, value in
                 (("Since", message.since), ("Meanwhile", message.meanwhile), ("More", message.more))]
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
                "body": [{"type": "TextBlock", "text": message.subject, "weight": "Bolder", "wrap": True},
                         {"type": "TextBlock", "text": message.what, "wrap": True},
                         {"type": "FactSet", "facts": facts}]}
        return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                                                    "content": card}]}
    return {"text": f"*{message.subject}*\n{message.text}"}


def channels_from(notify: Notify, environ: Mapping[str, str] = os.environ) -> list[Channel]:
    found: list[Channel] = []
    if notify.email is not None:
        found.append(EmailChannel(notify.email, environ.get(SMTP_PASSWORD_ENVIRONMENT_VARIABLE) or None))
    url = (environ.get(NOTIFY_WEBHOOK_ENVIRONMENT_VARIABLE) or "").strip()
    if notify.webhook is not None and url:
        found.append(WebhookChannel(url, notify.webhook))
    return found


@dataclass
class Notifier:
    """Sees what goes wrong and tells admins. `check` runs on the health check's thread; the other
    entry points are called where things fail and only record (no message is sent from a worker)."""

    store: EventStore
    notify: Notify
    channels: list[Channel]
    jira_url: str
    zone: ZoneInfo
    deployment: str = "cloud"  # which variables hold the credentials, in what admins are told
    # For the store's incident: this replica's own memory, since the store cannot hold it.
    store_trouble_since: datetime | None = None
    store_trouble_told: bool = False
    _failing_channels: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.incidents = IncidentLog(self.store)

    # --- what callers report -------------------------------------------------------------------

    def firing_failed(self, issue: str, rule: str, error: str, now: datetime) -> None:
        self._seen(FIRING_FAILED, f"{rule} on {issue}: {error}", now)

    def oncall(self, error: str | None, now: datetime) -> None:
        """The on-call channel took an alert (None) or did not (what it answered)."""
        if error is not None:
            self._seen(ONCALL_FAILING, error, now)
            return
        try:
            if ONCALL_FAILING in self.incidents.open():
                self._tell_end(self.incidents.end(ONCALL_FAILING, now), now)
        except StoreUnavailable as unavailable:
            log.warning("incident not updated: %s", unavailable)

    # --- the periodic check --------------------------------------------------------------------

    def check(self, now: datetime, health, writable: bool | None = None) -> None:
        """Open and end incidents from what the service sees now, then announce what is due."""
        writable = self.store.writable(now) if writable is None else writable
        if not self._store_check(writable, now):
            return  # nothing else can be recorded while the store refuses writes
        try:
            lasting = self.incidents.open()
            jira_down = (health.unreachable or health.not_jira) if health.checked else None
            refused = health.credentials_refused if health.checked else None
            dead = self.store.list_events(failed_only=True, limit=1)
            for kind, cause in ((JIRA_UNREACHABLE, jira_down), (CREDENTIALS_REFUSED, refused),
                                (DEAD_LETTERS, dead and f"event {dead[0].identifier} for {dead[0].issue or 'no ticket'}: {dead[0].error}")):
                if cause:
                    self.incidents.seen(kind, str(cause), now)
                elif kind in lasting and (health.checked or kind == DEAD_LETTERS):
                    self._tell_end(self.incidents.end(kind, now), now)
            failing = lasting.get(FIRING_FAILED)
            if failing is not None and failing.last_seen <= now - self.notify.quiet_after.nominal:
                self._tell_end(self.incidents.end(FIRING_FAILED, now), now)
            if not self.channels:
                return
            for kind in (JIRA_UNREACHABLE, CREDENTIALS_REFUSED, FIRING_FAILED, DEAD_LETTERS, ONCALL_FAILING):
                after = self.notify.after.nominal if kind in (JIRA_UNREACHABLE, CREDENTIALS_REFUSED) else timedelta(0)
                claimed = self.incidents.claim_start(kind, now, after)
                if claimed is not None and not self._send(self._start_message(claimed, now)):
                    self.incidents.unclaim_start(kind, now)
        except StoreUnavailable as unavailable:
            log.warning("incidents not checked: %s", unavailable)

    def _store_check(self, writable: bool, now: datetime) -> bool:
        if not writable:
            if self.store_trouble_since is None:
                self.store_trouble_since = now
            if not self.store_trouble_told and self.channels:
                self.store_trouble_told = self._send(self._store_message(now, over=False))
            return False
        if self.store_trouble_since is not None:
            if self.store_trouble_told:
                self._send(self._store_message(now, over=True))
            self.store_trouble_since, self.store_trouble_told = None, False
        return True

    def _seen(self, kind: str, detail: str, now: datetime) -> None:
        try:
            self.incidents.seen(kind, detail, now)
        except StoreUnavailable as unavailable:
            log.warning("incident %s not recorded: %s", kind, unavailable)

    def _tell_end(self, ended: Incident | None, now: datetime) -> None:
        if ended is not None and ended.announced is not None and self.channels:
            self._send(self._end_message(ended, now))

    def _send(self, message: Message) -> bool:
        """On every channel; True when at least one took it. A failing channel is said once."""
        took = False
        for channel in self.channels:
            try:
                channel.send(message)
            except NotifyFailed as failed:
                if channel.name not in self._failing_channels:
                    log.error("admins could not be told by %s (%s): %s", channel.name, failed, message.subject,
                              extra={"notify": "failed", "channel": channel.name})
                self._failing_channels.add(channel.name)
                continue
            self._failing_channels.discard(channel.name)
            took = True
            log.warning("admins told by %s: %s", channel.name, message.subject, extra={"notify": "sent", "channel": channel.name})
        return took

    # --- the words -----------------------------------------------------------------------------

    def _when(self, at: datetime) -> str:
        return f"{at.astimezone(self.zone):%Y-%m-%d %H:%M %Z}"

    def _since(self, incident: Incident, now: datetime) -> str:
        return f"{self._when(incident.started)} ({_lasted(now - incident.started)})"

    def _start_message(self, incident: Incident, now: datetime) -> Message:
        since = self._since(incident, now)
        if incident.kind == JIRA_UNREACHABLE:
            return Message(f"jsm-autopilot: Jira at {self.jira_url} is unreachable",
                           f"Jira at JIRA_URL ({self.jira_url}) cannot be reached: {incident.detail}.", since,
                           "webhooks are still received and kept; rules and sweeps wait, no event is lost or counted as "
                           "failed; work resumes by itself when Jira answers.",
                           "jsm-autopilot doctor; GET /readyz")
        if incident.kind == CREDENTIALS_REFUSED:
            held_in = "JIRA_USER/JIRA_API_TOKEN" if self.deployment == "cloud" else "JIRA_PAT"
            return Message("jsm-autopilot: Jira refuses the automation account's credentials",
                           f"Jira at {self.jira_url} refuses the credentials in {held_in}: {incident.detail}. "
                           f"Fix: {credentials_fix(self.deployment)}.", since,
                           "workers are paused and webhook events kept pending; no rule fires.",
                           "jsm-autopilot doctor; GET /readyz")
        if incident.kind == FIRING_FAILED:
            return Message("jsm-autopilot: a rule failed for good",
                           f"A firing failed after its retries: {incident.detail}.", since,
                           "other tickets go on; the ticket is looked at again by the next sweep, and its webhook event is "
                           "retried until webhooks.max_attempts.",
                           "jsm-autopilot audit --outcome failed")
        if incident.kind == DEAD_LETTERS:
            waiting = self.store.counts().get("failed", 0)
            return Message("jsm-autopilot: webhook events failed for good",
                           f"{waiting} webhook event(s) failed for good (dead letters); the latest: {incident.detail}.", since,
                           "those events are kept and not tried again; all other events go on.",
                           "jsm-autopilot events --failed; once the cause is fixed, jsm-autopilot events replay --failed")
        return Message("jsm-autopilot: the on-call channel fails",
                       f"The on-call channel did not take an alert: {incident.detail}.", since,
                       "serious incidents still get their note in Jira, but nobody is paged; the firing is tried again "
                       "by the next sweep.",
                       "jsm-autopilot audit --rule oncall.alert --outcome failed; jsm-autopilot check")

    def _end_message(self, incident: Incident, now: datetime) -> Message:
        lasted = f"{self._when(incident.started)} to {self._when(now)} ({_lasted(now - incident.started)})"
        if incident.kind == JIRA_UNREACHABLE:
            return Message(f"jsm-autopilot: Jira at {self.jira_url} answers again", f"Jira at JIRA_URL ({self.jira_url}) answers again.",
                           lasted, "the events kept meanwhile are being processed now, each once.", "jsm-autopilot events")
        if incident.kind == CREDENTIALS_REFUSED:
            return Message("jsm-autopilot: Jira accepts the credentials again", "Jira accepts the automation account's credentials again.",
                           lasted, "workers resumed; the events kept meanwhile are being processed now.", "jsm-autopilot events")
        if incident.kind == FIRING_FAILED:
            return Message("jsm-autopilot: no rule has failed for a while",
                           f"No firing has failed since {self._when(incident.last_seen)}; {incident.times} failed during this incident.",
                           lasted, "rules fire as usual.", "jsm-autopilot audit --outcome failed")
        if incident.kind == DEAD_LETTERS:
            return Message("jsm-autopilot: no webhook event is failed any more",
                           "No dead letters are left: the failed events were replayed.", lasted, "events are processed as usual.",
                           "jsm-autopilot events")
        return Message("jsm-autopilot: the on-call channel takes alerts again", "The on-call channel took an alert again.",
                       lasted, "serious incidents page the on-call service as usual.", "jsm-autopilot audit --rule oncall.alert")

    def _store_message(self, now: datetime, over: bool) -> Message:
        since = self.store_trouble_since or now
        where = f"{self.store.location} (JSM_AUTOPILOT_DB)"
        if over:
            return Message("jsm-autopilot: the store can be written again", f"The store at {where} can be written again.",
                           f"{self._when(since)} to {self._when(now)} ({_lasted(now - since)})",
                           "webhooks are acknowledged and processed as usual; Jira re-sent what was refused meanwhile.", "jsm-autopilot events")
        return Message("jsm-autopilot: the store cannot be written",
                       f"The store at {where} cannot be written (a read-only or full disk, or a database that refuses writes).",
                       f"{self._when(since)} ({_lasted(now - since)})",
                       "webhooks are answered 503, so Jira sends them again later; no rule fires. This replica tells this on "
                       "its own: the store is what replicas share.",
                       "GET /readyz; jsm-autopilot events")


def _lasted(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days"
