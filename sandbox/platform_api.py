"""The Jira platform REST subset: issues, search, transitions, comments, properties, links."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from jsm_autopilot.sandbox.oauth_api import groups_json
from jsm_autopilot.sandbox.render import Renderer, jira_time, text_of
from jsm_autopilot.sandbox.state import SandboxError, SandboxState, StoredIssue
from jsm_autopilot.sandbox.values import comment_visibility, moment_refused
from jsm_autopilot.sandbox.workflow import RESOLUTIONS

API = '/rest/api/<any("2","3"):version>'
REQUEST_TYPE_FIELD = "customfield_10010"  # JSM's Request Type (sandbox/admin_api.py JSM_FIELDS)
SEARCH_PAGE_LIMIT = 100  # Jira Cloud caps search/jql pages with fields at 100
CHANGELOG_PAGE_LIMIT = 100  # GET /issue/{key}/changelog: "The default is 100 and the maximum is 100"
COMMENT_PAGE_LIMIT = 100  # lower than Cloud's 5000, so that readers must page


def csv_values(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in str(value).split(",") if part]


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise SandboxError(400, "Invalid request payload. Refer to the REST API documentation and try again.")
    return body


RESOLUTION_FIELD = {
    "required": True, "schema": {"type": "resolution", "system": "resolution"}, "name": "Resolution", "key": "resolution",
    "hasDefaultValue": False, "operations": ["set"],
    "allowedValues": [{"self": "", "id": i, "name": n, "description": n} for i, n in RESOLUTIONS.items()],
}


def _page_arguments(most: int) -> tuple[int, int]:
    try:
        start = max(0, int(request.args.get("startAt", 0)))
        limit = max(1, min(int(request.args.get("maxResults", most)), most))
    except ValueError:
        raise SandboxError(400, "startAt and maxResults must be numbers.") from None
    return start, limit


def _no_content() -> Response:
    return Response(status=204)


def _empty_json(status: int) -> Response:
    # The spec declares a JSON body for these answers; `{}` is what it allows.
    return Response("{}", status=status, mimetype="application/json")


def blueprint(state: SandboxState) -> Blueprint:
    api = Blueprint("platform", __name__)

    def renderer(version: str) -> Renderer:
        return Renderer(state, request.host_url, version)

    @api.before_request
    def _data_center_has_no_v3():
        if state.deployment != "cloud" and request.path.startswith("/rest/api/3/"):
            raise SandboxError(404, "null for uri: " + request.path)

    def body_text(body: Any, version: str) -> str:
        if version == "3" and not isinstance(body, dict):
            raise SandboxError(400, "Comment body is not valid!",
                               {"comment": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"})
        return text_of(body)

    def apply_fields(issue: StoredIssue, fields: dict, version: str) -> list[dict]:
        wanted_type = (fields.get("issuetype") or {}).get("name") if isinstance(fields.get("issuetype"), dict) else None
        if wanted_type and not state.workflow.same_workflow(issue.issue_type, wanted_type):
            # Editing cannot move an issue to another workflow; that takes Move. Refused before
            # anything changes (open-cli-collective/atlassian-cli#149; sandbox/REAL_JIRA.md).
            raise SandboxError(400, "", {"issuetype": "The issue type selected is invalid."})
        items = []
        for name, value in fields.items():
            if name == "summary":
                old, issue.summary = issue.summary, str(value)
            elif name == "description":
                old, issue.description = issue.description, body_text(value, version) if value else ""
                # Kept as sent (tables and all) for v3 readers; v2 readers get the text.
                issue.description_document = value if version == "3" and isinstance(value, dict) else None
            elif name == "priority":
                old, issue.priority = issue.priority, (value or {}).get("name") or (value or {}).get("id")
            elif name == "issuetype":
                old, issue.issue_type = issue.issue_type, (value or {}).get("name") or issue.issue_type
            elif name == state.organizations_field:
                ids = [int(v["id"] if isinstance(v, dict) else v) for v in (value or [])]
                unknown = [i for i in ids if i not in state.organisations]
                if unknown:
                    raise SandboxError(400, "", {name: f"Organization(s) {unknown} do not exist."})
                old, issue.custom_fields[name] = issue.custom_fields.get(name), ids
            elif name == "security":
                level = str((value or {}).get("id") or "")
                if level not in state.security_levels:
                    raise SandboxError(400, "", {name: f"Security level with id '{level}' does not exist."})
                old, issue.custom_fields[name] = issue.custom_fields.get(name), {"id": level, "name": state.security_levels[level]}
            elif name == REQUEST_TYPE_FIELD:
                # JSM's Request Type field takes the request type's id.
                chosen = state.request_types.get(str(value.get("id") if isinstance(value, dict) else value))
                if chosen is None:
                    raise SandboxError(400, "", {name: f"Request type '{value}' does not exist in this service project."})
                old, issue.request_type = issue.request_type, chosen["name"]
            elif name.startswith("customfield_") or name == "environment":
                if version == "3" and name == "environment" and value is not None and not isinstance(value, dict):
                    raise SandboxError(400, "", {name: "Operation value must be an Atlassian Document (see the Atlassian Document Format)"})
                refused = moment_refused(state.field_types.get(name), value)
                if refused:
                    raise SandboxError(400, "", {name: refused})
                old, issue.custom_fields[name] = issue.custom_fields.get(name), value
            else:
                raise SandboxError(400, "", {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."})
            # A custom field's raw value (a date as 2026-12-01) is in from/to, as Jira writes it.
            raw = name.startswith("customfield_") and name != state.organizations_field
            items.append({"field": name, "fieldtype": "custom" if name.startswith("customfield_") else "jira", "fieldId": name,
                          "from": old if raw and isinstance(old, str) else None, "fromString": None if old is None else text_of(old),
                          "to": value if raw and isinstance(value, str) else None,
                          "toString": None if value is None else (text_of(value) if name == "description" else str(value))})
        return items

    def apply_update(issue: StoredIssue, update: dict, version: str) -> list:
        added_comments = []
        for name, operations in update.items():
            if name != "comment":
                raise SandboxError(400, "", {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."})
            for operation in operations:
                added = operation.get("add") if isinstance(operation, dict) else None
                if not isinstance(added, dict):
                    raise SandboxError(400, "", {"comment": "Only 'add' is supported for comments here."})
                added_comments.append(add_comment(issue, added, version))
        return added_comments

    def add_comment(issue: StoredIssue, data: dict, version: str):
        properties = {p["key"]: p.get("value") for p in data.get("properties") or [] if isinstance(p, dict) and "key" in p}
        marker = properties.get("sd.public.comment")
        # A role restriction leaves jsdPublic true: the two are separate (atlassian/atlassian-mcp-server#139).
        public = not (isinstance(marker, dict) and marker.get("internal") is True)
        return state.add_comment(issue, g.user, body_text(data.get("body"), version), public, properties,
                                 comment_visibility(data.get("visibility")))

    def apply_properties(issue: StoredIssue, properties: list) -> None:
        for entry in properties or []:
            if not isinstance(entry, dict) or "key" not in entry:
                raise SandboxError(400, "", {"properties": "Each property needs a key and a value."})
            if len(json.dumps(entry.get("value"))) > 32768:
                raise SandboxError(400, "The property value is too long. Max size is 32768 bytes.")
            issue.properties[entry["key"]] = entry.get("value")

    def announce_issue(issue: StoredIssue, event_name: str, items: list[dict]) -> None:
        """Queue the webhook Jira would send (v2 representation, as in the real captures)."""
        r = renderer("2")
        payload = {"timestamp": int(state.now.timestamp() * 1000), "webhookEvent": event_name,
                   "issue_event_type_name": "issue_created" if event_name == "jira:issue_created" else "issue_generic",
                   "user": r.user(g.user), "issue": r.issue(issue, None)}
        if items:
            payload["changelog"] = {"id": str(state.next_id()), "items": [{k: v for k, v in i.items()} for i in items]}
        state.webhooks.emit(payload)

    def announce_comments(issue: StoredIssue, comments: list) -> None:
        r = renderer("2")
        trimmed = {name: r._field(issue, name) for name in ("summary", "issuetype", "project", "priority", "status")}
        trimmed["assignee"] = None
        for comment in comments:
            stamp = int(state.now.timestamp() * 1000)
            if state.deployment != "cloud":
                # Data Center's comment events carry the comment alone (its `self` names the issue
                # by id), and a complete jira:issue_updated follows as issue_commented
                # (mattermost-plugin-jira's recorded Server payloads; its PR #118).
                state.webhooks.emit({"timestamp": stamp, "webhookEvent": "comment_created", "comment": r.comment(issue, comment)})
                state.webhooks.emit({"timestamp": stamp, "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_commented",
                                     "user": r.user(comment.author), "issue": r.issue(issue, None), "comment": r.comment(issue, comment)})
                continue
            state.webhooks.emit({"timestamp": stamp, "webhookEvent": "comment_created",
                                 "comment": r.comment(issue, comment),
                                 "issue": {"id": str(issue.id), "self": f"{r.base_url}/rest/api/2/issue/{issue.id}", "key": issue.key, "fields": trimmed}})

    @api.get(API + "/serverInfo")
    def server_info(version):
        with state.lock:
            return jsonify({
                "baseUrl": request.host_url.rstrip("/"),
                "version": "1001.0.0-SNAPSHOT" if state.deployment == "cloud" else ".".join(map(str, state.data_center_version)),
                "versionNumbers": [1001, 0, 0] if state.deployment == "cloud" else list(state.data_center_version),
                "deploymentType": "Cloud" if state.deployment == "cloud" else "Server",
                "buildNumber": 100000, "buildDate": "2026-01-01T00:00:00.000+00:00",
                "serverTime": jira_time(state.now), "scmInfo": "sandbox", "serverTitle": "jsm-autopilot sandbox",
            })

    @api.get(API + "/myself")
    def myself(version):
        shown = renderer(version).user(g.user)
        if "groups" in (request.args.get("expand") or "").split(","):
            with state.lock:
                shown["groups"] = groups_json(state, g.user, request.host_url.rstrip("/"), version)
        return jsonify(shown)

    @api.get(API + "/user/assignable/search")
    def assignable_users(version):
        """Only agents (licensed JSM users in the Service Desk Team role) can be assigned a service
        project's issues (Atlassian KB "User cannot be assigned Jira Service Management issues");
        portal-only customers and customers with Atlassian accounts never are."""
        project = request.args.get("project") or ""
        if project.upper() not in (state.project_key, "10000"):
            raise SandboxError(404, f"No project could be found with key '{project}'.")
        wanted = request.args.get("accountId") if version == "3" else request.args.get("username")
        if not wanted and not request.args.get("query"):
            raise SandboxError(400, "The query parameter 'accountId' or 'query' is required." if version == "3"
                               else "The query parameter 'username' or 'query' is required.")
        with state.lock:
            r = renderer(version)
            agents = [u for u in state.users_by_id.values() if state.is_agent(u)]
            found = [u for u in agents if wanted in (u.account_id, u.email)] if wanted else \
                [u for u in agents if request.args["query"].lower() in (u.email + " " + u.display_name).lower()]
            return jsonify([r.user(u) for u in found])

    @api.post(API + "/issue")
    def create_issue(version):
        body = json_body()
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise SandboxError(400, "", {"fields": "Field 'fields' is required."})
        with state.lock:
            project = (fields.get("project") or {}).get("key") or (fields.get("project") or {}).get("id")
            if project == "10000":
                project = state.project_key
            if project != state.project_key and project not in state.other_projects:
                raise SandboxError(400, "", {"project": "Specify a valid project ID or key"})
            issue_type = (fields.get("issuetype") or {}).get("name")
            if not issue_type:
                raise SandboxError(400, "", {"issuetype": "Specify an issue type"})
            if not fields.get("summary"):
                raise SandboxError(400, "", {"summary": "You must specify a summary of the issue."})
            issue = state.create_issue(g.user, issue_type, str(fields["summary"]), project=project)
            rest = {k: v for k, v in fields.items() if k not in ("project", "issuetype", "summary")}
            apply_fields(issue, rest, version)
            apply_properties(issue, body.get("properties") or [])
            announce_issue(issue, "jira:issue_created", [])
            return jsonify({"id": str(issue.id), "key": issue.key, "self": f"{request.host_url}rest/api/{version}/issue/{issue.id}"}), 201

    @api.get(API + "/issue/<key>")
    def get_issue(version, key):
        with state.lock:
            issue = state.issue(key)
            return jsonify(renderer(version).issue(issue, csv_values(request.args.get("fields")), csv_values(request.args.get("expand")) or [],
                                                   csv_values(request.args.get("properties")) or []))

    @api.delete(API + "/issue/<key>")
    def delete_issue(version, key):
        with state.lock:
            issue = state.issue(key)
            # JSM's default permission scheme grants "Delete issues" to project administrators only.
            if g.user.account_id not in state.project_admins:
                raise SandboxError(403, "You do not have permission to delete issues in this project.")
            del state.issues[issue.key]
            del state.issues_by_id[issue.id]
            return _no_content()

    @api.put(API + "/issue/<key>")
    def edit_issue(version, key):
        body = json_body()
        with state.lock:
            issue = state.issue(key)
            items = apply_fields(issue, body.get("fields") or {}, version)
            comments = apply_update(issue, body.get("update") or {}, version)
            apply_properties(issue, body.get("properties") or [])
            state.record_change(issue, g.user, items)
            if items:
                announce_issue(issue, "jira:issue_updated", items)
            announce_comments(issue, comments)
            return _no_content()

    @api.get(API + "/issue/<key>/transitions")
    def get_transitions(version, key):
        with state.lock:
            issue = state.issue(key)
            r = renderer(version)
            with_fields = "transitions.fields" in (csv_values(request.args.get("expand")) or [])
            offered = []
            for t in state.workflow.transitions_from(issue.status):
                extra = state.screen_fields.get(t.to_status) or {}
                shown = {"id": t.id, "name": t.name, "to": r.status(t.to_status), "hasScreen": t.requires_resolution or bool(extra),
                         "isGlobal": False, "isInitial": False, "isAvailable": True, "isConditional": False, "isLooped": False}
                if with_fields:
                    shown["fields"] = {**({"resolution": RESOLUTION_FIELD} if t.requires_resolution else {}), **extra}
                offered.append(shown)
            return jsonify({"expand": "transitions", "transitions": offered})

    @api.post(API + "/issue/<key>/transitions")
    def do_transition(version, key):
        body = json_body()
        transition_id = str((body.get("transition") or {}).get("id") or "")
        if not transition_id:
            raise SandboxError(400, "Missing 'transition' identifier")
        with state.lock:
            issue = state.issue(key)
            chosen = next((t for t in state.workflow.transitions_from(issue.status) if t.id == transition_id), None)
            if chosen is None:
                raise SandboxError(400, f"Transition id '{transition_id}' is not valid for this issue.")
            # Validate everything before changing anything: Jira applies a transition whole or not at all.
            for name in (body.get("update") or {}):
                if name != "comment":
                    raise SandboxError(400, "", {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."})
            fields = dict(body.get("fields") or {})
            resolution = None
            if chosen.requires_resolution:
                # The screen's required Resolution (JSM default workflows; sandbox/REAL_JIRA.md).
                given = fields.pop("resolution", None)
                resolution = (given or {}).get("name") or RESOLUTIONS.get(str((given or {}).get("id")))
                if given is None:
                    raise SandboxError(400, "", {"resolution": "Resolution is required."})
                if resolution not in RESOLUTIONS.values():
                    raise SandboxError(400, "", {"resolution": f"Resolution '{given}' is not valid."})
            # A required screen field left out: "<Name> is required." under its id (textfuel/lazyjira#111).
            absent = {field_id: f"{meta.get('name', field_id)} is required."
                      for field_id, meta in (state.screen_fields.get(chosen.to_status) or {}).items()
                      if meta.get("required") and fields.get(field_id) in (None, "", [], {})}
            if absent:
                raise SandboxError(400, "", absent)
            items = apply_fields(issue, fields, version)
            state.record_change(issue, g.user, items)
            state.move(issue, chosen.to_status, g.user, resolution)
            comments = apply_update(issue, body.get("update") or {}, version)
            apply_properties(issue, body.get("properties") or [])
            announce_issue(issue, "jira:issue_updated", items + issue.histories[-1].items)
            announce_comments(issue, comments)
            return _no_content()

    @api.get(API + "/issue/<key>/comment")
    def get_comments(version, key):
        with state.lock:
            issue = state.issue(key)
            with_properties = "properties" in (csv_values(request.args.get("expand")) or [])
            start, limit = _page_arguments(COMMENT_PAGE_LIMIT)
            comments = [renderer(version).comment(issue, c, with_properties) for c in issue.comments[start:start + limit]]
            return jsonify({"startAt": start, "maxResults": limit, "total": len(issue.comments), "comments": comments})

    @api.get(API + "/issue/<key>/changelog")
    def get_changelog(version, key):
        # Cloud only: Data Center has no such resource and inlines the whole changelog instead.
        if state.deployment != "cloud":
            raise SandboxError(404, "null for uri: " + request.path)
        with state.lock:
            issue = state.issue(key)
            start, limit = _page_arguments(CHANGELOG_PAGE_LIMIT)
            page = issue.histories[start:start + limit]
            r = renderer(version)
            body = {"self": f"{r.base_url}/rest/api/{version}/issue/{issue.id}/changelog?startAt={start}&maxResults={limit}",
                    "maxResults": limit, "startAt": start, "total": len(issue.histories),
                    "isLast": start + len(page) >= len(issue.histories), "values": [r.history(h) for h in page]}
            if not body["isLast"]:
                body["nextPage"] = f"{r.base_url}/rest/api/{version}/issue/{issue.id}/changelog?startAt={start + limit}&maxResults={limit}"
            return jsonify(body)

    @api.post(API + "/issue/<key>/comment")
    def post_comment(version, key):
        body = json_body()
        with state.lock:
            issue = state.issue(key)
            comment = add_comment(issue, body, version)
            announce_comments(issue, [comment])
            return jsonify(renderer(version).comment(issue, comment)), 201

    def find_comment(comment_id: str):
        for issue in state.issues.values():
            for comment in issue.comments:
                if str(comment.id) == comment_id:
                    return issue, comment
        raise SandboxError(404, "Can not find a comment for the id: " + comment_id)

    def read_property(properties: dict, prop: str) -> Response:
        if prop not in properties:
            raise SandboxError(404, f"The property with key '{prop}' does not exist.")
        return jsonify({"key": prop, "value": properties[prop]})

    def write_property(properties: dict, prop: str, value) -> Response:
        # Jira limits every entity property (issue, comment) to 32 KB of JSON.
        if len(json.dumps(value)) > 32768:
            raise SandboxError(400, "The property value is too long. Max size is 32768 bytes.")
        created = prop not in properties
        properties[prop] = value
        return _empty_json(201 if created else 200)

    @api.get(API + "/comment/<comment_id>/properties/<prop>")
    def get_comment_property(version, comment_id, prop):
        with state.lock:
            return read_property(find_comment(comment_id)[1].properties, prop)

    @api.put(API + "/comment/<comment_id>/properties/<prop>")
    def put_comment_property(version, comment_id, prop):
        value = request.get_json(silent=True)
        with state.lock:
            return write_property(find_comment(comment_id)[1].properties, prop, value)

    @api.get(API + "/issue/<key>/properties")
    def list_issue_properties(version, key):
        with state.lock:
            issue = state.issue(key)
            base = f"{request.host_url}rest/api/{version}/issue/{issue.id}/properties/"
            return jsonify({"keys": [{"key": k, "self": base + k} for k in issue.properties]})

    @api.get(API + "/issue/<key>/properties/<prop>")
    def get_issue_property(version, key, prop):
        with state.lock:
            return read_property(state.issue(key).properties, prop)

    @api.put(API + "/issue/<key>/properties/<prop>")
    def put_issue_property(version, key, prop):
        value = request.get_json(silent=True)
        with state.lock:
            return write_property(state.issue(key).properties, prop, value)

    @api.delete(API + "/issue/<key>/properties/<prop>")
    def delete_issue_property(version, key, prop):
        with state.lock:
            issue = state.issue(key)
            if issue.properties.pop(prop, None) is None:
                raise SandboxError(404, f"The property with key '{prop}' does not exist.")
            return _no_content()

    @api.post(API + "/issueLink")
    def link_issues(version):
        body = json_body()
        with state.lock:
            inward = state.issue(str((body.get("inwardIssue") or {}).get("key") or (body.get("inwardIssue") or {}).get("id") or ""))
            outward = state.issue(str((body.get("outwardIssue") or {}).get("key") or (body.get("outwardIssue") or {}).get("id") or ""))
            link_type = (body.get("type") or {}).get("name")
            if not link_type:
                raise SandboxError(400, "", {"issueLinkType": "Issue link type name or id is required."})
            # "If the link request duplicates a link, the response indicates that the issue link was created."
            duplicate = any(link["type"] == link_type and link.get("outwardIssue") == outward.id for link in inward.links)
            if not duplicate:
                link_id = str(state.next_id())
                inward.links.append({"id": link_id, "type": link_type, "outwardIssue": outward.id})
                outward.links.append({"id": link_id, "type": link_type, "inwardIssue": inward.id})
                state.record_link(inward, outward, link_type, g.user, added=True)
            return _empty_json(201)

    def find_link(link_id: str) -> list[tuple[StoredIssue, dict]]:
        found = [(issue, link) for issue in state.issues.values() for link in issue.links if link["id"] == link_id]
        if not found:
            raise SandboxError(404, f"No issue link with id '{link_id}' exists.")
        return found

    @api.get(API + "/issueLink/<link_id>")
    def get_link(version, link_id):
        with state.lock:
            ends = find_link(link_id)
            r = renderer(version)
            inward = next(i for i, link in ends if "outwardIssue" in link)
            outward = next(i for i, link in ends if "inwardIssue" in link)
            return jsonify({"id": link_id, "self": f"{r.base_url}/rest/api/{version}/issueLink/{link_id}",
                            "type": r.link_type(ends[0][1]["type"]), "inwardIssue": r.linked_issue(inward),
                            "outwardIssue": r.linked_issue(outward)})

    @api.delete(API + "/issueLink/<link_id>")
    def delete_link(version, link_id):
        with state.lock:
            ends = find_link(link_id)
            for issue, link in ends:
                issue.links.remove(link)
            inward = next(i for i, link in ends if "outwardIssue" in link)
            outward = next(i for i, link in ends if "inwardIssue" in link)
            state.record_link(inward, outward, ends[0][1]["type"], g.user, added=False)
            return _no_content()

    return api
