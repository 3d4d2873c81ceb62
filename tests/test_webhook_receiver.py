"""POST /webhooks/jira through the real Flask app and the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.delivery import signature_for
from jsm_autopilot.webhooks.receiver import create_receiver
from tests.conftest import SHARED

SECRET = b"s3cret-shared-with-jira"
CAPTURES = sorted((SHARED / "fixtures" / "jira-webhooks").glob("*.json"))
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
LIMIT = 64 * 1024


@pytest.fixture
def client(store):
    # The captures are from project TES; KT-7 and IDT-19 belong to other projects.
    app = create_receiver(store, "TES", SECRET, LIMIT, clock=lambda: NOW)
    return app.test_client()


def _headers(body: bytes, identifier: str, signature: str | None, headers: dict) -> dict:
    sent = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": identifier, **headers}
    if signature == "sign":
        sent["X-Hub-Signature"] = signature_for(body, SECRET)
    elif signature is not None:
        sent["X-Hub-Signature"] = signature
    return sent


def deliver(client, body: bytes, identifier: str = "id-1", signature: str | None = "sign", **headers):
    return client.post("/webhooks/jira", data=body, headers=_headers(body, identifier, signature, headers))


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_every_capture_is_stored_once(client, store, capture):
    body = capture.read_bytes()
    first = deliver(client, body, identifier=f"delivery-{capture.stem}")
    assert first.status_code == 202
    again = deliver(client, body, identifier=f"delivery-{capture.stem}", **{"X-Atlassian-Webhook-Retry": "1"})
    assert again.status_code == 202 and again.json["status"] == "duplicate"
    stored = store.list_events()
    assert [e.identifier for e in stored] == [f"delivery-{capture.stem}"]
    assert stored[0].body == body
    payload = json.loads(body)
    expected = "pending" if payload["webhookEvent"] != "jira:issue_deleted" and payload["issue"]["key"].startswith("TES-") else "ignored"
    assert stored[0].status == expected


def _capture() -> bytes:
    return (SHARED / "fixtures" / "jira-webhooks" / "webhook-cloud-comment-created.json").read_bytes()


@pytest.mark.parametrize(
    "body, signature, status",
    [
        (_capture(), signature_for(_capture(), b"wrong secret"), 401),  # forged
        (_capture(), None, 401),  # unsigned
        (_capture()[:200], "sign", 400),  # truncated (signed as sent)
        (b"<xml>not json</xml>", "sign", 400),
        (b"[1, 2, 3]", "sign", 400),  # JSON, but not an object
        (b"{" + b" " * LIMIT + b"}", "sign", 413),  # oversized
        # Signed, yet unfit to keep or to build a URL from:
        (b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "TES-1/../TES-5"}}', "sign", 400),
        (b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "TES-' + b"9" * 300 + b'"}}', "sign", 400),
        (b'{"webhookEvent": "comment_\\u0000created", "issue": {"key": "TES-1"}}', "sign", 400),  # NUL
        (b'{"webhookEvent": "\\ud800", "issue": {"key": "TES-1"}}', "sign", 400),  # a lone surrogate
        (b"[" * 30_000 + b"]" * 30_000, "sign", 400),  # nested too deeply for any parser
    ],
    ids=["forged", "unsigned", "truncated", "not-json", "not-an-object", "oversized", "key-traversal", "key-too-long",
         "nul-in-event", "lone-surrogate", "deep-nesting"],
)
def test_bad_deliveries_are_refused_and_leave_nothing(client, store, body, signature, status):
    answer = deliver(client, body, signature=signature)
    assert answer.status_code == status
    assert isinstance(answer.json["error"], str) and answer.json["error"]
    assert store.list_events() == []


def test_an_event_type_no_rule_uses_is_acknowledged_and_recorded_as_ignored(client, store):
    body = json.dumps({"webhookEvent": "jira:version_released", "version": {"name": "14.21.3.1"}}).encode()
    answer = deliver(client, body)
    assert answer.status_code == 202 and answer.json["status"] == "ignored"
    assert store.list_events()[0].status == "ignored"


def test_signed_deliveries_that_are_no_issue_event_are_kept(client, store):
    """A workflow post-function's delivery (issue and transition, no webhookEvent) means "this
    ticket changed"; any other signed object is kept as ignored, for an admin to see in `events`."""
    post_function = json.dumps({"timestamp": 1, "issue": {"key": "TES-4", "fields": {"summary": "x"}},
                                "transition": {"transitionName": "Resolve"}}).encode()
    assert deliver(client, post_function, identifier="pf-1").json["status"] == "accepted"
    other = json.dumps({"hello": "world"}).encode()
    assert deliver(client, other, identifier="other-1").json["status"] == "ignored"
    surrogate_in_text = b'{"webhookEvent": "comment_created", "issue": {"key": "TES-1"}, "comment": {"body": "\\udc80"}}'
    assert deliver(client, surrogate_in_text, identifier="s-1").status_code == 202  # kept as the bytes Jira sent
    assert {(e.identifier, e.event, e.status) for e in store.list_events()} == {
        ("pf-1", "issue_without_event", "pending"), ("other-1", "unknown", "ignored"), ("s-1", "comment_created", "pending")}


