"""`POST /webhooks/jira`: verify, de-duplicate, store, answer 202 — nothing else on the request path.

The work (reading the ticket from Jira, applying rules) happens in the worker, so the receiver
answers in milliseconds and keeps accepting while Jira itself is unreachable.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from webhooks.delivery import IDENTIFIER_HEADER, DeliveryRejected, delivery_from_http, loggable
from webhooks.intake_first import IntakeFirst
from webhooks.store import EventStore, StoreUnavailable

log = logging.getLogger("jsm_autopilot.webhooks")


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


def create_receiver(store: EventStore, project_key: str, secret: bytes | None, max_body_bytes: int,
                    clock: Callable[[], datetime] = utc_now, app: Flask | None = None,
                    settle: timedelta = timedelta(0), count: Callable[[str], None] = lambda outcome: None,
                    intake_first: IntakeFirst | None = None) -> Flask:
    """The receiver's routes on `app` (a new Flask app by default); `count` hears each answer;
    `intake_first` is told while a delivery is being answered, so that workers hold back."""
    app = app or Flask("jsm-autopilot")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    refusals = LogThrottle(clock)

    intake_first = intake_first or IntakeFirst()

    @app.post("/webhooks/jira")
    def receive_jira_webhook():
        with intake_first.answering():
            return _receive()

    def _receive():
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            count("refused")
            return _too_large(max_body_bytes)
        try:
            delivery = delivery_from_http(request.headers, body, secret, project_key)
        except DeliveryRejected as rejected:
            count("refused")
            if refusals.allow():
                log.warning("webhook refused: %s", rejected.reason, extra={"event_identifier": loggable(request.headers.get(IDENTIFIER_HEADER))})
            return jsonify({"error": rejected.reason}), rejected.status
        try:
            stored = store.add(delivery.identifier, delivery.event, delivery.issue, delivery.body, delivery.handled,
                               clock(), delivery.retry, settle)
        except StoreUnavailable as unavailable:
            # Not acknowledged, so Jira delivers it again later: nothing is lost.
            log.error("webhook not stored: %s", unavailable, extra={"event_identifier": delivery.identifier})
            count("unavailable")
            return jsonify({"error": "store unavailable, retry later"}), 503
        status = "accepted" if stored else "duplicate"
        if not delivery.handled:
            status = "ignored" if stored else status
        count(status)
        # The store is the record of what was received (`jsm-autopilot events`), and the metrics
        # count it: a line per delivery at INFO cost a tenth of intake during a burst.
        log.debug("webhook %s: %s", delivery.event, status, extra={"event_identifier": delivery.identifier, "issue": delivery.issue})
        # Not jsonify: Flask's provider (sorted keys, its own response class lookup) took twice as long.
        return Response(json.dumps({"status": status, "identifier": delivery.identifier}), 202, mimetype="application/json")

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
