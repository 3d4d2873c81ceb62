"""What `doctor` and `webhook` read and write: the project, its statuses per issue type,
priorities, fields, and the admin webhook resources: `/rest/webhooks/1.0/webhook` (Cloud and Data
Center before 10) and `/rest/jira-webhook/1.0/webhooks` (Data Center 10 and later), both described
only in Atlassian's prose (JIRA-CONTRACT.md 1.1), and so outside the OpenAPI documents."""

from __future__ import annotations

import zlib

from flask import Blueprint, Response, g, jsonify, request

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.sandbox.render import Renderer
from jsm_autopilot.sandbox.state import SandboxError, SandboxState
from jsm_autopilot.sandbox.workflow import RESOLUTIONS

API = '/rest/api/<any("2","3"):version>'
SYSTEM_FIELDS = ["summary", "issuetype", "status", "priority", "created", "updated", "resolutiondate", "reporter",
                 "comment", "description", "environment", "issuelinks", "labels", "resolution"]

SYSTEM_FIELD_TYPES = {"issuetype": "issuetype", "status": "status", "priority": "priority", "created": "datetime",
                      "updated": "datetime", "resolutiondate": "datetime", "reporter": "user", "comment": "comments-page",
                      "issuelinks": "array", "labels": "array", "resolution": "resolution"}
_TYPES = "com.atlassian.jira.plugin.system.customfieldtypes:"
# The schema GET /field shows for each kind of field; JSM's own types carry servicedesk keys.
FIELD_KINDS = {
    "organizations": ("Organizations", {"type": "array", "items": "sd-customerorganization",
                                        "custom": "com.atlassian.servicedesk:sd-customer-organizations"}),
    "request_participants": ("Request participants", {"type": "array", "items": "user",
                                                      "custom": "com.atlassian.servicedesk:sd-request-participants"}),
    "delivery_version": ("Delivery version", {"type": "string", "custom": _TYPES + "textfield"}),
    "estimated_delivery_date": ("Estimated delivery date", {"type": "date", "custom": _TYPES + "datepicker"}),
    "confidential": ("Confidential personal data", {"type": "option", "custom": _TYPES + "select"}),
    "documentation_links": ("Documentation", {"type": "string", "custom": _TYPES + "textarea"}),
    "accepted_at": ("Accepted", {"type": "datetime", "custom": _TYPES + "datetime"}),
    "maintenance_date": ("Planned maintenance", {"type": "datetime", "custom": _TYPES + "datetime"}),
    "urgency": ("Urgency", {"type": "option", "custom": _TYPES + "select"}),
    "impact": ("Impact", {"type": "option", "custom": _TYPES + "select"}),
}
# Fields every JSM project has, so that a wrong id may point at a real field of another kind.
JSM_FIELDS = {
    "customfield_10010": ("Request Type", {"type": "sd-customerrequesttype", "custom": "com.atlassian.servicedesk:vp-origin"}),
    "customfield_10020": ("Satisfaction", {"type": "sd-feedback", "custom": "com.atlassian.servicedesk:sd-request-feedback"}),
}