def test_refused_deliveries_cannot_flood_the_log(store, caplog):
    """692 junk requests in 10 s once made 132 MiB of log: now ten short lines a minute, then one count."""
    clock = {"now": NOW}
    junk_client = create_receiver(store, "TES", SECRET, LIMIT, clock=lambda: clock["now"]).test_client()
    caplog.set_level("INFO", logger="jsm_autopilot.webhooks")
    for n in range(700):
        deliver(junk_client, b"{}", identifier="x" * 8000 + str(n), signature="sha256=00")
    lines = [r.getMessage() + str(getattr(r, "event_identifier", "")) for r in caplog.records]
    assert len(lines) == 10 and all(len(line) < 200 for line in lines)
    clock["now"] += timedelta(minutes=1)
    deliver(junk_client, b"{}", identifier="late", signature="sha256=00")
    assert "690 more refused deliveries were not logged" in caplog.records[10].getMessage()


def test_without_an_identifier_identical_bytes_are_one_delivery(client, store):
    body = _capture()
    for _ in range(2):
        client.post("/webhooks/jira", data=body, headers={"X-Hub-Signature": signature_for(body, SECRET)})
    assert len(store.list_events()) == 1


def test_unsigned_deliveries_only_when_explicitly_allowed(store):
    open_client = create_receiver(store, "TES", None, LIMIT, clock=lambda: NOW).test_client()
    assert deliver(open_client, _capture(), signature=None).status_code == 202


