"""Where admins are told when the service cannot do its work (`notify:` in app.yaml): e-mail over
SMTP and/or a chat webhook (Slack or Microsoft Teams). Secrets stay in the environment: the SMTP
password and the webhook URL (a Slack or Teams incoming-webhook URL is itself a credential)."""

from __future__ import annotations

from typing import Annotated, Literal, Mapping

from pydantic import BeforeValidator, Field, PlainSerializer

from jsm_autopilot.config.durations import Duration
from jsm_autopilot.config.sections import Name, Section

SMTP_PASSWORD_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_SMTP_PASSWORD"
NOTIFY_WEBHOOK_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL"
Address = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
_Duration = Annotated[Duration, BeforeValidator(Duration.parse), PlainSerializer(str, return_type=str)]


class NotifyEmail(Section):
    # The SMTP server.
    host: Name
    # Its port (587: submission with STARTTLS).
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    # STARTTLS on the submission port (587); false only for a relay on the same host or network.
    starttls: bool = True
    # The From address.
    sender: Address
    # Who is told.
    recipients: list[Address] = Field(min_length=1)
    # The SMTP account, if the server asks for one; its password is JSM_AUTOPILOT_SMTP_PASSWORD.
    user: Name | None = None
    # How long to wait for the SMTP server.
    timeout_seconds: Annotated[int, Field(ge=1, le=300)] = 20


class NotifyWebhook(Section):
    # slack: {"text": ...} (Slack's incoming webhooks, and Mattermost's and Rocket.Chat's);
    # teams: an Adaptive Card message, as a Teams "Workflows" webhook takes it (Office 365
    # connectors, which took plain text, were retired in 2026). The URL is JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL.
    format: Literal["slack", "teams"] = "slack"
    # How long to wait for the chat webhook.
    timeout_seconds: Annotated[int, Field(ge=1, le=300)] = 10


class Notify(Section):
    # Jira unreachable, or refusing the credentials, this long before admins are told: a restart
    # of Jira or a short network blip is no incident.
    after: _Duration = Duration(seconds=300)
    # A failed firing is an incident that ends once no other firing has failed for this long.
    quiet_after: _Duration = Duration(seconds=3600)
    # The SMTP server: host, port (587), starttls (true), sender, recipients, user (optional; its
    # password is JSM_AUTOPILOT_SMTP_PASSWORD), timeout_seconds (20).
    email: NotifyEmail | None = None
    # A chat webhook: format slack ({"text": ...}) or teams (an Adaptive Card, as a Teams Workflows
    # webhook takes it); timeout_seconds (10). The URL is JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL.
    webhook: NotifyWebhook | None = None


def notify_gaps(notify: Notify, environ: Mapping[str, str]) -> list[str]:
    """What `notify:` asks for that the environment does not give: one line per gap."""
    gaps = []
    if notify.webhook is not None and not (environ.get(NOTIFY_WEBHOOK_ENVIRONMENT_VARIABLE) or "").strip():
        gaps.append(f"notify.webhook is set but {NOTIFY_WEBHOOK_ENVIRONMENT_VARIABLE} is not: no chat message can be sent")
    if notify.email is not None and notify.email.user and not environ.get(SMTP_PASSWORD_ENVIRONMENT_VARIABLE):
        gaps.append(f"notify.email.user is {notify.email.user!r} but {SMTP_PASSWORD_ENVIRONMENT_VARIABLE} is not set: "
                    "the SMTP server will refuse the sign-in")
    return gaps
