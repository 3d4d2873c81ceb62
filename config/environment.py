"""Secrets and site address, read from the environment only (never from app.yaml or logs)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from jsm_autopilot.errors import CredentialsError


@dataclass(frozen=True)
class JiraCredentials:
    url: str
    user: str | None = None
    # repr=False keeps tokens out of logs and tracebacks.
    api_token: str | None = field(default=None, repr=False)
    personal_access_token: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return "pat" if self.personal_access_token else "api-token"


def jira_credentials(environ: Mapping[str, str] | None = None) -> JiraCredentials:
    """Cloud: JIRA_URL, JIRA_USER (e-mail) and JIRA_API_TOKEN; Data Center: JIRA_URL and JIRA_PAT."""
    env = os.environ if environ is None else environ
    url = (env.get("JIRA_URL") or "").strip().rstrip("/")
    missing = []
    if not url:
        missing.append("JIRA_URL")
    pat = env.get("JIRA_PAT") or None
    user = env.get("JIRA_USER") or None
    token = env.get("JIRA_API_TOKEN") or None
    if not pat:
        if not user:
            missing.append("JIRA_USER")
        if not token:
            missing.append("JIRA_API_TOKEN")
    if missing:
        raise CredentialsError(
            "set " + ", ".join(missing) + " in the environment (or JIRA_URL and JIRA_PAT for Data Center)", tuple(missing)
        )
    if not url.startswith(("https://", "http://")):
        raise CredentialsError(f"JIRA_URL must start with https:// (got {url!r})", ("JIRA_URL",))
    return JiraCredentials(url=url, user=user, api_token=token, personal_access_token=pat)


def credential_variables(deployment: str) -> str:
    """The variables that hold the credentials sent to this kind of site, as an admin sets them."""
    return "JIRA_USER/JIRA_API_TOKEN" if deployment == "cloud" else "JIRA_PAT"


def credentials_fix(deployment: str) -> str:
    """What to do when Jira refuses them (a revoked or mistyped token, or another account's e-mail)."""
    if deployment == "cloud":
        return "check JIRA_USER (the account's e-mail), or create a new API token at id.atlassian.com and set it in JIRA_API_TOKEN"
    return "create a new personal access token (profile > Personal access tokens) and set it in JIRA_PAT"


# Every variable the service reads, with what it is for: the docs' reference is generated from
# this (jsm_autopilot/reference.py), and a test checks the code reads no variable missing here.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "JIRA_URL": "the site, e.g. `https://example.atlassian.net`",
    "JIRA_USER": "Jira Cloud: the automation account's e-mail",
    "JIRA_API_TOKEN": "Jira Cloud: the automation account's API token",
    "JIRA_PAT": "Data Center: a personal access token of the automation account (sent as Bearer)",
    "JSM_AUTOPILOT_CONFIG": "path of `app.yaml`, when not `./app.yaml`",
    "JSM_AUTOPILOT_WEBHOOK_SECRET": "the secret of the Jira webhook; `serve` refuses to start without it unless `webhooks.allow_unsigned`",
    "JSM_AUTOPILOT_DB": "SQLAlchemy URL of the store (default: `jsm-autopilot.db` in `$XDG_STATE_HOME/jsm-autopilot/`, else "
                        "`~/.local/state/jsm-autopilot/`)",
    "XDG_STATE_HOME": "where the default store and the learned models' cache live (under `jsm-autopilot/`)",
    "JSM_AUTOPILOT_LOCK_DIR": "where `sweep --once` keeps its per-project lock (default: the temp folder)",
    "JSM_AUTOPILOT_API_TOKEN": "the bearer token of `POST /api/deliveries`; unset, the endpoint is off",
    "JSM_AUTOPILOT_SERVICE_URL": "`delivery create --service-url`'s default: the running service to ask instead of Jira",
    "JSM_AUTOPILOT_ONCALL_URL": "where `oncall.alert` POSTs its alerts",
    "JSM_AUTOPILOT_JSM_OPS_API_KEY": "the API integration key for JSM operations alerts (`oncall.jsm_ops_url`)",
    "JSM_AUTOPILOT_SMTP_PASSWORD": "the password of `notify.email.user` on the SMTP server",
    "JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL": "the Slack or Teams incoming-webhook URL for `notify.webhook` (it is a credential)",
    "JSM_AUTOPILOT_PUBLIC_URL": "where Jira reaches the service; `doctor` compares the webhook's URL with it",
    "JSM_AUTOPILOT_PORT": "the port of `serve` when `--port` is not given (default 8080)",
    "JSM_AUTOPILOT_CONSOLE_SESSION_KEY": "with `console.enabled`: 32 random characters or more that sign the console's sessions",
    "JSM_AUTOPILOT_CONSOLE_CLIENT_ID": "with the console signing in by OAuth: the app's client id",
    "JSM_AUTOPILOT_CONSOLE_CLIENT_SECRET": "with the console signing in by OAuth: the app's client secret",
    "PGPASSWORD": "the PostgreSQL password, read by the driver (libpq), so that it stays out of `JSM_AUTOPILOT_DB`",
}
