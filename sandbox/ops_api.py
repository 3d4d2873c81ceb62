"""Jira Service Management operations' integration events API, the part `oncall.alert` uses:
`POST /jsm/ops/integration/v2/alerts` with `Authorization: GenieKey <key>` (Atlassian's reference,
"Integration events": message and alias, description, responders, visibleTo, actions, tags,
details, entity, source; 202 with an AsyncSuccessResponse). As strict as the reference allows:
an unknown key is a 401, an unknown body field or an over-long message a 422, and an open alert
with the same alias is counted again, not duplicated (the alias is the de-duplication key)."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request

from jsm_autopilot.sandbox.state import SandboxState

FIELDS = {"message", "alias", "description", "responders", "visibleTo", "actions", "tags", "details", "entity", "source",
          "priority", "user", "note"}
# The alert's rank: P1 (critical) to P5, P3 when absent (the create-alert reference, as Opsgenie's).
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
LIMITS = {"message": 130, "alias": 512, "description": 15000, "entity": 512, "source": 100}


def blueprint(state: SandboxState) -> Blueprint:
    api = Blueprint("jsm_ops", __name__)

    @api.post("/jsm/ops/integration/v2/alerts")
    def create_alert():
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "GenieKey" or key != state.ops_api_key:
            return jsonify({"message": "Could not authenticate", "took": 0.0, "requestId": str(uuid.uuid4())}), 401
        body = request.get_json(silent=True)
        problems = []
        if not isinstance(body, dict):
            problems.append("the body must be a JSON object")
            body = {}
        problems += [f"{name}: not a field of this resource" for name in sorted(set(body) - FIELDS)]
        if not isinstance(body.get("message"), str) or not body["message"].strip():
            problems.append("message: required")
        for name, limit in LIMITS.items():
            if isinstance(body.get(name), str) and len(body[name]) > limit:
                problems.append(f"{name}: at most {limit} characters")
        if "priority" in body and body["priority"] not in PRIORITIES:
            problems.append(f"priority: one of {', '.join(PRIORITIES)}")
        details = body.get("details", {})
        if not isinstance(details, dict) or not all(isinstance(v, str) for v in details.values()):
            problems.append("details: a map of strings")
        if problems:
            return jsonify({"message": "; ".join(problems), "took": 0.0, "requestId": str(uuid.uuid4())}), 422
        with state.lock:
            alias = body.get("alias") or body["message"]
            known = next((a for a in state.ops_alerts if a["alias"] == alias and a["status"] == "open"), None)
            if known is None:
                state.ops_alerts.append({"priority": "P3", **body, "alias": alias, "status": "open", "count": 1,
                                         "createdAt": state.now.isoformat()})
            else:
                known["count"] += 1
        return jsonify({"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())}), 202

    @api.get("/_sandbox/ops-alerts")
    def list_alerts():
        with state.lock:
            return jsonify({"alerts": list(state.ops_alerts)})

    return api
