"""Issue 29, item 3: admins are told, once when an incident starts and once when it ends, through a
real SMTP server and a real webhook receiver that the tests start. Time is injected."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from jsm_autopilot.config.notify import Notify, NotifyEmail, NotifyWebhook, notify_gaps
from jsm_autopilot.errors import NotifyFailed
from jsm_autopilot.service.notify import JIRA_UNREACHABLE, EmailChannel, Message, Notifier, WebhookChannel, chat_document
from jsm_autopilot.store.event_store import EventStore
from tests.test_serve_process import free_port

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
ZONE = ZoneInfo("Europe/Berlin")
JIRA = "https://example.atlassian.net"


@dataclass
class SeenHealth:
    """What the health check found (service/health.py's Health has these fields)."""
    checked: bool = True
    unreachable: str | None = None
    not_jira: str | None = None
    credentials_refused: str | None = None


@dataclass
class Outbox:
    """A channel that keeps what it was given; `refuse` makes the next sends fail."""
    name: str = "outbox"
    sent: list[Message] = field(default_factory=list)
    refuse: int = 0

    def send(self, message: Message) -> None:
        if self.refuse:
            self.refuse -= 1
            raise NotifyFailed("refused")
        self.sent.append(message)

    @property
    def subjects(self) -> list[str]:
        return [m.subject for m in self.sent]


@pytest.fixture
def store(tmp_path):
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    yield store
    store.dispose()


def notifier(store, outbox=None, **settings) -> Notifier:
    return Notifier(store, Notify(**settings), [outbox] if outbox is not None else [], JIRA, ZONE)


def test_jira_away_is_told_once_after_notify_after_and_its_end_once(store):
    outbox, health = Outbox(), SeenHealth(unreachable="connection refused")
    told = notifier(store, outbox)  # notify.after: 5 minutes
    for minutes in (0, 1, 4):
        told.check(T0 + timedelta(minutes=minutes), health, writable=True)
    assert outbox.sent == []  # a short outage is no incident yet
    told.check(T0 + timedelta(minutes=5), health, writable=True)
    told.check(T0 + timedelta(minutes=6), health, writable=True)
    [start] = outbox.sent
    assert start.subject == f"jsm-autopilot: Jira at {JIRA} is unreachable"
    assert "connection refused" in start.what and "JIRA_URL" in start.what
    assert start.since == "2026-12-07 10:00 CET (5 min)"
    assert "webhooks are still received and kept" in start.meanwhile and start.more.startswith("jsm-autopilot doctor")
    health.unreachable = None
    told.check(T0 + timedelta(minutes=22), health, writable=True)
    told.check(T0 + timedelta(minutes=23), health, writable=True)
    assert outbox.subjects == [start.subject, f"jsm-autopilot: Jira at {JIRA} answers again"]
    assert outbox.sent[1].since == "2026-12-07 10:00 CET to 2026-12-07 10:22 CET (22 min)"


def test_an_outage_shorter_than_notify_after_tells_nobody_at_all(store):
    outbox, health = Outbox(), SeenHealth(not_jira="answer 404")
    told = notifier(store, outbox)
    told.check(T0, health, writable=True)
    told.check(T0 + timedelta(minutes=4, seconds=59), health, writable=True)
    health.not_jira = None
    told.check(T0 + timedelta(minutes=5, seconds=30), health, writable=True)
    assert outbox.sent == []


def test_before_the_first_check_of_jira_nothing_is_opened_or_ended(store):
    outbox = Outbox()
    told = notifier(store, outbox, after="1s")
    told.check(T0, SeenHealth(unreachable="unknown host jira.invalid"), writable=True)
    told.check(T0 + timedelta(seconds=1), SeenHealth(unreachable="unknown host jira.invalid"), writable=True)
    told.check(T0 + timedelta(minutes=1), SeenHealth(checked=False), writable=True)
    assert outbox.subjects == [f"jsm-autopilot: Jira at {JIRA} is unreachable"]  # not ended by "not checked yet"


def test_two_replicas_send_one_message_between_them(store, tmp_path):
    second_store = EventStore(store.url)
    try:
        first, second = Outbox(), Outbox()
        replicas = [notifier(store, first), notifier(second_store, second)]
        health = SeenHealth(credentials_refused="401 on GET rest/api/3/myself")
        for minutes in range(0, 12):
            for replica in replicas:
                replica.check(T0 + timedelta(minutes=minutes), health, writable=True)
        health.credentials_refused = None
        for minutes in range(12, 15):
            for replica in replicas:
                replica.check(T0 + timedelta(minutes=minutes), health, writable=True)
        subjects = first.subjects + second.subjects
        assert sorted(subjects) == ["jsm-autopilot: Jira accepts the credentials again",
                                    "jsm-autopilot: Jira refuses the automation account's credentials"]
        assert "JIRA_USER/JIRA_API_TOKEN" in next(m for m in first.sent + second.sent if "refuses" in m.subject).what
    finally:
        second_store.dispose()


def test_failed_firings_are_one_incident_that_ends_after_quiet_after(store):
    outbox, health = Outbox(), SeenHealth()
    told = notifier(store, outbox)  # quiet_after: 1 hour
    told.firing_failed("SD-1", "timers.clarification", "POST rest/api/3/issue/SD-1/transitions -> 400: Resolution is required", T0)
    told.check(T0 + timedelta(seconds=10), health, writable=True)
    told.firing_failed("SD-2", "timers.clarification", "400", T0 + timedelta(minutes=30))
    told.check(T0 + timedelta(minutes=31), health, writable=True)
    told.check(T0 + timedelta(minutes=89), health, writable=True)  # 59 min after the last failure: still on
    assert outbox.subjects == ["jsm-autopilot: a rule failed for good"]
    assert "timers.clarification on SD-1" in outbox.sent[0].what and outbox.sent[0].more == "jsm-autopilot audit --outcome failed"
    told.check(T0 + timedelta(minutes=90), health, writable=True)
    assert outbox.subjects[1:] == ["jsm-autopilot: no rule has failed for a while"]
    assert "2 failed during this incident" in outbox.sent[1].what
    told.firing_failed("SD-3", "timers.resolved", "403", T0 + timedelta(minutes=95))
    told.check(T0 + timedelta(minutes=96), health, writable=True)
    assert outbox.subjects[2:] == ["jsm-autopilot: a rule failed for good"]  # a new incident, a new message
    assert "timers.resolved on SD-3" in outbox.sent[2].what


def test_dead_letters_are_told_once_and_their_end_once_replayed(store):
    outbox, health = Outbox(), SeenHealth()
    told = notifier(store, outbox)
    for n in range(2):
        store.add(f"event-{n}", "comment_created", f"SD-{n}", b"{}", True, T0)
        claimed = store.claim("worker", T0, timedelta(minutes=1))
        store.fail(claimed, T0, "POST ... -> 400: Field 'resolution' is required")
    told.check(T0 + timedelta(seconds=10), health, writable=True)
    told.check(T0 + timedelta(seconds=20), health, writable=True)
    [start] = outbox.sent
    assert start.what.startswith("2 webhook event(s) failed for good (dead letters); the latest: event event-1 for SD-1:")
    assert start.more.startswith("jsm-autopilot events --failed")
    store.replay(T0 + timedelta(minutes=1), failed=True)
    told.check(T0 + timedelta(minutes=1, seconds=10), health, writable=True)
    assert outbox.subjects[1:] == ["jsm-autopilot: no webhook event is failed any more"]


def test_the_oncall_channel_failing_is_told_as_its_own_and_ends_when_it_takes_an_alert(store):
    outbox, health = Outbox(), SeenHealth()
    told = notifier(store, outbox)
    told.oncall("on-call channel https://oncall.example/hook: answered 503: busy", T0)
    told.check(T0 + timedelta(seconds=10), health, writable=True)
    told.oncall("on-call channel https://oncall.example/hook: answered 503: busy", T0 + timedelta(minutes=1))
    told.check(T0 + timedelta(minutes=1, seconds=10), health, writable=True)
    assert outbox.subjects == ["jsm-autopilot: the on-call channel fails"]
    assert "Jira" not in outbox.sent[0].what and "nobody is paged" in outbox.sent[0].meanwhile
    told.oncall(None, T0 + timedelta(minutes=2))
    assert outbox.subjects[1:] == ["jsm-autopilot: the on-call channel takes alerts again"]


def test_an_unwritable_store_is_told_by_the_replica_once_and_its_end_once(store):
    outbox, health = Outbox(), SeenHealth(unreachable="connection refused")
    told = notifier(store, outbox, after="1s")
    told.check(T0, health, writable=False)
    told.check(T0 + timedelta(seconds=10), health, writable=False)
    assert outbox.subjects == ["jsm-autopilot: the store cannot be written"]
    assert store.location in outbox.sent[0].what and "JSM_AUTOPILOT_DB" in outbox.sent[0].what
    told.check(T0 + timedelta(minutes=3), SeenHealth(), writable=True)
    assert outbox.subjects[1:] == ["jsm-autopilot: the store can be written again"]


def test_a_message_no_channel_took_is_sent_again_at_the_next_check(store, caplog):
    outbox, health = Outbox(refuse=2), SeenHealth()
    told = notifier(store, outbox)
    told.firing_failed("SD-1", "sla.reaction", "400", T0)
    told.check(T0 + timedelta(seconds=10), health, writable=True)
    told.check(T0 + timedelta(seconds=20), health, writable=True)
    assert outbox.sent == []
    assert len([r for r in caplog.records if "admins could not be told" in r.getMessage()]) == 1  # said once, not per check
    told.check(T0 + timedelta(seconds=30), health, writable=True)
    told.check(T0 + timedelta(seconds=40), health, writable=True)
    assert outbox.subjects == ["jsm-autopilot: a rule failed for good"]


def test_without_a_channel_incidents_are_kept_but_nothing_is_sent(store):
    told = notifier(store)
    told.check(T0, SeenHealth(unreachable="connection refused"), writable=True)
    assert told.incidents.get(JIRA_UNREACHABLE).announced is None


# --- the real channels ---------------------------------------------------------------------------

class Mailbox:
    def __init__(self):
        self.messages: list[tuple[str, list[str], str]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        self.arrived.set()
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"autopilot", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False)
    controller.start()
    yield controller, mailbox
    controller.stop()


def test_email_goes_through_a_real_smtp_server_with_the_password_from_the_environment(smtp_server):
    controller, mailbox = smtp_server
    settings = NotifyEmail(host="127.0.0.1", port=controller.port, starttls=False,
                           sender="autopilot@example.com", recipients=["admin@example.com", "ops@example.com"], user="autopilot")
    message = Message("jsm-autopilot: a rule failed for good", "A firing failed after its retries: x.", "2026-12-07 10:00 CET (0 min)",
                      "other tickets go on.", "jsm-autopilot audit --outcome failed")
    EmailChannel(settings, "s3cret").send(message)
    [(sender, recipients, content)] = mailbox.messages
    assert sender == "autopilot@example.com" and recipients == ["admin@example.com", "ops@example.com"]
    assert "Subject: jsm-autopilot: a rule failed for good" in content and "Auto-Submitted: auto-generated" in content
    assert "Meanwhile: other tickets go on.\nMore: jsm-autopilot audit --outcome failed" in content.replace("\r\n", "\n")
    nobody = settings.model_copy(update={"port": free_port()})
    with pytest.raises(NotifyFailed, match=f"SMTP 127.0.0.1:{nobody.port}: .*Connection refused"):
        EmailChannel(nobody, "s3cret").send(message)  # said as the SMTP server's failure, not raised raw


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    answer = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).answer)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_receiver():
    class Fresh(Receiver):
        received: list[dict] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fresh)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", Fresh
    server.shutdown()


