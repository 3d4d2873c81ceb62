"""JQL search: `POST|GET /rest/api/3/search/jql` (Cloud), the removed `/search` (410 on Cloud,
still served on Data Center), and the subset of JQL the service uses (sandbox/jql.py)."""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, jsonify, request

from jsm_autopilot.sandbox import jql
from jsm_autopilot.sandbox.platform_api import API, SEARCH_PAGE_LIMIT, csv_values, json_body
from jsm_autopilot.sandbox.render import Renderer
from jsm_autopilot.sandbox.state import SandboxError, SandboxState, StoredIssue


def blueprint(state: SandboxState) -> Blueprint:
    api = Blueprint("search", __name__)

    @api.before_request
    def _data_center_has_no_v3():
        if state.deployment != "cloud" and request.path.startswith("/rest/api/3/"):
            raise SandboxError(404, "null for uri: " + request.path)

    def field_value(issue: StoredIssue | None, name: str) -> Any:
        lowered = name.lower()
        if lowered.startswith("issue.property["):
            # Only properties an app indexes (its jiraEntityProperties module) are searchable;
            # a REST client's own properties are not (sandbox/REAL_JIRA.md).
            raise SandboxError(400, f"Field '{name}' does not exist or you do not have permission to view it.")
        custom = None
        if lowered.startswith("cf[") and lowered.endswith("]"):
            custom = f"customfield_{lowered[3:-1]}"
        elif lowered.startswith("customfield_"):
            custom = lowered
        known = {"project", "key", "issuekey", "status", "issuetype", "type", "priority", "reporter", "summary",
                 "created", "updated", "resolution", "resolved", "request-channel-type", "organizations"}
        if custom is None and lowered not in known:
            raise SandboxError(400, f"Field '{name}' does not exist or you do not have permission to view it.")
        if issue is None:
            return None
        if custom is not None:
            return issue.custom_fields.get(custom)
        if lowered == "project":
            return issue.project or state.project_key
        if lowered in ("key", "issuekey"):
            return issue.key
        if lowered == "status":
            return issue.status
        if lowered in ("issuetype", "type"):
            return issue.issue_type
        if lowered == "reporter":
            return [issue.reporter.account_id, issue.reporter.email]
        if lowered == "resolved":
            return issue.resolutiondate
        if lowered == "request-channel-type":
            return issue.channel
        if lowered == "organizations":
            ids = issue.custom_fields.get(state.organizations_field) or []
            return [state.organisations[i]["name"] for i in ids if i in state.organisations]
        return getattr(issue, lowered)

    def sort_key(issue: StoredIssue, order: list[tuple[str, bool]]):
        # Keyset paging: every order ends on the id, so a page token names one position exactly.
        parts = []
        for name, descending in order or [("id", False)]:
            value = issue.id if name in ("id", "key", "issuekey") else getattr(issue, name, None)
            value = value.timestamp() if hasattr(value, "timestamp") else value
            parts.append(-value if descending and isinstance(value, (int, float)) else value)
        parts.append(issue.id)
        return tuple(parts)


    def indexed():
        """What the search index holds: every issue but those created within `search_lag`."""
        return (i for i in state.issues.values() if not state.search_lag or i.created <= state.now - state.search_lag)

    def search(jql_text: str, fields, expand, properties, limit: int, token: str | None) -> dict:
        query = jql.parse(jql_text, field_value)
        matching = sorted((i for i in indexed() if query.matches(i)), key=lambda i: sort_key(i, query.order))
        if token:
            try:
                after_id = int(base64.urlsafe_b64decode(token.encode()).decode())
                after = sort_key(state.issues_by_id[after_id], query.order)
            except (ValueError, KeyError):
                raise SandboxError(400, "The provided next page token is invalid or expired.") from None
            matching = [i for i in matching if sort_key(i, query.order) > after]
        page = matching[:limit]
        more = len(matching) > limit
        in_search = Renderer(state, request.host_url, "3", in_search=True)
        result = {"issues": [in_search.issue(i, fields, expand, properties) for i in page], "isLast": not more}
        if more:
            result["nextPageToken"] = base64.urlsafe_b64encode(str(page[-1].id).encode()).decode()
        return result

    def search_arguments(source: dict) -> tuple:
        limit = int(source.get("maxResults") or 50)
        limit = max(1, min(limit, SEARCH_PAGE_LIMIT))
        # search/jql returns only ids unless fields are asked for.
        fields = csv_values(source.get("fields")) or ["id"]
        expand, properties = csv_values(source.get("expand")) or [], csv_values(source.get("properties")) or []
        return source.get("jql") or "", fields, expand, properties, limit, source.get("nextPageToken")

    @api.route("/rest/api/3/search/jql", methods=["GET", "POST"])
    def search_jql():
        if state.deployment != "cloud":
            raise SandboxError(404, "null for uri: " + request.path)
        source = json_body() if request.method == "POST" else request.args.to_dict()
        with state.lock:
            return jsonify(search(*search_arguments(source)))

    @api.route(API + "/search", methods=["GET", "POST"])
    def legacy_search(version):
        if state.deployment == "cloud":
            # Removed on Cloud since 2025 (JIRA-CONTRACT.md 3.3), answered exactly so.
            raise SandboxError(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                                    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
        source = json_body() if request.method == "POST" else request.args.to_dict()
        with state.lock:
            query = jql.parse(source.get("jql") or "", field_value)
            matching = sorted((i for i in indexed() if query.matches(i)), key=lambda i: sort_key(i, query.order))
            start = int(source.get("startAt") or 0)
            limit = max(1, min(int(source.get("maxResults") or 50), SEARCH_PAGE_LIMIT))
            fields = csv_values(source.get("fields"))
            page = matching[start:start + limit]
            return jsonify({"startAt": start, "maxResults": limit, "total": len(matching),
                            "issues": [Renderer(state, request.host_url, version, in_search=True).issue(
                                i, fields, csv_values(source.get("expand")) or [], csv_values(source.get("properties")) or []) for i in page]})


    return api