def blueprint(state: SandboxState, settings: Settings) -> Blueprint:
    api = Blueprint("admin", __name__)
    issue_types = list(settings.issue_types.model_dump().values())
    # The site's own custom fields, each of the kind its role needs (a custom field id names
    # different fields on different sites; `doctor` checks the kind against app.yaml).
    site_fields = {field_id: FIELD_KINDS[role] for role, field_id in settings.fields.model_dump().items()
                   if field_id and field_id.startswith("customfield_")}

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
                   "searchable": True, "clauseNames": [f], "schema": {"type": SYSTEM_FIELD_TYPES.get(f, "string"), "system": f}}
                  for f in SYSTEM_FIELDS]
        for field_id, (name, schema) in {**JSM_FIELDS, **site_fields}.items():
            number = int(field_id[len("customfield_"):])
            listed.append({"id": field_id, "key": field_id, "name": name, "custom": True, "navigable": True, "orderable": True,
                           "searchable": True, "clauseNames": [f"cf[{number}]", name], "schema": {**schema, "customId": number}})
        return jsonify(listed)

    @api.get(API + "/resolution")
    def resolutions(version):
        base = request.host_url.rstrip("/")
        return jsonify([{"self": f"{base}/rest/api/{version}/resolution/{i}", "id": i, "name": n, "description": n}
                        for i, n in RESOLUTIONS.items()])

    @api.get(API + "/project/<key>/securitylevel")
    def security_levels(version, key):
        project_or_404(key)
        base = request.host_url.rstrip("/")
        return jsonify({"levels": [{"self": f"{base}/rest/api/{version}/securitylevel/{i}", "id": i, "name": n, "description": n}
                                   for i, n in state.security_levels.items()]})

    def cloud_only() -> None:
        # Data Center's REST API has no workflow scheme or workflow search resources.
        if state.deployment != "cloud":
            raise SandboxError(404, "null for uri: " + request.path)

    @api.get(API + "/workflowscheme/project")
    def workflow_scheme(version):
        cloud_only()
        if request.args.get("projectId") not in ("10000",):
            return jsonify({"values": []})
        type_ids = {name: str(10000 + n) for n, name in enumerate(issue_types)}
        mappings = {type_ids[t]: w for t, w in state.workflow.workflow_of.items() if t in type_ids}
        return jsonify({"values": [{"projectIds": ["10000"], "workflowScheme": {
            "id": 10100, "name": f"{state.project_key} workflow scheme", "description": "", "defaultWorkflow": "jira",
            "issueTypeMappings": mappings, "self": f"{request.host_url}rest/api/{version}/workflowscheme/10100"}}]})

    @api.get(API + "/workflow/search")
    def workflow_search(version):
        cloud_only()
        wanted = request.args.getlist("workflowName") or sorted(set(state.workflow.workflow_of.values()))
        expand = (request.args.get("expand") or "").split(",")
        values = []
        for name in wanted:
            if name not in state.workflow.workflow_of.values():
                continue
            entry: dict = {"id": {"name": name, "entityId": str(zlib.crc32(name.encode()))}, "description": name}
            if "statuses" in expand:
                entry["statuses"] = [{"id": state.workflow.status_id(s), "name": s} for s in state.workflow.statuses]
            if "transitions" in expand:
                entry["transitions"] = [
                    {"id": t.id, "name": t.name, "description": "", "from": [state.workflow.status_id(source)],
                     "to": state.workflow.status_id(t.to_status), "type": "directed"}
                    for source in state.workflow.statuses for t in state.workflow.transitions_from(source)]
            values.append(entry)
        return jsonify({"isLast": True, "maxResults": 50, "startAt": 0, "total": len(values), "values": values})

    @api.get(API + "/issueLinkType")
    def issue_link_types(version):
        # Jira's default link types.
        r = Renderer(state, request.host_url, version)
        return jsonify({"issueLinkTypes": [r.link_type(name) for name in ("Blocks", "Cloners", "Duplicate", "Relates")]})

    def data_center_10() -> bool:
        return state.deployment != "cloud" and state.data_center_version[0] >= 10

    def deliver_to(hook: dict | None) -> None:
        """From now on the sandbox delivers to this webhook, as Jira does. Data Center before 10
        cannot sign (its webhooks have no secret), so those deliveries come unsigned."""
        if hook is None or not hook["enabled"]:
            state.webhooks.configure(None, None)
            return
        signs = state.deployment == "cloud" or data_center_10()
        secret = hook.get("secret") if signs else None
        state.webhooks.configure(hook["url"], secret.encode() if secret else None)

    def hook_or_404(hook_id: int) -> dict:
        found = next((h for h in state.registered_webhooks if h["id"] == hook_id), None)
        if found is None:
            raise SandboxError(404, f"No webhook with id {hook_id}.")
        return found

    def checked(body: object) -> dict:
        if not isinstance(body, dict) or not str(body.get("url", "")).startswith(("http://", "https://")):
            raise SandboxError(400, "", {"url": "A webhook needs an http(s) URL."})
        if not body.get("events"):
            raise SandboxError(400, "", {"events": "A webhook needs at least one event."})
        return body

    # -- Cloud, and Data Center before 10: /rest/webhooks/1.0/webhook ------------------------

    def legacy_only() -> None:
        if data_center_10():
            # "Starting from Jira 10.0.x, the URL to webhook resource has changed" (Atlassian).
            raise SandboxError(404, "null for uri: " + request.path)

    def legacy_view(hook: dict) -> dict:
        return {"self": f"{request.host_url}rest/webhooks/1.0/webhook/{hook['id']}", "name": hook["name"], "url": hook["url"],
                "events": hook["events"], "filters": {"issue-related-events-section": hook["jql"]},
                "excludeBody": hook["exclude_body"], "enabled": hook["enabled"], "lastUpdatedUser": hook["updated_by"]}

    def legacy_fields(body: dict, hook: dict) -> dict:
        hook.update(name=str(body.get("name") or "webhook"), url=body["url"], events=list(body["events"]),
                    jql=str((body.get("filters") or {}).get("issue-related-events-section") or ""),
                    exclude_body=bool(body.get("excludeBody", False)), enabled=bool(body.get("enabled", True)),
                    secret=body.get("secret"), updated_by=g.user.account_id)
        return hook

    # -- Data Center 10 and later: /rest/jira-webhook/1.0/webhooks ---------------------------

    def data_center_10_only() -> None:
        if not data_center_10():
            raise SandboxError(404, "null for uri: " + request.path)

    def dc10_view(hook: dict) -> dict:
        # The secret is never shown back.
        return {"id": hook["id"], "name": hook["name"], "url": hook["url"], "events": hook["events"], "active": hook["enabled"],
                "scopeType": "global", "sslVerificationRequired": True, "createdDate": hook.get("created", 0),
                "updatedDate": int(state.now.timestamp() * 1000),
                "configuration": {"FILTERS": hook["jql"], "EXCLUDE_BODY": "true" if hook["exclude_body"] else "false"}}

    def dc10_fields(body: dict, hook: dict) -> dict:
        configuration = body.get("configuration") or {}
        hook.update(name=str(body.get("name") or "webhook"), url=body["url"], events=list(body["events"]),
                    jql=str(configuration.get("FILTERS") or ""), exclude_body=str(configuration.get("EXCLUDE_BODY")) == "true",
                    enabled=bool(body.get("active", True)), secret=configuration.get("SECRET"), updated_by=g.user.account_id)
        return hook

    def webhook_resource(name: str, path: str, only, view, fields) -> None:
        """The four operations of one admin webhook resource; its own guard, body and view."""

        def list_all():
            only()
            with state.lock:
                return jsonify([view(h) for h in state.registered_webhooks])

        def register():
            only()
            body = checked(request.get_json(silent=True))
            with state.lock:
                hook = fields(body, {"id": state.next_id(), "created": int(state.now.timestamp() * 1000)})
                state.registered_webhooks.append(hook)
                deliver_to(hook)
                return jsonify(view(hook)), 201

        def update(hook_id):
            only()
            body = checked(request.get_json(silent=True))
            with state.lock:
                hook = fields(body, hook_or_404(hook_id))
                deliver_to(hook)
                return jsonify(view(hook))

        def delete(hook_id):
            only()
            with state.lock:
                state.registered_webhooks.remove(hook_or_404(hook_id))
                deliver_to(state.registered_webhooks[-1] if state.registered_webhooks else None)
                return Response(status=204)

        api.add_url_rule(path, f"{name}_list", list_all, methods=["GET"])
        api.add_url_rule(path, f"{name}_register", register, methods=["POST"])
        api.add_url_rule(f"{path}/<int:hook_id>", f"{name}_update", update, methods=["PUT"])
        api.add_url_rule(f"{path}/<int:hook_id>", f"{name}_delete", delete, methods=["DELETE"])

    webhook_resource("legacy", "/rest/webhooks/1.0/webhook", legacy_only, legacy_view, legacy_fields)
    webhook_resource("dc10", "/rest/jira-webhook/1.0/webhooks", data_center_10_only, dc10_view, dc10_fields)

    return api
