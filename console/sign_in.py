"""Who is signing in, and their Jira groups, as Jira says: the console's only calls to Atlassian.

Cloud: Atlassian's OAuth 2.0 (3LO) authorisation-code flow through Authlib, which keeps the
`state` in the session and refuses a callback without it (a forged or replayed one). The grant
must cover JIRA_URL's site (accessible-resources lists every site of the grant, in no order);
then `GET /rest/api/3/myself?expand=groups` through the API gateway, which needs `read:jira-user`.
Data Center: Jira's own OAuth 2.0 provider (an incoming application link, with PKCE), or the
user's personal access token; either way `GET /rest/api/2/myself?expand=groups`.
Sources: docs/research/console-sign-in.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.console.roles import group_names, roles_of
from jsm_autopilot.errors import ServiceConfigurationError, SignInRefused

CLIENT_ID_VARIABLE = "JSM_AUTOPILOT_CONSOLE_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "JSM_AUTOPILOT_CONSOLE_CLIENT_SECRET"
# read:jira-user lets /myself expand groups (Atlassian's OpenAPI document); read:me as the issue asks.
SCOPES = "read:me read:jira-user"
# Data Center's provider: READ covers "View projects and issues ... Also view your user profile".
DATA_CENTER_SCOPES = "READ"
TIMEOUT = 15  # seconds: someone is waiting at the browser
# RFC 6749 4.1.2.1: the only error codes named back to the person signing in.
OAUTH_ERRORS = {"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
                "server_error", "temporarily_unavailable", "invalid_grant", "invalid_client", "mismatching_state"}


@dataclass(frozen=True)
class JiraUser:
    account: str  # accountId on Cloud, user name on Data Center
    display_name: str
    groups: tuple[str, ...]

    def roles(self, admins: Iterable[str], release_managers: Iterable[str]) -> frozenset[str]:
        return roles_of(self.groups, admins, release_managers)


def _answer_json(answer) -> dict:
    if not answer.ok:
        raise SignInRefused(f"Jira did not say who you are (answer {answer.status_code})", 502)
    try:
        found = answer.json()
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise SignInRefused("Jira's answer to who you are was not JSON", 502)
    return found


def _user_from(myself: dict) -> JiraUser:
    account = myself.get("accountId") or myself.get("name")
    if not account:
        raise SignInRefused("Jira's answer names no account", 502)
    return JiraUser(str(account), str(myself.get("displayName") or account), tuple(group_names(myself)))


class SignInThroughJira:
    def __init__(self, app: Flask, settings: Settings, jira_url: str, environ: Mapping[str, str] = os.environ):
        self.mode = settings.console_sign_in
        self.jira_url = jira_url.rstrip("/")
        self.console = settings.console
        if self.mode != "oauth":
            return
        missing = [name for name in (CLIENT_ID_VARIABLE, CLIENT_SECRET_VARIABLE) if not environ.get(name)]
        if missing:
            raise ServiceConfigurationError(
                f"set {' and '.join(missing)}: the OAuth 2.0 (3LO) app's client id and secret from developer.atlassian.com, whose "
                f"callback URL is {self.console.callback_url}", missing[0])
        self.data_center = settings.project.deployment != "cloud"
        self.oauth = OAuth(app)
        if self.data_center:
            # Jira's own provider (an incoming application link), with PKCE.
            provider = f"{self.jira_url}/rest/oauth2/latest"
            self.atlassian = self.oauth.register(
                "jira", client_id=environ[CLIENT_ID_VARIABLE], client_secret=environ[CLIENT_SECRET_VARIABLE],
                authorize_url=f"{provider}/authorize", access_token_url=f"{provider}/token",
                client_kwargs={"scope": DATA_CENTER_SCOPES, "code_challenge_method": "S256",
                               "token_endpoint_auth_method": "client_secret_post", "timeout": TIMEOUT},
            )
            return
        auth = self.console.auth_url.rstrip("/")
        self.atlassian = self.oauth.register(
            "atlassian", client_id=environ[CLIENT_ID_VARIABLE], client_secret=environ[CLIENT_SECRET_VARIABLE],
            authorize_url=f"{auth}/authorize", access_token_url=f"{auth}/oauth/token",
            client_kwargs={"scope": SCOPES, "token_endpoint_auth_method": "client_secret_post", "timeout": TIMEOUT},
        )

    def start(self):
        """The redirect to the consent page (Atlassian's, or the Data Center site's); the state
        (and on Data Center the PKCE verifier) is kept in the session."""
        if self.data_center:
            return self.atlassian.authorize_redirect(self.console.callback_url)
        return self.atlassian.authorize_redirect(self.console.callback_url, audience="api.atlassian.com", prompt="consent")

    def finish_oauth(self) -> JiraUser:
        try:
            token = self.atlassian.authorize_access_token()
        except MismatchingStateError:
            raise SignInRefused("this sign-in was not started here, or was already used; start again", 400) from None
        except OAuthError as error:
            # Fixed words only: the callback's error text is whatever the link that led here said.
            if error.error == "access_denied":
                raise SignInRefused("you declined the access the console asks for; nothing was signed in", 403) from None
            known = error.error if error.error in OAUTH_ERRORS else "an error"
            raise SignInRefused(f"the sign-in was refused ({known}); start again, and ask your Jira admin if it goes on", 400) from None
        if self.data_center:
            return _user_from(_answer_json(self.atlassian.get(f"{self.jira_url}/rest/api/2/myself", params={"expand": "groups"},
                                                              token=token)))
        api = self.console.api_url.rstrip("/")
        resources = self.atlassian.get(f"{api}/oauth/token/accessible-resources", token=token)
        try:
            sites = resources.json() if resources.ok else []
        except ValueError:
            sites = []
        # Every site of the grant, in no order (Atlassian): the one at JIRA_URL, or none.
        wanted = self.jira_url.casefold()
        site = next((s for s in sites if isinstance(s, dict) and str(s.get("url", "")).rstrip("/").casefold() == wanted), None)
        if site is None:
            raise SignInRefused(f"your Atlassian account did not grant the console access to {self.jira_url}; sign in again and "
                                "choose that site")
        answer = self.atlassian.get(f"{api}/ex/jira/{site['id']}/rest/api/3/myself", params={"expand": "groups"}, token=token)
        return _user_from(_answer_json(answer))

    def finish_token(self, personal_access_token: str) -> JiraUser:
        if self.mode != "token":
            raise SignInRefused("this console signs in through Atlassian, not with a token", 400)
        token = personal_access_token.strip()
        if not token:
            raise SignInRefused("paste a personal access token (Jira: your profile, Personal Access Tokens)", 400)
        try:
            answer = requests.get(f"{self.jira_url}/rest/api/2/myself", params={"expand": "groups"},
                                  headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise SignInRefused(f"Jira at {self.jira_url} did not answer: {type(error).__name__}", 502) from None
        if answer.status_code in (401, 403):
            raise SignInRefused("Jira did not accept this token (wrong, expired or revoked)", 401)
        return _user_from(_answer_json(answer))
