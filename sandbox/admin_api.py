"""What `doctor` and `webhook register` read and write: the project, its statuses per issue type,
priorities, fields, and the admin webhook resource `/rest/webhooks/1.0/webhook` (described only
in Atlassian's prose, JIRA-CONTRACT.md 1.1, and so outside the OpenAPI documents)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from config.settings import Settings
from sandbox.render import Renderer
from sandbox.state import SandboxError, SandboxState

API = '/rest/api/<any("2","3"):version>'
SYSTEM_FIELDS = ["summary", "issuetype", "status", "priority", "created", "updated", "resolutiondate", "reporter",
                 "comment", "description", "environment", "issuelinks", "labels", "resolution"]


def blueprint(state: SandboxState, settings: Settings) -> Blueprint:
    api = Blueprint("admin", __name__)
    issue_types = list(settings.issue_types.model_dump().values())
    custom_fields = sorted({v for v in settings.fields.model_dump().values() if v and v.startswith("customfield_")})

    def project_or_404(key: str) -> None:
        if key.upper() not in (state.project_key, "10000"):
            raise SandboxError(404, "No project could be found with key '" + key + "'.")

    @api.get(API + "/project/<key>")
    def project(version, key):
        project_or_404(key)
        base = request.host_url.rstrip("/")
        return jsonify({"self": f"{base}/rest/api/{version}/project/10000", "id": "10000", "key": state.project_key,
                        "name": f"{state.project_key} Service Desk", "projectTypeKey": "service_desk", "simplified": False,
                        "issueTypes": [{"id": str(10000 + n), "name": name, "subtask": False} for n, name in enumerate(issue_types)]})

    @api.get(API + "/project/<key>/statuses")
    def project_statuses(version, key):
        project_or_404(key)
        with state.lock:
            r = Renderer(state, request.host_url, version)
            statuses = [{k: v for k, v in r.status(name).items() if k in ("self", "description", "iconUrl", "id", "name", "statusCategory")}
                        for name in state.workflow.statuses]
        return jsonify([{"self": f"{r.base_url}/rest/api/{version}/issuetype/{10000 + n}", "id": str(10000 + n), "name": name,
                         "subtask": False, "statuses": statuses} for n, name in enumerate(issue_types)])

    @api.get(API + "/priority")
    def priorities(version):
        base = request.host_url.rstrip("/")
        names = list(dict.fromkeys(settings.priorities.model_dump().values()))
        return jsonify([{"self": f"{base}/rest/api/{version}/priority/{n + 1}", "id": str(n + 1), "name": name,
                         "description": name, "statusColor": "#ff0000", "iconUrl": f"{base}/images/priority.svg"}
                        for n, name in enumerate(names)])

    @api.get(API + "/field")
    def fields(version):
        listed = [{"id": f, "key": f, "name": f.title(), "custom": False, "navigable": True, "orderable": True,
                   "searchable": True, "clauseNames": [f]} for f in SYSTEM_FIELDS]
        listed += [{"id": f, "key": f, "name": f"Custom field {f[12:]}", "custom": True, "navigable": True, "orderable": True,
                    "searchable": True, "clauseNames": [f"cf[{f[12:]}]"]} for f in custom_fields]
        return jsonify(listed)

    @api.get(API + "/issueLinkType")
    def issue_link_types(version):
        # Jira's default link types.
        r = Renderer(state, request.host_url, version)
        return jsonify({"issueLinkTypes": [r.link_type(name) for name in ("Blocks", "Cloners", "Duplicate", "Relates")]})

    def registration(hook: dict) -> dict:
        return {"self": f"{request.host_url}rest/webhooks/1.0/webhook/{hook['id']}", **hook}

    @api.get("/rest/webhooks/1.0/webhook")
    def list_webhooks():
        with state.lock:
            return jsonify([registration(h) for h in state.registered_webhooks])

    @api.post("/rest/webhooks/1.0/webhook")
    def register_webhook():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not str(body.get("url", "")).startswith(("http://", "https://")):
            raise SandboxError(400, "", {"url": "A webhook needs an http(s) URL."})
        if not body.get("events"):
            raise SandboxError(400, "", {"events": "A webhook needs at least one event."})
        with state.lock:
            hook = {"id": state.next_id(), "name": str(body.get("name") or "webhook"), "url": body["url"],
                    "events": list(body["events"]), "filters": dict(body.get("filters") or {}),
                    "excludeBody": bool(body.get("excludeBody", False)), "enabled": True,
                    "lastUpdatedUser": g.user.account_id}
            state.registered_webhooks.append(hook)
            # From now on the sandbox delivers to it, signed with its secret, as Jira does.
            secret = body.get("secret")
            state.webhooks.configure(hook["url"], secret.encode() if secret else None)
            return jsonify(registration(hook)), 201

    return api
