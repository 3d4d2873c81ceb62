"""`POST /webhooks/jira`: verify, de-duplicate, store, answer 202 — nothing else on the request path.

The work (reading the ticket from Jira, applying rules) happens in the worker, so the receiver
answers in milliseconds and keeps accepting while Jira itself is unreachable.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from jsm_autopilot.errors import DeliveryRejected, StoreUnavailable
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.webhooks.delivery import IDENTIFIER_HEADER, Delivery, delivery_from_http, delivery_headers, loggable
from jsm_autopilot.webhooks.intake_first import IntakeFirst

log = logging.getLogger("jsm_autopilot.webhooks")
WEBHOOK_PATH = "/webhooks/jira"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LogThrottle:
    """At most `limit` lines a minute for what anyone on the internet can trigger (refused
    deliveries); the rest is counted and said in one line when the next minute begins."""

    def __init__(self, clock: Callable[[], datetime], limit: int = 10, window: timedelta = timedelta(minutes=1)):
        self.clock, self.limit, self.window = clock, limit, window
        self.started: datetime | None = None
        self.logged = self.suppressed = 0

    def allow(self) -> bool:
        now = self.clock()
        if self.started is None or now - self.started >= self.window:
            if self.suppressed:
                log.warning("%d more refused deliveries were not logged in the last minute", self.suppressed)
            self.started, self.logged, self.suppressed = now, 0, 0
        if self.logged < self.limit:
            self.logged += 1
            return True
        self.suppressed += 1
        return False


class Intake:
    """One delivery from its headers and raw body to the answer (status, JSON bytes): verify,
    de-duplicate, store. Apart from the web framework, so that the fast lane and the Flask route
    answer alike."""

    def __init__(self, store: EventStore, project_key: str, secret: bytes | None, clock: Callable[[], datetime],
                 settle: timedelta, count: Callable[[str], None], intake_first: IntakeFirst):
        self.store, self.project_key, self.secret, self.clock = store, project_key, secret, clock
        self.settle, self.count, self.intake_first = settle, count, intake_first
        self.refusals = LogThrottle(clock)

    def answer(self, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        return self.answers([(headers, body)])[0]

    def answers(self, deliveries: list[tuple[Mapping[str, str], bytes]]) -> list[tuple[int, bytes]]:
        """Each delivery's answer; those that pass the checks are stored in one commit."""
        with self.intake_first.answering():
            answered: list = [self._checked(headers, body) for headers, body in deliveries]
            passed = [(at, delivery) for at, delivery in enumerate(answered) if isinstance(delivery, Delivery)]
            if passed:
                for (at, _), stored in zip(passed, self._stored([delivery for _, delivery in passed])):
                    answered[at] = stored
            return answered

    def _checked(self, headers: Mapping[str, str], body: bytes) -> Delivery | tuple[int, bytes]:
        try:
            return delivery_from_http(headers, body, self.secret, self.project_key)
        except DeliveryRejected as rejected:
            self.count("refused")
            if self.refusals.allow():
                log.warning("webhook refused: %s", rejected.reason, extra={"event_identifier": loggable(headers.get(IDENTIFIER_HEADER))})
            return rejected.status, _error(rejected.reason)

    def _stored(self, deliveries: list[Delivery]) -> list[tuple[int, bytes]]:
        try:
            stored = self.store.add_many([(delivery.identifier, delivery.event, delivery.issue, delivery.body, delivery.handled,
                                           delivery.retry) for delivery in deliveries], self.clock(), self.settle)
        except StoreUnavailable as unavailable:
            # Not acknowledged, so Jira delivers them again later: nothing is lost.
            log.error("%d webhook deliveries not stored: %s", len(deliveries), unavailable,
                      extra={"event_identifier": deliveries[0].identifier})
            for _ in deliveries:
                self.count("unavailable")
            return [(503, _error("store unavailable, retry later"))] * len(deliveries)
        answers = []
        for delivery, new in zip(deliveries, stored):
            status = "accepted" if new else "duplicate"
            if not delivery.handled:
                status = "ignored" if new else status
            self.count(status)
            # The store is the record of what was received (`jsm-autopilot events`), and the metrics
            # count it: a line per delivery at INFO cost a tenth of intake during a burst.
            log.debug("webhook %s: %s", delivery.event, status, extra={"event_identifier": delivery.identifier, "issue": delivery.issue})
            answers.append((202, json.dumps({"status": status, "identifier": delivery.identifier}).encode()))
        return answers


