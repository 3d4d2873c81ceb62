"""The sandbox's HTTP face: a Flask app that answers like a Jira Cloud (v3) or Data Center (v2) site
with one JSM project, for the REST subset jsm-autopilot uses, plus `/_sandbox/` controls."""

from __future__ import annotations

import base64
import threading
from datetime import datetime

from flask import Flask, Response, g, jsonify, request

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.sandbox import admin_api, html, oauth_api, ops_api, platform_api, search_api, servicedesk_api
from jsm_autopilot.sandbox.state import SandboxError, SandboxState

# Jira has applied writes minutes after its gateway gave up on them (issue 37): late writes may be
# held up to 15 minutes.
LATE_WRITE_CAP = 900

def _authenticated_user(state: SandboxState):
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            email, _, token = base64.b64decode(credentials).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        # Jira Cloud: HTTP Basic with the account's e-mail and an API token; Data Center: the
        # user name and password (the sandbox's user names are e-mail addresses).
        if email in state.revoked_credentials:
            return None  # its token was revoked: 401, as Jira answers
        return state.user(email) if "@" in email and token else None
    if scheme.lower() == "bearer" and credentials in state.personal_access_tokens:
        return state.user(state.personal_access_tokens[credentials])
    if scheme.lower() == "bearer" and state.deployment != "cloud":
        # An access token of Jira's own OAuth 2.0 provider (Data Center), while it lives.
        return state.sign_in.data_center_user(credentials, state.now)
    return None


