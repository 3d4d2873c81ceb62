"""Setting the console up (issue 31): what is missing is named at start, and Data Center's sign-in
with a personal access token checked against GET /rest/api/2/myself (Atlassian: "Using Personal
Access Tokens"; the groups as resolution.de recorded them, name and self only)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from jsm_autopilot.config.loader import settings_from_mapping
from jsm_autopilot.config.settings import ConsoleSettings
from jsm_autopilot.errors import ServiceConfigurationError, SettingsError
from jsm_autopilot.service.serve import Service
from tests.conftest import shipped_settings_data
from tests.console_site import ADMIN, csrf_token
from tests.site import AGENT


def test_oauth_on_cloud_needs_the_public_url_named_by_its_key():
    data = shipped_settings_data()
    data["console"] = {"enabled": True}
    with pytest.raises(SettingsError) as refused:
        settings_from_mapping(data)
    assert any(problem.startswith("console.public_url") for problem in refused.value.problems) or "console.public_url" in str(refused.value)


@pytest.mark.parametrize("environ, variable", [
    ({}, "JSM_AUTOPILOT_CONSOLE_SESSION_KEY"),
    ({"JSM_AUTOPILOT_CONSOLE_SESSION_KEY": "short"}, "JSM_AUTOPILOT_CONSOLE_SESSION_KEY"),
    ({"JSM_AUTOPILOT_CONSOLE_SESSION_KEY": "replace-me-with-32-random-characters-or-more"}, "JSM_AUTOPILOT_CONSOLE_SESSION_KEY"),
    ({"JSM_AUTOPILOT_CONSOLE_SESSION_KEY": "k" * 40}, "JSM_AUTOPILOT_CONSOLE_CLIENT_ID"),
])
def test_serve_names_the_missing_variable(site_factory, store, environ, variable):
    from tests.console_site import T0
    from tests.site import site_with_due_reminder

    site, _ = site_with_due_reminder(site_factory, T0)
    console = ConsoleSettings(enabled=True, public_url="https://autopilot.example.com")
    with pytest.raises(ServiceConfigurationError) as refused:
        Service(site.settings.model_copy(update={"console": console}), store, site.client(), b"secret", console_environ=environ)
    assert refused.value.variable == variable and variable in str(refused.value)


@pytest.fixture
def data_center_console(console_factory):
    return console_factory(sign_in="token", deployment="datacenter")


def sign_in_with(console, token: str):
    session = console.browser_session()
    page = session.get(f"{console.url}/console/sign-in")
    csrf = csrf_token(page.text)
    return session, session.post(f"{console.url}/console/sign-in/token", data={"token": token, "csrf_token": csrf})


def test_on_data_center_an_admin_signs_in_with_a_personal_access_token(data_center_console):
    console = data_center_console
    session, page = sign_in_with(console, console.site.personal_access_token(ADMIN))
    assert page.status_code == 200 and page.url.endswith("/console/overview") and "Signed in as Ada" in page.text
    assert session.get(f"{console.url}/console/rules").status_code == 200


def test_a_wrong_empty_or_roleless_token_is_refused(data_center_console):
    console = data_center_console
    assert sign_in_with(console, "not-a-token")[1].status_code == 401
    assert sign_in_with(console, "   ")[1].status_code == 400
    session, refused = sign_in_with(console, console.site.personal_access_token(AGENT))
    assert refused.status_code == 403 and "in none of the groups" in refused.text
    assert session.get(f"{console.url}/console/rules", allow_redirects=False).status_code == 302


@pytest.fixture
def data_center_oauth(console_factory):
    return console_factory(sign_in="oauth", deployment="datacenter")


def test_on_data_center_an_admin_signs_in_through_jiras_own_oauth_provider(data_center_oauth):
    """Jira's OAuth 2.0 provider (Atlassian: "Jira OAuth 2.0 provider API"): authorisation code with
    PKCE at /rest/oauth2/latest/authorize and /token, scope READ."""
    console = data_center_oauth
    session = console.browser_session()
    location = session.get(f"{console.url}/console/sign-in/atlassian", allow_redirects=False).headers["Location"]
    asked = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert location.startswith(f"{console.site.url}/rest/oauth2/latest/authorize?")
    assert asked["scope"] == "READ" and asked["code_challenge_method"] == "S256" and asked["code_challenge"]
    page = console.sign_in(ADMIN, session)
    assert page.status_code == 200 and page.url.endswith("/console/overview") and "Signed in as Ada" in page.text


def test_data_centers_provider_refuses_a_code_without_its_verifier_or_after_ten_seconds(data_center_oauth):
    console = data_center_oauth
    session = console.browser_session()

    def code() -> str:
        location = session.get(f"{console.url}/console/sign-in/atlassian", allow_redirects=False).headers["Location"]
        asked = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        back = session.post(location.split("?")[0], data={**asked, "email": ADMIN, "decision": "accept"}, allow_redirects=False)
        return parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]

    exchange = {"grant_type": "authorization_code", "client_id": console.client_id, "client_secret": console.client_secret,
                "redirect_uri": f"{console.url}/console/signed-in"}
    token_url = f"{console.site.url}/rest/oauth2/latest/token"
    no_verifier = requests.post(token_url, data={**exchange, "code": code()})
    assert no_verifier.status_code == 400 and no_verifier.json()["error"] == "invalid_grant"
    late = code()
    console.site.set_clock(console.site.state.now + timedelta(seconds=11))  # the sandbox clock moves only when told
    expired = requests.post(token_url, data={**exchange, "code": late, "code_verifier": "x" * 43})
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_request"  # expired, before the verifier is looked at
