"""`POST /api/deliveries`: release managers' scripts create or update a Delivery ticket.

Authenticated by a bearer token from JSM_AUTOPILOT_API_TOKEN; without one the endpoint is off
(503 saying so). Answers 201 with the key when it created the ticket, 200 when it updated the one
that exists, 400 naming the field at fault, 401 without the right token, 502 when Jira failed, 503
with Retry-After when an earlier creation's outcome is not known yet.
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Callable

from flask import Flask, jsonify, request

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.deliveries import DeliveryRegistry, DeliveryRequest, create_or_update
from jsm_autopilot.connector.executor import Executor, firing_source
from jsm_autopilot.connector.holds import Guard
from jsm_autopilot.errors import DeliveryRequestError, DeliveryUncertain, JiraError, TicketBusy

log = logging.getLogger("jsm_autopilot.api")
API_TOKEN_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_API_TOKEN"


def api_token(environ=os.environ) -> bytes | None:
    token = environ.get(API_TOKEN_ENVIRONMENT_VARIABLE) or None
    return token.encode() if token else None


def add_delivery_api(app: Flask, settings: Callable[[], Settings], client: JiraClient, executor: Executor, registry: DeliveryRegistry,
                     guard: Guard, token: bytes | None, count: Callable[[str], None] = lambda outcome: None,
                     always_dry_run: bool = False) -> None:
    """`settings` gives those in force at each request (app.yaml with the console's overrides).
    `always_dry_run`: shadow mode, where every request is answered as a dry run."""
    @app.post("/api/deliveries")
    def create_delivery():
        """Creates or updates a Delivery ticket for release managers' scripts (bearer token)."""
        firing_source.set("api")  # this request's context only: the audit names the API as the cause
        if token is None:
            return jsonify({"error": f"the API is off: set {API_TOKEN_ENVIRONMENT_VARIABLE} to enable it"}), 503
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
            count("unauthorised")
            return jsonify({"error": "a bearer token is required (Authorization: Bearer ...)"}), 401, {"WWW-Authenticate": "Bearer"}
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"error": "the body must be a JSON object", "field": "(body)"}), 400
        dry_run = body.pop("dry_run", False)
        if not isinstance(dry_run, bool):
            return jsonify({"error": "must be true or false", "field": "dry_run"}), 400
        dry_run = dry_run or always_dry_run
        try:
            in_force = settings()
            delivery_request = DeliveryRequest.parse(body, in_force)
            result = create_or_update(client, in_force, executor, registry, delivery_request, guard=guard, dry_run=dry_run)
        except DeliveryRequestError as error:
            count("invalid")
            return jsonify({"error": error.problem, "field": error.field}), 400
        except DeliveryUncertain as uncertain:
            count("uncertain")
            return jsonify({"error": str(uncertain)}), 503, {"Retry-After": str(uncertain.retry_after)}
        except TicketBusy as busy:
            count("busy")
            return jsonify({"error": f"another request is creating this delivery ({busy}); try again"}), 409
        except JiraError as error:
            count("jira_failed")
            log.error("delivery request failed: %s", error)
            return jsonify({"error": f"Jira: {error}"}), 502
        answer = result.as_json()
        if result.failures:
            count("jira_failed")
            return jsonify(answer), 502
        count("created" if result.created else "updated")
        log.info("delivery %s %s", result.key, "created" if result.created else "updated", extra={"issue": result.key})
        return jsonify(answer), 201 if result.created and not dry_run else 200
