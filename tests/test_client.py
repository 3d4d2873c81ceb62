"""The connector's retry policy, on the wire: what is retried, how long it waits, what is not."""

from __future__ import annotations

import pytest
import requests
import responses

from jsm_autopilot.config.environment import JiraCredentials
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.errors import JiraAmbiguous, JiraRefused, JiraUnavailable

SITE = "https://example.atlassian.net"
SERVER_INFO = f"{SITE}/rest/api/3/serverInfo"
COMMENT = f"{SITE}/rest/api/3/issue/SD-1/comment"
ERROR = {"errorMessages": ["nope"], "errors": {}}


class FakeTime:
    """Sleeping advances this clock; nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client(fake: FakeTime, **options) -> JiraClient:
    return JiraClient(JiraCredentials(SITE, "bot@example.com", "token"), "cloud", sleep=fake.sleep, clock=fake.clock,
                      jitter=lambda: 0.5, **options)


def ok_server_info() -> dict:
    return {"serverTime": "2026-01-05T09:00:00.000+0000"}


@responses.activate
def test_a_429_waits_as_long_as_retry_after_says():
    fake = FakeTime()
    responses.get(SERVER_INFO, json=ERROR, status=429, headers={"Retry-After": "7"})
    responses.get(SERVER_INFO, json=ok_server_info())
    client(fake).server_time()
    assert fake.sleeps == [7.0]
    assert len(responses.calls) == 2


@responses.activate
def test_5xx_backs_off_exponentially():
    fake = FakeTime()
    for _ in range(3):
        responses.get(SERVER_INFO, json=ERROR, status=503)
    responses.get(SERVER_INFO, json=ok_server_info())
    jira = client(fake)
    jira.server_time()
    assert fake.sleeps == [0.5, 1.0, 2.0]  # 0.5 * 2^n, jitter factor 1.0 here
    assert jira.retries == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
@responses.activate
def test_client_errors_are_never_retried(status):
    fake = FakeTime()
    responses.get(SERVER_INFO, json=ERROR, status=status)
    with pytest.raises(JiraRefused) as refused:
        client(fake).server_time()
    assert refused.value.status == status and "nope" in str(refused.value)
    assert len(responses.calls) == 1 and fake.sleeps == []


@responses.activate
def test_the_time_budget_ends_the_retries():
    fake = FakeTime()
    responses.get(SERVER_INFO, json=ERROR, status=429, headers={"Retry-After": "40"})
    with pytest.raises(JiraUnavailable) as unavailable:
        client(fake, budget_seconds=100, max_attempts=50).server_time()
    assert unavailable.value.status == 429
    assert sum(fake.sleeps) <= 100
    assert len(responses.calls) == 3  # waits 40 + 40, a third wait would pass the budget


@responses.activate
def test_a_write_is_retried_when_429_proves_it_was_not_applied():
    fake = FakeTime()
    responses.post(COMMENT, json=ERROR, status=429, headers={"Retry-After": "1"})
    responses.post(COMMENT, json={"id": "1"}, status=201)
    assert client(fake).add_comment("SD-1", {"body": "x"}) == {"id": "1"}


@pytest.mark.parametrize("status", [500, 502, 504])
@responses.activate
def test_a_write_failing_ambiguously_is_not_resent_blindly(status):
    fake = FakeTime()
    responses.post(COMMENT, json=ERROR, status=status)
    with pytest.raises(JiraAmbiguous):
        client(fake).add_comment("SD-1", {"body": "x"})
    assert len(responses.calls) == 1


@responses.activate
def test_a_lost_connection_on_a_read_is_retried():
    fake = FakeTime()
    responses.get(SERVER_INFO, body=requests.ConnectionError("reset by peer"))
    responses.get(SERVER_INFO, json=ok_server_info())
    client(fake).server_time()
    assert len(responses.calls) == 2


@responses.activate
def test_the_library_does_not_retry_on_its_own():
    # atlassian-python-api would sleep on Retry-After and retry once by itself; it must not.
    fake = FakeTime()
    responses.get(SERVER_INFO, json=ERROR, status=429, headers={"Retry-After": "3"})
    with pytest.raises(JiraUnavailable):
        client(fake, max_attempts=1).server_time()
    assert len(responses.calls) == 1


@responses.activate
def test_cloud_uses_basic_auth_and_data_center_a_bearer_token():
    responses.get(SERVER_INFO, json=ok_server_info())
    responses.get("https://jira.example.com/rest/api/2/serverInfo", json=ok_server_info())
    client(FakeTime()).server_time()
    JiraClient(JiraCredentials("https://jira.example.com", personal_access_token="pat"), "datacenter").server_time()
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert responses.calls[1].request.headers["Authorization"] == "Bearer pat"


@responses.activate
def test_jira_answers_are_kept_in_the_error():
    responses.post(COMMENT, json={"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}, status=400)
    with pytest.raises(JiraRefused, match="comment: Comment body can not be empty!"):
        client(FakeTime()).add_comment("SD-1", {"body": ""})


@responses.activate
def test_retries_end_once_the_health_check_finds_jira_away():
    """Issue 29: a call in flight does not spend its whole budget (minutes) while Jira is known to be away."""
    fake = FakeTime()
    for _ in range(4):
        responses.get(SERVER_INFO, json=ERROR, status=503)
    away = {"now": False}
    jira = client(fake)
    jira.give_up_when(lambda: away["now"])
    responses.get(SERVER_INFO, json=ok_server_info())
    jira.server_time()
    assert len(responses.calls) == 5  # not away: retried to the answer
    responses.calls.reset()
    for _ in range(4):
        responses.get(SERVER_INFO, json=ERROR, status=503)
    away["now"] = True
    with pytest.raises(JiraUnavailable):
        jira.server_time()
    assert len(responses.calls) == 1
