"""Signing in to the console through Jira (issue 31 item 1): roles from Jira groups read at sign-in,
the OAuth 2.0 (3LO) flow as strict as Atlassian documents it, sessions and CSRF.

Sources for the sandbox's side: docs/research/console-sign-in.md and sandbox/REAL_JIRA.md
("Signing in"): Atlassian's "Implementing OAuth 2.0 (3LO)" and "Enabling OAuth 2.0 (3LO)" (the
redirect_uri must match the callback URL), Atlassian staff on the developer community (codes
expire after 10 minutes, "authorization_code is invalid"; tokens after an hour), RFC 6749 4.1.2 (a
code is used once), and the Jira OpenAPI document (myself?expand=groups needs read:jira-user)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import requests

from jsm_autopilot.console.app import wanted
from jsm_autopilot.console.roles import ADMIN as ADMIN_ROLE
from jsm_autopilot.console.roles import RELEASE_MANAGER as RELEASE_ROLE
from jsm_autopilot.console.roles import group_names, roles_of
from jsm_autopilot.rules.overrides import RuleOverride
from tests.console_site import ADMIN, RELEASE_MANAGER, csrf_token, later
from tests.site import AGENT


def test_roles_come_from_the_groups_named_in_app_yaml():
    assert roles_of(["Jira-Administrators"], ["jira-administrators"], ["release-managers"]) == {ADMIN_ROLE, RELEASE_ROLE}
    assert roles_of(["release-managers", "x"], ["jira-administrators"], ["release-managers"]) == {RELEASE_ROLE}
    assert roles_of(["jira-servicedesk-users"], ["jira-administrators"], ["release-managers"]) == frozenset()
    assert roles_of(["admins"], [], ["release-managers"]) == frozenset()


def test_group_names_are_read_from_cloud_and_data_center_answers():
    cloud = {"groups": {"size": 1, "items": [{"name": "jira-administrators", "groupId": "g-1", "self": "..."}]}}
    assert group_names(cloud) == ["jira-administrators"]
    assert group_names({"groups": {"items": [{"name": "release-managers", "self": "..."}]}}) == ["release-managers"]
    assert group_names({"accountId": "x"}) == [] and group_names({"groups": None}) == []


def test_a_switch_keeps_only_what_differs_from_app_yaml(settings):
    rule = "clarification.reminder"
    none = RuleOverride(rule)
    assert wanted("off", none, settings, rule) == (False, None)
    assert wanted("on", RuleOverride(rule, enabled=False), settings, rule) == (None, None)  # app.yaml has it on
    assert wanted("shadow", RuleOverride(rule, enabled=False), settings, rule) == (False, True)
    assert wanted("live", RuleOverride(rule, shadow=True), settings, rule) == (None, None)
    assert wanted("reset", RuleOverride(rule, enabled=False, shadow=True), settings, rule) == (None, None)
    yaml_off = settings.with_rule_switches([r for r in settings.rules.enabled or [] if r != rule], [rule])
    assert wanted("on", none, yaml_off, rule) == (True, None)
    assert wanted("live", none, yaml_off, rule) == (None, False)


def test_an_admin_signs_in_through_atlassian_and_sees_the_rules(console):
    session = console.browser_session()
    page = console.sign_in(ADMIN, session)
    assert page.status_code == 200 and page.url.endswith("/console/overview"), page.text[-600:]
    page = session.get(f"{console.url}/console/rules")
    assert "Signed in as Ada" in page.text and 'data-rule="clarification.reminder"' in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_the_session_cookie_is_signed_httponly_secure_and_lax(console):
    session = console.browser_session()
    console.sign_in(ADMIN, session)
    # requests keeps the attributes the server set on the cookie
    cookie = next(c for c in session.cookies if c.name == "jsm_autopilot_console")
    assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "Lax"
    assert cookie.path == "/console"
    forged = console.browser_session()
    forged.cookies.set("jsm_autopilot_console", cookie.value[:-2] + "xx", domain=cookie.domain, path="/console")
    assert forged.get(f"{console.url}/console/rules", allow_redirects=False).headers["Location"].endswith("/console/sign-in")


def test_a_release_manager_is_signed_in_without_the_admin_pages(console):
    session = console.browser_session()
    page = console.sign_in(RELEASE_MANAGER, session)
    assert page.url.endswith("/console/deliveries") and "Waiting in Delivery Pending" in page.text
    assert "release manager" in session.get(f"{console.url}/console/me").text
    refused = session.get(f"{console.url}/console/rules")
    assert refused.status_code == 403 and "Your Jira groups do not allow this page." in refused.text


def test_an_agent_in_neither_group_is_refused_and_not_signed_in(console):
    session = console.browser_session()
    page = console.sign_in(AGENT, session)
    assert page.status_code == 403
    assert "in none of the groups the console admits (jira-administrators, release-managers)" in page.text
    assert session.get(f"{console.url}/console/rules", allow_redirects=False).status_code == 302


def test_a_callback_without_the_state_this_browser_started_is_refused(console):
    attacker = console.browser_session()
    start = attacker.get(f"{console.url}/console/sign-in/atlassian", allow_redirects=False).headers["Location"]
    state = re.search(r"state=([^&]+)", start).group(1)
    victim = console.browser_session()
    victim.get(f"{console.url}/console/sign-in")
    page = victim.get(f"{console.url}/console/signed-in", params={"code": "whatever", "state": state})
    assert page.status_code == 400 and "was not started here" in page.text


def test_a_code_is_used_once_and_expires_after_ten_minutes(console):
    # the sandbox's token endpoint, asked as the console would
    session = console.browser_session()
    location = session.get(f"{console.url}/console/sign-in/atlassian", allow_redirects=False).headers["Location"]
    from urllib.parse import parse_qs, urlsplit

    asked = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert asked["audience"] == "api.atlassian.com" and asked["prompt"] == "consent" and asked["response_type"] == "code"
    assert set(asked["scope"].split()) == {"read:me", "read:jira-user"}
    back = session.post(location.split("?")[0], data={**asked, "email": ADMIN, "decision": "accept"}, allow_redirects=False)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    exchange = {"grant_type": "authorization_code", "client_id": console.client_id, "client_secret": console.client_secret,
                "code": code, "redirect_uri": f"{console.url}/console/signed-in"}
    first = requests.post(f"{console.site.url}/oauth/token", json=exchange)
    assert first.status_code == 200
    again = requests.post(f"{console.site.url}/oauth/token", json=exchange)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # ... and what the first exchange gave is revoked (RFC 6749 4.1.2)
    token = first.json()["access_token"]
    assert requests.get(f"{console.site.url}/oauth/token/accessible-resources", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    late = session.post(location.split("?")[0], data={**asked, "email": ADMIN, "decision": "accept"}, allow_redirects=False)
    later(console.site, 11)
    expired = requests.post(f"{console.site.url}/oauth/token",
                            json={**exchange, "code": parse_qs(urlsplit(late.headers["Location"]).query)["code"][0]})
    assert expired.status_code == 400 and expired.json() == {"error": "invalid_request", "error_description": "authorization_code is invalid"}


def test_atlassian_refuses_a_redirect_uri_other_than_the_callback(console):
    session = console.browser_session()
    location = session.get(f"{console.url}/console/sign-in/atlassian", allow_redirects=False).headers["Location"]
    forged = location.replace("localhost", "evil.example")
    answer = session.get(forged, allow_redirects=False)
    assert answer.status_code == 400 and "does not match the callback URL" in answer.text and "Location" not in answer.headers


def test_a_user_who_declines_is_told_and_not_signed_in(console):
    session = console.browser_session()
    location = session.get(f"{console.url}/console/sign-in/atlassian", allow_redirects=False).headers["Location"]
    from urllib.parse import parse_qs, urlsplit

    asked = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    back = session.post(location.split("?")[0], data={**asked, "email": ADMIN, "decision": "deny"}, allow_redirects=False)
    page = session.get(back.headers["Location"])
    assert page.status_code == 403 and "you declined" in page.text


def test_a_form_without_its_csrf_token_is_refused(console):
    session = console.browser_session()
    console.sign_in(ADMIN, session)
    rules = f"{console.url}/console/rules/clarification.reminder"
    missing = session.post(rules, data={"action": "off"})
    forged = session.post(rules, data={"action": "off", "csrf_token": "forged"})
    assert missing.status_code == forged.status_code == 400
    assert "not sent by this console" in forged.text
    assert console.service.switches.apply(console.service.base_settings).is_enabled("clarification.reminder")


def test_switching_a_rule_off_records_who_and_the_next_sweep_skips_it(console):
    session = console.browser_session()
    console.sign_in(ADMIN, session)
    page = session.get(f"{console.url}/console/rules")
    token = csrf_token(page.text)
    switched = session.post(f"{console.url}/console/rules/clarification.reminder", data={"action": "off", "csrf_token": token})
    assert switched.status_code == 200 and 'data-rule="clarification.reminder" data-state="off"' in switched.text
    assert "Ada" in switched.text  # the change, with who made it
    report = console.service.scheduled_sweep()
    assert report is not None and report.firings_applied == 0 and console.site.comments_by_bot(console.key) == []


def test_the_rules_form_refuses_an_unknown_rule_or_action(console):
    session = console.browser_session()
    console.sign_in(ADMIN, session)
    token = csrf_token(session.get(f"{console.url}/console/rules").text)
    assert session.post(f"{console.url}/console/rules/no.such_rule", data={"action": "off", "csrf_token": token}).status_code == 400
    assert session.post(f"{console.url}/console/rules/customisation.offer", data={"action": "on", "csrf_token": token}).status_code == 400
    assert session.post(f"{console.url}/console/rules/clarification.reminder", data={"action": "drop", "csrf_token": token}).status_code == 400
    from jsm_autopilot.store.rule_overrides import RuleOverrides

    assert RuleOverrides(console.service.store).history() == []


def test_a_grant_that_does_not_cover_jira_url_is_refused(console):
    requests.post(f"{console.site.url}/_sandbox/oauth/grant", json={"own_site": False}).raise_for_status()
    page = console.sign_in(ADMIN)
    assert page.status_code == 403 and f"did not grant the console access to {console.site.url}" in page.text


def test_the_callbacks_own_error_text_is_never_shown(console):
    session = console.browser_session()
    location = session.get(f"{console.url}/console/sign-in/atlassian", allow_redirects=False).headers["Location"]
    state = re.search(r"state=([^&]+)", location).group(1)
    page = session.get(f"{console.url}/console/signed-in",
                       params={"error": "server_error", "error_description": "Call +1 555 0100 to restore access", "state": state})
    assert page.status_code == 400 and "555" not in page.text and "(server_error)" in page.text


def test_roles_follow_app_yaml_as_it_is_now_and_a_console_switched_off_is_gone(console):
    session = console.browser_session()
    console.sign_in(ADMIN, session)
    assert session.get(f"{console.url}/console/rules").status_code == 200
    service = console.service
    service.settings = service.settings.model_copy(update={"console": service.settings.console.model_copy(update={"admins": []})})
    assert session.get(f"{console.url}/console/rules", allow_redirects=False).status_code == 302  # no role left: signed out
    service.settings = service.settings.model_copy(update={"console": service.settings.console.model_copy(update={"enabled": False})})
    assert session.get(f"{console.url}/console/sign-in").status_code == 404


def test_a_button_acts_on_the_override_in_force_even_when_the_store_lost_it(console):
    from sqlalchemy import delete

    from jsm_autopilot.store.rule_overrides import RuleOverrides
    from jsm_autopilot.store.schema import rule_override_changes, rule_overrides

    service = console.service
    RuleOverrides(service.store).set("clarification.reminder", False, True, "ann", datetime.now(timezone.utc))
    service.refresh_rule_switches()
    with service.store.engine.begin() as connection:  # restored from a backup without them
        connection.execute(delete(rule_overrides))
        connection.execute(delete(rule_override_changes))
    service.refresh_rule_switches()
    assert not service.settings.is_enabled("clarification.reminder")
    session = console.browser_session()
    console.sign_in(ADMIN, session)
    page = session.get(f"{console.url}/console/rules")
    assert "The store has lost this override" in page.text
    token = csrf_token(page.text)
    session.post(f"{console.url}/console/rules/clarification.reminder", data={"action": "live", "csrf_token": token})
    # "write to Jira" on a rule that is off keeps it off: it does not come back on by the way
    assert not service.settings.is_enabled("clarification.reminder") and not service.settings.is_shadow_only("clarification.reminder")
    assert service.switches.lost == []