def test_health_is_liveness_only(client):
    """A store that is down does not make /healthz fail: restarting would not help (/readyz says it)."""
    assert client.get("/healthz").status_code == 200
    unreachable = EventStore("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    assert create_receiver(unreachable, "TES", SECRET, LIMIT).test_client().get("/healthz").status_code == 200


def test_a_delivery_the_store_cannot_keep_is_not_acknowledged():
    # Without a 2xx, Jira delivers it again later: nothing is lost.
    unreachable = EventStore("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    answer = deliver(create_receiver(unreachable, "TES", SECRET, LIMIT).test_client(), _capture())
    assert answer.status_code == 503


def test_the_signature_method_is_read_from_its_prefix(client, store, caplog):
    body = _capture()
    sha1 = "sha1=" + __import__("hmac").new(SECRET, body, "sha1").hexdigest()
    answer = deliver(client, body, signature=sha1)
    assert answer.status_code == 401 and "unsupported signature method 'sha1'" in answer.json["error"]
    assert any("sha1" in record.getMessage() for record in caplog.records if record.levelname == "WARNING")
    assert deliver(client, body, signature=signature_for(body, SECRET)[len("sha256="):]).status_code == 401  # no method
    upper = "SHA256=" + signature_for(body, SECRET)[len("sha256="):].upper()
    assert deliver(client, body, signature=upper).status_code == 202
    assert len(store.list_events()) == 1


def test_workers_hold_back_while_deliveries_arrive_and_not_longer(store):
    """Deliveries before work (issue 16): a worker waits until no delivery has arrived for the
    burst gap, and a wait of 0 seconds gives up at once while one has just arrived."""
    from jsm_autopilot.webhooks.intake_first import BURST_GAP, IntakeFirst

    now = [100.0]
    intake_first = IntakeFirst(clock=lambda: now[0])
    app = create_receiver(store, "TES", SECRET, LIMIT, clock=lambda: NOW, intake_first=intake_first)
    assert intake_first.wait_until_quiet(at_most=0) is True  # nothing arrived yet
    assert deliver(app.test_client(), CAPTURES[0].read_bytes()).status_code == 202
    assert intake_first.wait_until_quiet(at_most=0) is False
    now[0] += BURST_GAP / 2
    assert intake_first.wait_until_quiet(at_most=0) is False
    now[0] += BURST_GAP / 2
    assert intake_first.wait_until_quiet(at_most=0) is True


def test_a_delivery_being_answered_keeps_workers_back_however_long_it_takes():
    from jsm_autopilot.webhooks.intake_first import IntakeFirst

    now = [0.0]
    intake_first = IntakeFirst(clock=lambda: now[0])
    with intake_first.answering():
        now[0] += 60
        assert intake_first.wait_until_quiet(at_most=0) is False
    now[0] += 1
    assert intake_first.wait_until_quiet(at_most=0) is True


def _without_length(client, body: bytes, identifier: str, signature: str | None = "sign", **headers):
    """As a WSGI server hands on a chunked request: no CONTENT_LENGTH, the stream ends with the body."""
    import io

    return client.post("/webhooks/jira", input_stream=io.BytesIO(body), headers=_headers(body, identifier, signature, headers),
                       environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})


def test_deliveries_with_and_without_a_length_get_the_same_answers(client, store):
    """The fast lane (a Content-Length within the limit) and Flask's route (anything else) answer
    alike, from status and body to content type: forged, not JSON, ignored, accepted, duplicate."""
    version = json.dumps({"webhookEvent": "jira:version_released"}).encode()
    cases = [(_capture(), "sha256=00", "a"), (b"not json", "sign", "b"), (version, "sign", "c"), (_capture(), "sign", "d"),
             (_capture(), "sign", "d")]
    answers = {}
    for lane, send in (("fast", deliver), ("flask", _without_length)):
        seen = []
        for body, signature, name in cases:
            answer = send(client, body, identifier=f"{lane}-{name}", signature=signature)
            payload = dict(answer.json, identifier=None) if "identifier" in answer.json else answer.json
            seen.append((answer.status_code, answer.mimetype, payload))
        answers[lane] = seen
    assert answers["fast"] == answers["flask"]
    assert [status for status, _, _ in answers["fast"]] == [401, 400, 202, 202, 202]
    assert [payload.get("status") for _, _, payload in answers["fast"][2:]] == ["ignored", "accepted", "duplicate"]
    assert len(store.list_events()) == 4


def test_a_delivery_with_its_length_skips_flasks_request_machinery(client):
    """Why the lane exists: Flask's per-request work cost as much as the delivery's own (FastLane's
    docstring). A hook on the app therefore sees the fallback route and /healthz, not the lane."""
    hooked = []
    client.application.before_request(lambda: hooked.append(1) and None)
    assert deliver(client, _capture()).status_code == 202
    assert hooked == []
    assert _without_length(client, _capture(), identifier="id-2").status_code == 202
    assert hooked == [1]
    assert client.get("/healthz").status_code == 200
    assert client.open("/webhooks/jira", method="PUT", data=_capture()).status_code == 405  # the lane is for POST alone
    assert client.post("/healthz", data=_capture()).status_code == 405  # and for its own path
    assert hooked == [1, 1, 1, 1]


def test_the_lane_refuses_a_body_shorter_than_its_length_and_survives_a_failing_store(store, caplog):
    """waitress hands on only complete bodies, but another server may not; and an unexpected
    error becomes a 500 with a log line, as Flask would answer it, not a dead request thread."""
    import io

    from jsm_autopilot.webhooks.receiver import FastLane, Intake, IntakeFirst

    body = _capture()
    answers = []

    def call(lane: FastLane, length: int) -> bytes:
        environ = {"PATH_INFO": "/webhooks/jira", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(length),
                   "wsgi.input": io.BytesIO(body), "HTTP_X_HUB_SIGNATURE": signature_for(body, SECRET)}
        return b"".join(lane(environ, lambda status, headers: answers.append((status, dict(headers)))))

    def never(*_):
        raise AssertionError("the fallback was not expected here")

    intake = Intake(store, "TES", SECRET, lambda: NOW, timedelta(0), lambda outcome: None, IntakeFirst())
    assert json.loads(call(FastLane(never, intake, LIMIT), len(body) + 10)) == {"error": "body shorter than its Content-Length"}
    assert answers[-1][0] == "400 Bad Request" and store.list_events() == []

    class Broken:
        def add_many(self, *args):
            raise RuntimeError("a bug")

    failing = Intake(Broken(), "TES", SECRET, lambda: NOW, timedelta(0), lambda outcome: None, IntakeFirst())
    answer = call(FastLane(never, failing, LIMIT), len(body))
    assert json.loads(answer) == {"error": "internal error"}
    assert answers[-1] == ("500 Internal Server Error", {"Content-Type": "application/json", "Content-Length": str(len(answer))})
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)
    assert json.loads(call(FastLane(never, intake, LIMIT), len(body)))["status"] == "accepted"