MESSAGE = Message("jsm-autopilot: Jira at https://x is unreachable", "Jira at JIRA_URL (https://x) cannot be reached: connection refused.",
                  "2026-12-07 10:00 CET (5 min)", "webhooks are kept.", "jsm-autopilot doctor")


def test_slack_gets_text_and_teams_an_adaptive_card_through_a_real_receiver(chat_receiver):
    url, handler = chat_receiver
    WebhookChannel(url, NotifyWebhook(format="slack")).send(MESSAGE)
    WebhookChannel(url, NotifyWebhook(format="teams")).send(MESSAGE)
    slack, teams = handler.received
    assert slack == {"text": f"*{MESSAGE.subject}*\n{MESSAGE.text}"}
    [attachment] = teams["attachments"]
    assert teams["type"] == "message" and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == MESSAGE.subject
    assert {"title": "More", "value": "jsm-autopilot doctor"} in card["body"][2]["facts"]
    handler.answer = 400
    with pytest.raises(NotifyFailed, match="answered 400") as refused:
        WebhookChannel(url, NotifyWebhook()).send(MESSAGE)
    assert url not in str(refused.value)  # the URL is a credential
    handler.answer = 200


def test_chat_document_of_each_format_carries_every_part_of_the_message():
    for format in ("slack", "teams"):
        said = json.dumps(chat_document(MESSAGE, format))
        for part in (MESSAGE.subject, MESSAGE.what, MESSAGE.since, MESSAGE.meanwhile, MESSAGE.more):
            assert json.dumps(part)[1:-1] in said


