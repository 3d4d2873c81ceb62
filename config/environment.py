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