def test_jiras_retry_count_is_kept_with_the_delivery_in_either_lane(client, store):
    """X-Atlassian-Webhook-Retry says how often Jira tried before: kept for whoever looks at a
    delivery that arrived late. The lane reads its headers from the environ by their WSGI names."""
    from sqlalchemy import select

    from jsm_autopilot.store.schema import events

    deliver(client, _capture(), identifier="fast", **{"X-Atlassian-Webhook-Retry": "3"})
    _without_length(client, _capture(), identifier="flask", **{"X-Atlassian-Webhook-Retry": "2"})
    deliver(client, _capture(), identifier="first")
    with store.engine.connect() as connection:
        kept = dict(connection.execute(select(events.c.identifier, events.c.delivery_retry)).all())
    assert kept == {"fast": 3, "flask": 2, "first": 0}


def test_a_data_center_comment_event_names_its_issue_by_the_id_in_the_comments_address():
    """Recorded Server shape (mattermost-plugin-jira testdata webhook-server-comment-created.json):
    no `issue`, the comment's `self` ends /rest/api/2/issue/<id>/comment/<id>."""
    from jsm_autopilot.webhooks.delivery import delivery_from_http

    def delivered(address):
        body = json.dumps({"timestamp": 1559607317234, "webhookEvent": "comment_created",
                           "comment": {"self": address, "id": "10082", "body": "unik"}}).encode()
        return delivery_from_http({"X-Atlassian-Webhook-Identifier": "d-1"}, body, None, "SD")

    found = delivered("http://jira.example:8080/rest/api/2/issue/10013/comment/10082")
    assert (found.issue, found.handled) == ("10013", True)
    for odd in ("http://jira.example/rest/api/2/issue/10013/../comment/1", "http://jira.example/rest/api/2/issue/SD-1/comment/1",
                "http://jira.example/rest/api/2/issue/0/comment/1", None):
        assert (delivered(odd).issue, delivered(odd).handled) == (None, False), odd