def test_gaps_between_notify_and_the_environment_are_named():
    notify = Notify(webhook=NotifyWebhook(), email=NotifyEmail(host="smtp.example.com", sender="a@example.com",
                                                                recipients=["b@example.com"], user="a"))
    gaps = notify_gaps(notify, {})
    assert [gap.split(" ")[0] for gap in gaps] == ["notify.webhook", "notify.email.user"]
    assert "JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL" in gaps[0] and "JSM_AUTOPILOT_SMTP_PASSWORD" in gaps[1]
    assert notify_gaps(notify, {"JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL": "https://hooks.example/x", "JSM_AUTOPILOT_SMTP_PASSWORD": "p"}) == []



# --- through the real serve process --------------------------------------------------------------

def test_serve_tells_admins_by_mail_and_chat_once_when_jira_goes_away_and_once_when_it_is_back(site_factory, tmp_path, smtp_server,
                                                                                              chat_receiver):
    """Issue 29: the sandbox is stopped under a running serve and started again on the same port;
    the SMTP server and the chat receiver the test started each get one start and one end message."""
    import requests
    import yaml
    from werkzeug.serving import make_server

    from tests.test_serve_process import ServeProcess, site_with_due_reminders, wait_for

    controller, mailbox = smtp_server
    url, chat = chat_receiver
    site, _ = site_with_due_reminders(site_factory, 1)
    serve = ServeProcess(site, tmp_path)
    config = tmp_path / "app.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["notify"] = {"after": "1s", "webhook": {"format": "slack"},
                      "email": {"host": "127.0.0.1", "port": controller.port, "starttls": False, "sender": "autopilot@example.com",
                                "recipients": ["admin@example.com"], "user": "autopilot"}}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    serve.environment.update({"JSM_AUTOPILOT_SMTP_PASSWORD": "s3cret", "JSM_AUTOPILOT_NOTIFY_WEBHOOK_URL": url})

    def mailed() -> list[str]:
        return [next(line[9:] for line in content.splitlines() if line.startswith("Subject: ")) for _, _, content in mailbox.messages]

    def chatted() -> list[str]:
        return [message["text"].split("\n")[0].strip("*") for message in chat.received]

    def subjects() -> list[str]:
        """What both channels got, once both have it (the mail goes out a moment before the chat)."""
        told = mailed()
        return told if chatted() == told else told[:-1]

    serve.start()
    try:
        wait_for(lambda: requests.get(f"{serve.url}/readyz", timeout=1).status_code == 200, 15, "serve to be ready")
        port, app = site.running.server.server_port, site.running.server.app
        site.running.server.shutdown()
        site.running.server.server_close()
        wait_for(lambda: subjects(), 40, "admins to be told that Jira is away")
        wait_for(lambda: serve.log.read_text().count("admins told by") >= 2, 5, "both channels to be logged")
        assert mailed() == chatted() == [f"jsm-autopilot: Jira at {site.url} is unreachable"]
        assert "connection refused" in chat.received[0]["text"] and "JIRA_URL" in chat.received[0]["text"]
        again = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=again.serve_forever, daemon=True).start()
        try:
            wait_for(lambda: len(subjects()) >= 2, 40, "admins to be told that Jira answers again")
            wait_for(lambda: requests.get(f"{serve.url}/readyz", timeout=1).status_code == 200, 15, "serve to be ready again")
            expected = [f"jsm-autopilot: Jira at {site.url} is unreachable", f"jsm-autopilot: Jira at {site.url} answers again"]
            assert mailed() == chatted() == expected, "one message per start and end, the same on both channels"
            metrics = requests.get(f"{serve.url}/metrics", timeout=5).text
            assert "jsm_autopilot_ready 1.0" in metrics and "jsm_autopilot_dead_letters_total 0.0" in metrics
        finally:
            again.shutdown()
    finally:
        serve.process.terminate()
        serve.process.wait(timeout=10)
    assert "s3cret" not in serve.log.read_text() and url not in serve.log.read_text()