def create_app(state: SandboxState, settings: Settings | None = None) -> Flask:
    app = Flask("jsm-sandbox")
    app.config["SANDBOX_STATE"] = state
    app.json.sort_keys = False

    @app.before_request
    def _authenticate_and_maybe_fail():
        # The OAuth 2.0 provider's pages are for browsers and clients without a session (Data Center).
        if not request.path.startswith("/rest/") or request.path.startswith("/rest/oauth2/"):
            return None
        with state.lock:
            user = _authenticated_user(state)
            if user is None:
                return _error(SandboxError(401, "Client must be authenticated to access this resource."))
            g.user = user
            state.in_flight += 1
            state.most_in_flight = max(state.most_in_flight, state.in_flight)
            g.counted = True
            aimed = any(part in request.path for part in state.fault_paths) and request.method in state.fault_methods
            fault = state.should_fail() if aimed else None
            writes = request.method in ("POST", "PUT", "DELETE") and "/search" not in request.path  # a POST search reads
            late = writes and state.late_writes > 0 and fault is None
            if late:
                state.late_writes -= 1
                state.late_pending += 1
                g.late = True
        if late:
            # Outside the lock: the client times out meanwhile; then the write lands as usual
            # (or, held, when the test releases it: minutes later, without minutes of waiting).
            if state.late_hold:
                state.late_release.wait(LATE_WRITE_CAP)
            else:
                threading.Event().wait(state.late_delay)
        if state.latency > 0:
            threading.Event().wait(state.latency)  # a site across the ocean: every call takes this long
        if fault is not None:
            # Like Jira's gateway: refused before anything is applied.
            response = jsonify({"errorMessages": ["Rate limit exceeded." if fault == 429 else "Service unavailable."], "errors": {}})
            response.status_code = fault
            response.headers["Retry-After"] = "1"
            response.headers["X-Sandbox-Fault"] = "injected"
            if fault == 429:
                response.headers["RateLimit-Reason"] = "jira-burst-based"
            return response
        return None

    @app.teardown_request
    def _late_write_landed(error=None) -> None:
        if g.get("late") or g.get("counted"):
            with state.lock:
                state.late_pending -= 1 if g.get("late") else 0
                state.in_flight -= 1 if g.get("counted") else 0

    @app.after_request
    def _log_request(response: Response) -> Response:
        if request.path.startswith("/rest/"):
            with state.lock:
                state.requests.append({"method": request.method, "path": request.path, "status": response.status_code})
        return response

    @app.post("/rest/pat/latest/tokens")
    def create_personal_access_token():
        """Data Center's own way to make a PAT: Basic auth as the user, the raw token in the answer
        (Atlassian, "Using Personal Access Tokens": POST /rest/pat/latest/tokens, `rawToken`)."""
        if state.deployment == "cloud":
            return _error(SandboxError(404, "null for uri: " + request.path))
        if not request.headers.get("Authorization", "").lower().startswith("basic "):
            return _error(SandboxError(401, "Personal access tokens are created with the user's password."))
        body = request.get_json(silent=True) or {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            return _error(SandboxError(400, "", {"name": "A token needs a name."}))
        with state.lock:
            token_id = state.next_id()
            raw = base64.urlsafe_b64encode(f"pat-{token_id}-{g.user.account_id}".encode()).decode().rstrip("=")
            state.personal_access_tokens[raw] = g.user.email
            created = state.now
        days = body.get("expirationDuration")
        answer = {"id": token_id, "name": name, "createdAt": created.isoformat(timespec="milliseconds"), "rawToken": raw}
        if isinstance(days, int):
            from datetime import timedelta

            answer["expiringAt"] = (created + timedelta(days=days)).isoformat(timespec="milliseconds")
        return jsonify(answer), 201

    @app.errorhandler(SandboxError)
    def _sandbox_error(error: SandboxError):
        return _error(error)

    app.register_blueprint(platform_api.blueprint(state))
    app.register_blueprint(search_api.blueprint(state))
    app.register_blueprint(servicedesk_api.blueprint(state))
    app.register_blueprint(html.blueprint(state))
    app.register_blueprint(ops_api.blueprint(state))
    app.register_blueprint(oauth_api.blueprint(state))
    if settings is not None:
        app.register_blueprint(admin_api.blueprint(state, settings))
    _register_controls(app, state)
    return app


def _error(error: SandboxError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    return response


def _register_controls(app: Flask, state: SandboxState) -> None:
    @app.post("/_sandbox/clock")
    def set_clock():
        body = request.get_json(silent=True) or {}
        try:
            now = datetime.fromisoformat(str(body.get("now")))
        except ValueError:
            return jsonify({"error": "now: expected an ISO-8601 date-time with a zone"}), 400
        if now.tzinfo is None:
            return jsonify({"error": "now: give a time zone"}), 400
        with state.lock:
            state.now = now
        return jsonify({"now": now.isoformat()})

    @app.post("/_sandbox/faults")
    def set_faults():
        body = request.get_json(silent=True) or {}
        rate = body.get("rate", 0)
        statuses = body.get("statuses", [429, 503])
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            return jsonify({"error": "rate: a number from 0 to 1"}), 400
        if not statuses or not all(isinstance(s, int) and 400 <= s <= 599 for s in statuses):
            return jsonify({"error": "statuses: a list of HTTP error statuses"}), 400
        paths = body.get("paths", [""])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return jsonify({"error": "paths: a list of parts of a path (faults hit only those requests)"}), 400
        methods = body.get("methods", ["GET", "POST", "PUT", "DELETE"])
        if not isinstance(methods, list) or not set(methods) <= {"GET", "POST", "PUT", "DELETE"}:
            return jsonify({"error": "methods: a list of GET, POST, PUT, DELETE"}), 400
        latency_ms = body.get("latency_ms", 0)
        if not isinstance(latency_ms, (int, float)) or not 0 <= latency_ms <= 10_000:
            return jsonify({"error": "latency_ms: milliseconds from 0 to 10000"}), 400
        late = body.get("late_writes", {"count": 0, "delay": 0})
        if not isinstance(late, dict) or not isinstance(late.get("count"), int) or not isinstance(late.get("delay", 0), (int, float)) \
                or late["count"] < 0 or not 0 <= late.get("delay", 0) <= LATE_WRITE_CAP or not isinstance(late.get("hold", False), bool):
            return jsonify({"error": f"late_writes: {{count: n >= 0, delay: seconds up to {LATE_WRITE_CAP}, hold: true to wait for "
                                     "POST /_sandbox/late/release}"}), 400
        with state.lock:
            state.fault_rate, state.fault_statuses = float(rate), list(statuses)
            state.late_writes, state.late_delay = late["count"], float(late.get("delay", 0))
            state.late_hold = late.get("hold", False)
            if state.late_hold:
                state.late_release = threading.Event()
            state.fault_paths, state.fault_methods = list(paths), set(methods)
            state.latency = latency_ms / 1000
        return jsonify({"rate": rate, "statuses": statuses, "late_writes": late})

    @app.post("/_sandbox/credentials")
    def revoke_credentials():
        """`{"revoked": [e-mail, ...]}`: those accounts' tokens are refused (401) until listed no more."""
        body = request.get_json(silent=True) or {}
        revoked = body.get("revoked")
        if not isinstance(revoked, list) or not all(isinstance(r, str) for r in revoked):
            return jsonify({"error": "revoked: a list of e-mail addresses"}), 400
        with state.lock:
            state.revoked_credentials = set(revoked)
        return jsonify({"revoked": sorted(revoked)})

    @app.post("/_sandbox/late/release")
    def release_late_writes():
        """Held late writes land now (late_writes with hold: true)."""
        with state.lock:
            state.late_release.set()
            return jsonify({"released": state.late_pending})

    @app.get("/_sandbox/late")
    def late_writes():
        """Writes still held back by the late-write fault (a test waits for them to land)."""
        with state.lock:
            return jsonify({"waiting": state.late_writes, "pending": state.late_pending})

    @app.get("/_sandbox/load")
    def load():
        """REST calls being served now, and the most at once since the sandbox started."""
        with state.lock:
            return jsonify({"in_flight": state.in_flight, "most_in_flight": state.most_in_flight})

    @app.get("/_sandbox/requests")
    def list_requests():
        with state.lock:
            return jsonify({"requests": list(state.requests)})

    @app.delete("/_sandbox/requests")
    def clear_requests():
        with state.lock:
            state.requests.clear()
        return Response(status=204)

    @app.route("/_sandbox/webhooks", methods=["GET", "POST"])
    def webhooks():
        if request.method == "POST":
            body = request.get_json(silent=True) or {}
            url, secret = body.get("url"), body.get("secret")
            if url is not None and not str(url).startswith(("http://", "https://")):
                return jsonify({"error": "url: an http(s) address"}), 400
            state.webhooks.configure(url, secret.encode() if secret else None)
        sender = state.webhooks
        return jsonify({"url": sender.url, "sent": sender.sent, "failed": sender.failed, "pending": sender.pending})

    @app.post("/_sandbox/seed")
    def seed():
        from jsm_autopilot.sandbox.seed import apply_seed

        with state.lock:
            created = apply_seed(state, request.get_json(silent=True) or {})
        return jsonify({"issues": created}), 201