# --- known vectors and edges of webhooks/delivery.py (issue 30: signatures from vectors computed
# independently of the code under test; boundaries the mutation run found unpinned) ----------------

# GitHub's documented test values for an X-Hub-Signature-256 HMAC ("Validating webhook deliveries"):
# secret "It's a Secret to Everybody", payload "Hello, World!".
GITHUB_VECTOR = (b"It's a Secret to Everybody", b"Hello, World!",
                 "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
# A real captured Jira Cloud delivery, signed with `openssl dgst -sha256 -hmac "It's a Secret to Everybody"`.
CAPTURED = SHARED / "fixtures" / "jira-webhooks" / "webhook-cloud-comment-created.json"
CAPTURED_SIGNATURE = "sha256=43dd713b41c392ca9b08da5c266e57a660dcd4a9f736c8ca6926b564a8b5d6b1"


def test_signatures_match_vectors_computed_elsewhere():
    from jsm_autopilot.errors import DeliveryRejected
    from jsm_autopilot.webhooks.delivery import verify_signature

    secret, body, signature = GITHUB_VECTOR
    verify_signature({"X-Hub-Signature": signature}, body, secret)
    verify_signature({"x-hub-signature": signature.upper().replace("SHA256=", "sha256=")}, body, secret)  # any spelling, hex case
    verify_signature({"X-Hub-Signature": CAPTURED_SIGNATURE}, CAPTURED.read_bytes(), secret)
    for tampered in (body + b" ", body[:-1]):
        with pytest.raises(DeliveryRejected) as refused:
            verify_signature({"X-Hub-Signature": signature}, tampered, secret)
        assert refused.value.status == 401
    with pytest.raises(DeliveryRejected):
        verify_signature({"X-Hub-Signature": signature}, body, b"another secret")
    with pytest.raises(DeliveryRejected, match="missing X-Hub-Signature"):
        verify_signature({"X-Other": signature}, body, secret)


def _delivery(headers: dict):
    from jsm_autopilot.webhooks.delivery import delivery_from_http

    secret, _, _ = GITHUB_VECTOR
    body = CAPTURED.read_bytes()
    return delivery_from_http({"X-Hub-Signature": signature_for(body, secret), **headers}, body, secret, "SD")


def test_an_identifier_of_200_characters_is_kept_and_201_is_refused_with_400():
    from jsm_autopilot.errors import DeliveryRejected

    assert _delivery({"X-Atlassian-Webhook-Identifier": "i" * 200}).identifier == "i" * 200
    with pytest.raises(DeliveryRejected) as refused:
        _delivery({"X-Atlassian-Webhook-Identifier": "i" * 201})
    assert refused.value.status == 400


def test_the_retry_count_is_zero_without_a_header_and_kept_within_0_to_1000():
    assert _delivery({}).retry == 0
    assert _delivery({"X-Atlassian-Webhook-Retry": "not a number"}).retry == 0
    assert _delivery({"X-Atlassian-Webhook-Retry": "3"}).retry == 3
    assert _delivery({"X-Atlassian-Webhook-Retry": "1000"}).retry == 1000
    assert _delivery({"X-Atlassian-Webhook-Retry": "5000"}).retry == 1000
    assert _delivery({"X-Atlassian-Webhook-Retry": "-4"}).retry == 0
    assert _delivery({"x-atlassian-webhook-retry": "2"}).retry == 2  # a plain mapping, any spelling


def test_a_header_value_in_a_log_line_is_printable_and_cut_at_80():
    from jsm_autopilot.webhooks.delivery import loggable

    assert loggable(None) == "-"
    assert loggable("a" * 80) == "a" * 80
    assert loggable("a" * 81) == "a" * 80 + "…"
    assert loggable("x\ny") == "x?y"
