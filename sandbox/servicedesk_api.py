"""The JSM servicedeskapi subset: organisations and request comments (public or internal)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from jsm_autopilot.sandbox.render import Renderer, jira_time, text_of
from jsm_autopilot.sandbox.state import SandboxError, SandboxState


def blueprint(state: SandboxState) -> Blueprint:
    api = Blueprint("servicedesk", __name__)

    def paged(values: list, start: int, limit: int) -> dict:
        page = values[start:start + limit]
        return {"size": len(page), "start": start, "limit": limit, "isLastPage": start + limit >= len(values),
                "values": page, "_links": {"base": request.host_url.rstrip("/"), "context": ""}}

    @api.get("/rest/servicedeskapi/organization")
    def list_organisations():
        start = int(request.args.get("start", 0))
        limit = int(request.args.get("limit", 50))
        with state.lock:
            r = Renderer(state, request.host_url, "3")
            return jsonify(paged([r.organisation(o) for o in state.organisations.values()], start, limit))

    @api.post("/rest/servicedeskapi/organization")
    def create_organisation():
        body = request.get_json(silent=True)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise SandboxError(400, "The organization name must not be empty.", jsm=True)
        with state.lock:
            if any(o["name"] == name for o in state.organisations.values()):
                raise SandboxError(400, f"An organization with name '{name}' already exists.", jsm=True)
            organisation_id = state.next_id()
            state.organisations[organisation_id] = {"id": organisation_id, "name": name}
            return jsonify(Renderer(state, request.host_url, "3").organisation(state.organisations[organisation_id])), 201

    def jsm_user(user) -> dict:
        # servicedeskapi's UserDTO, a different shape from the platform's user.
        return {"accountId": user.account_id, "emailAddress": user.email, "displayName": user.display_name,
                "active": True, "timeZone": "UTC", "_links": {"self": f"{request.host_url}rest/api/3/user?accountId={user.account_id}"}}

    def request_comment(issue, comment) -> dict:
        return {"id": str(comment.id), "body": comment.text, "public": comment.public,
                "author": jsm_user(comment.author),
                "created": {"iso8601": jira_time(comment.created), "jira": jira_time(comment.created),
                            "friendly": jira_time(comment.created), "epochMillis": int(comment.created.timestamp() * 1000)},
                "_links": {"self": f"{request.host_url}rest/servicedeskapi/request/{issue.id}/comment/{comment.id}"}}

    def participants_field() -> str | None:
        return state.settings.fields.request_participants if state.settings is not None else None

    def visible_request(key: str):
        try:
            issue = state.issue(key)
        except SandboxError as missing:
            raise SandboxError(404, missing.message, jsm=True) from None
        if not state.may_see_request(g.user, issue, participants_field()):
            raise SandboxError(404, "The request does not exist or you do not have permission to see it.", jsm=True)
        return issue

    @api.post("/rest/servicedeskapi/customer")
    def create_customer():
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
        if not isinstance(email, str) or "@" not in email:
            raise SandboxError(400, "A customer needs an email address.", jsm=True)
        with state.lock:
            if email.strip().lower() in state.users_by_email:
                raise SandboxError(400, f"An account already exists for this email: {email}", jsm=True)
            user = state.user(email, body.get("displayName"), account_type="customer")
            return jsonify(jsm_user(user)), 201

    @api.route("/rest/servicedeskapi/organization/<int:organisation_id>/user", methods=["GET", "POST"])
    def organisation_users(organisation_id):
        with state.lock:
            organisation = state.organisations.get(organisation_id)
            if organisation is None:
                raise SandboxError(404, "The organization does not exist.", jsm=True)
            members = organisation.setdefault("members", set())
            if request.method == "POST":
                body = request.get_json(silent=True) or {}
                for account_id in body.get("accountIds") or []:
                    if account_id not in state.users_by_id:
                        raise SandboxError(400, f"No user with accountId {account_id}.", jsm=True)
                    members.add(account_id)
                return Response(status=204)
            users = [jsm_user(state.users_by_id[a]) for a in sorted(members)]
            return jsonify(paged(users, int(request.args.get("start", 0)), int(request.args.get("limit", 50))))

    # -- service desks, request types and customer requests ----------------------------------

    def desk_or_404(desk_id: str) -> None:
        if desk_id != state.service_desk_id:
            raise SandboxError(404, "The service desk does not exist.", jsm=True)

    @api.get("/rest/servicedeskapi/servicedesk")
    def list_service_desks():
        desk = {"id": state.service_desk_id, "projectId": "10000", "projectKey": state.project_key,
                "projectName": f"{state.project_key} Service Desk", "_links": {"self": f"{request.host_url}rest/servicedeskapi/servicedesk/1"}}
        return jsonify(paged([desk], int(request.args.get("start", 0)), int(request.args.get("limit", 50))))

    def request_type_view(type_id: str) -> dict:
        chosen = state.request_types[type_id]
        return {"id": type_id, "name": chosen["name"], "description": "", "helpText": "", "serviceDeskId": state.service_desk_id,
                "issueTypeId": str(10000 + list(state.request_types).index(type_id)), "groupIds": [],
                "_links": {"self": f"{request.host_url}rest/servicedeskapi/servicedesk/1/requesttype/{type_id}"}}

    @api.get("/rest/servicedeskapi/servicedesk/<desk_id>/requesttype")
    def list_request_types(desk_id):
        desk_or_404(desk_id)
        query = (request.args.get("searchQuery") or "").lower()
        with state.lock:
            found = [request_type_view(i) for i, t in state.request_types.items() if query in t["name"].lower()]
        return jsonify(paged(found, int(request.args.get("start", 0)), int(request.args.get("limit", 50))))

    def customer_request(issue) -> dict:
        r = Renderer(state, request.host_url, "3")
        type_id = state.request_type_named(issue.request_type)
        created = {"iso8601": jira_time(issue.created), "jira": jira_time(issue.created),
                   "friendly": jira_time(issue.created), "epochMillis": int(issue.created.timestamp() * 1000)}
        category = r.status(issue.status)["statusCategory"]["key"].upper()
        return {"issueId": str(issue.id), "issueKey": issue.key, "requestTypeId": type_id, "serviceDeskId": state.service_desk_id,
                "createdDate": created, "reporter": jsm_user(issue.reporter),
                "requestFieldValues": [{"fieldId": "summary", "label": "Summary", "value": issue.summary}],
                "currentStatus": {"status": issue.status, "statusCategory": category, "statusDate": created},
                "_links": {"self": f"{request.host_url}rest/servicedeskapi/request/{issue.id}",
                           "web": f"{request.host_url}servicedesk/customer/portal/1/{issue.key}"}}

    @api.post("/rest/servicedeskapi/request")
    def create_customer_request():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise SandboxError(400, "The request body is not valid.", jsm=True)
        with state.lock:
            desk_or_404(str(body.get("serviceDeskId")))
            type_id = str(body.get("requestTypeId"))
            if type_id not in state.request_types:
                raise SandboxError(400, f"The request type '{type_id}' does not exist.", jsm=True)
            values = body.get("requestFieldValues") or {}
            # Only the fields on the request type's form can be given (here: summary and description).
            unknown = [name for name in values if name not in ("summary", "description")]
            if unknown:
                raise SandboxError(400, f"The field(s) {', '.join(unknown)} are not valid for this request type.", jsm=True)
            if not str(values.get("summary") or "").strip():
                raise SandboxError(400, "The field 'summary' is required.", jsm=True)
            reporter = g.user
            if body.get("raiseOnBehalfOf"):
                reporter = state.users_by_id.get(str(body["raiseOnBehalfOf"])) or state.user(str(body["raiseOnBehalfOf"]), account_type="customer")
            chosen = state.request_types[type_id]
            issue = state.create_issue(reporter, chosen["issue_type"], str(values["summary"]))
            issue.request_type = chosen["name"]
            description = values.get("description")
            if description:
                issue.description = description if isinstance(description, str) else text_of(description)
                issue.description_document = description if isinstance(description, dict) else None
            return jsonify(customer_request(issue)), 201

    @api.get("/rest/servicedeskapi/request")
    def list_customer_requests():
        """What the caller may see on the portal: for a customer, their own requests, those they take
        part in and those shared with their organisations; never an issue without a request type."""
        ownership = request.args.get("requestOwnership", "ALL_REQUESTS")
        with state.lock:
            participants_field_id = participants_field()
            visible = [i for i in state.issues.values() if i.project in ("", state.project_key) and i.request_type is not None
                       and state.may_see_request(g.user, i, participants_field_id)]
            if ownership == "OWNED_REQUESTS":
                visible = [i for i in visible if i.reporter is g.user]
            found = [customer_request(i) for i in sorted(visible, key=lambda i: i.id)]
        return jsonify(paged(found, int(request.args.get("start", 0)), int(request.args.get("limit", 50))))

    @api.get("/rest/servicedeskapi/request/<key>")
    def get_customer_request(key):
        with state.lock:
            issue = visible_request(key)
            if issue.request_type is None and g.user.account_type != "customer":
                raise SandboxError(404, "The request does not exist: the issue has no request type.", jsm=True)
            return jsonify(customer_request(issue))

    @api.post("/rest/servicedeskapi/request/<key>/comment")
    def add_request_comment(key):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise SandboxError(400, "The comment body must not be empty.", jsm=True)
        public = body.get("public", True) is not False
        with state.lock:
            issue = visible_request(key)
            if not public and g.user.account_type == "customer":
                raise SandboxError(403, "Customers cannot add internal comments.", jsm=True)
            properties = {} if public else {"sd.public.comment": {"internal": True}}
            comment = state.add_comment(issue, g.user, body["body"], public, properties)
            return jsonify(request_comment(issue, comment)), 201

    @api.get("/rest/servicedeskapi/request/<key>/comment")
    def list_request_comments(key):
        want_public = request.args.get("public", "true") != "false"
        want_internal = request.args.get("internal", "true") != "false"
        with state.lock:
            issue = visible_request(key)
            if g.user.account_type == "customer":
                want_internal = False  # customers never see internal comments
            chosen = [request_comment(issue, c) for c in issue.comments if (c.public and want_public) or (not c.public and want_internal)]
            return jsonify(paged(chosen, int(request.args.get("start", 0)), int(request.args.get("limit", 50))))

    return api