class FastLane:
    """WSGI middleware (Flask's `app.wsgi_app`) that answers `POST /webhooks/jira` with a
    Content-Length within the limit, which is every delivery Jira sends, without Flask's
    per-request machinery: request and application contexts, URL matching, signals, the response
    object. Profiling `bench.intake` showed that machinery costing as much CPU as the delivery's
    own checks and its share of the commit; the same server answered a plain WSGI callable with
    half of Flask's CPU a request. Anything else (no length, a chunked body, too large, another
    path or method) goes on to Flask, whose route and 413 answer it through the same `Intake`.
    Under `serve`'s own server most deliveries do not come here at all: its intake thread answers
    them in batches (service/http_server.py); this lane answers them under any other WSGI server."""

    def __init__(self, wsgi_app, intake: Intake, max_body_bytes: int, path: str = WEBHOOK_PATH):
        self.wsgi_app, self.intake, self.max_body_bytes, self.path = wsgi_app, intake, max_body_bytes, path

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        length = _content_length(environ)
        if length is None or length > self.max_body_bytes:
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        if len(body) != length:  # the client went away mid-body: what arrived is not the delivery
            status, answer = 400, _error("body shorter than its Content-Length")
        else:
            try:
                status, answer = self.intake.answer(delivery_headers(environ), body)
            except Exception:  # noqa: BLE001  (as Flask would: log it, answer 500, keep serving)
                log.exception("webhook delivery failed")
                status, answer = INTERNAL_ERROR
        start_response(f"{status} {HTTP_STATUS_CODES[status]}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer]


def _content_length(environ) -> int | None:
    length = environ.get("CONTENT_LENGTH")
    return int(length) if length and length.isascii() and length.isdigit() else None


def _error(reason: str) -> bytes:
    return json.dumps({"error": reason}).encode()


# What a delivery gets when answering it failed on a bug, in either lane.
INTERNAL_ERROR = (500, _error("internal error"))


def create_receiver(store: EventStore, project_key: str, secret: bytes | None, max_body_bytes: int,
                    clock: Callable[[], datetime] = utc_now, app: Flask | None = None,
                    settle: timedelta = timedelta(0), count: Callable[[str], None] = lambda outcome: None,
                    intake_first: IntakeFirst | None = None) -> Flask:
    """The receiver's routes on `app` (a new Flask app by default); `count` hears each answer;
    `intake_first` is told while a delivery is being answered, so that workers hold back."""
    # No static folder: Flask's default would serve files from the working directory's static/.
    app = app or Flask("jsm-autopilot", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    intake = Intake(store, project_key, secret, clock, settle, count, intake_first or IntakeFirst())
    app.wsgi_app = FastLane(app.wsgi_app, intake, max_body_bytes)

    @app.post(WEBHOOK_PATH)
    def receive_jira_webhook():
        """Jira's webhook deliveries: signature checked, stored once, 202 within milliseconds."""
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            count("refused")
            return _too_large(max_body_bytes)
        status, answer = intake.answer(request.headers, body)
        return Response(answer, status, mimetype="application/json")

    @app.errorhandler(RequestEntityTooLarge)
    def _body_too_large(_error):
        count("refused")
        return _too_large(max_body_bytes)

    @app.get("/healthz")
    def health():
        """Liveness: the process answers. Whether it can work is /readyz (service/health.py):
        a restart fixes neither a full disk nor a revoked token."""
        return jsonify({"status": "ok"}), 200

    return app


def _too_large(limit: int):
    return jsonify({"error": f"body larger than {limit} bytes"}), 413
