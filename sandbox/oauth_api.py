"""Signing in through Atlassian as the console does: OAuth 2.0 (3LO) for Cloud, and the groups a user
belongs to. Strict where Atlassian is (sources in sandbox/REAL_JIRA.md, "Signing in"):

- `/authorize` (auth.atlassian.com): an unknown client, a `redirect_uri` that is not exactly the
  app's callback URL, `response_type` other than `code`, or a scope the app was not given, get an
  error page and no redirect; after the user signs in and accepts, the redirect carries `code` and
  the `state` sent, unchanged (the client, not Atlassian, must check it).
- `/oauth/token`: a code works once, for 10 minutes of the sandbox's clock, for the client it was
  issued to and with the same `redirect_uri`; otherwise 400 (`invalid_grant`, or `invalid_request`
  "authorization_code is invalid" for an expired code, as observed), and 401 `invalid_client` for a
  wrong secret. Atlassian's examples send JSON; RFC 6749 says form: both are taken.
- `/oauth/token/accessible-resources` (api.atlassian.com): the sites the grant covers.
- `/ex/jira/<cloudId>/rest/api/3/myself`: the user, with `expand=groups`; an access token lives one
  hour, and one without `read:jira-user` gets 401 "Unauthorized; scope does not match".

Data Center's own OAuth 2.0 provider (incoming application links), on a Data Center sandbox:
`/rest/oauth2/latest/authorize` and `/rest/oauth2/latest/token`, with the same checks, scopes READ,
WRITE, ADMIN and SYSTEM_ADMIN, PKCE (S256) enforced when the authorisation sent a challenge, and
codes that live 10 seconds (the default of `atlassian.oauth2.provider.max.client.delay.seconds`);
its access tokens (one hour) are taken by the REST API as `Authorization: Bearer`.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

if TYPE_CHECKING:
    from jsm_autopilot.sandbox.state import SandboxState, User

CODE_LIFETIME = timedelta(minutes=10)  # Atlassian staff: "will expire after 10 mins (and maybe less)"
DATA_CENTER_CODE_LIFETIME = timedelta(seconds=10)  # "OAuth 2.0 provider system properties": max.client.delay.seconds
DATA_CENTER_SCOPES = {"READ", "WRITE", "ADMIN", "SYSTEM_ADMIN"}
TOKEN_LIFETIME = timedelta(hours=1)  # Atlassian staff: an access token "expires after 1 hour"
CLOUD_ID = "0d0c5a6e-5a1e-4b5b-9d4c-5a6d0b0c5a6e"
GROUPS_SCOPES = ({"read:jira-user"}, {"read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"})


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    callback_url: str
    scopes: set[str]
    data_center: bool = False  # an incoming application link of Jira Data Center, not developer.atlassian.com


@dataclass
class Grant:
    client_id: str
    user: User
    redirect_uri: str
    scopes: set[str]
    issued: datetime
    used: bool = False
    tokens: list[str] = field(default_factory=list)
    challenge: str | None = None  # PKCE: BASE64URL(SHA256(code_verifier)), Data Center


@dataclass
class AccessToken:
    user: User
    scopes: set[str]
    expires: datetime
    data_center: bool = False


@dataclass
class SignIn:
    """The sandbox's side of signing in: OAuth apps, codes and tokens, and groups."""

    apps: dict[str, OAuthApp] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    # name -> (groupId, accountIds of members)
    groups: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    # The other sites a grant covers (Atlassian: one grant per app and account, sites added to it),
    # listed in no order; and whether the grant covers this sandbox's own site at all.
    other_sites: list[dict] = field(default_factory=lambda: [
        {"id": "7c1d0b8e-2f4a-4e3b-9a61-0d2c3b4a5e6f", "name": "another-site", "url": "https://another-site.atlassian.net"}])
    grants_own_site: bool = True

    def data_center_user(self, token: str, now: datetime) -> "User | None":
        found = self.tokens.get(token)
        return found.user if found is not None and now < found.expires and found.data_center else None

    def groups_of(self, user: User) -> list[tuple[str, str]]:
        return sorted((name, group_id) for name, (group_id, members) in self.groups.items() if user.account_id in members)


def _challenge_of(verifier: str) -> str:
    """PKCE S256: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), without padding (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest()).rstrip(b"=").decode()


def groups_json(state: SandboxState, user: User, base_url: str, version: str) -> dict:
    """`User.groups` as Jira shows it with expand=groups: Cloud items carry groupId, Data Center's do not."""
    items = []
    for name, group_id in state.sign_in.groups_of(user):
        item = {"name": name, "self": f"{base_url}/rest/api/{version}/group?groupname={name}"}
        if state.deployment == "cloud":
            item = {"name": name, "groupId": group_id, "self": f"{base_url}/rest/api/{version}/group?groupId={group_id}"}
        items.append(item)
    return {"size": len(items), "items": items}


def blueprint(state: SandboxState) -> Blueprint:
    from jsm_autopilot.sandbox.render import Renderer

    api = Blueprint("sandbox_oauth", __name__)
    sign_in = state.sign_in

    def refused(message: str, status: int = 400) -> Response:
        return Response(f"<!doctype html><title>Something went wrong</title><h1>Something went wrong</h1><p>{escape(message)}</p>",
                        status=status, mimetype="text/html")

    @api.route("/authorize", methods=["GET", "POST"], defaults={"data_center": False})
    @api.route("/rest/oauth2/latest/authorize", methods=["GET", "POST"], defaults={"data_center": True})
    def authorize(data_center: bool):
        given = request.values
        app = sign_in.apps.get(given.get("client_id", ""))
        if data_center != (state.deployment != "cloud"):
            return refused("Not found.", 404)
        if app is None or app.data_center != data_center:
            return refused("Invalid client_id: no app with this client ID.")
        challenge = given.get("code_challenge")
        if data_center and challenge is not None and given.get("code_challenge_method") != "S256":
            return refused("Unsupported code_challenge_method: use S256.")
        if given.get("redirect_uri") != app.callback_url:
            return refused("The redirect_uri does not match the callback URL configured for this app.")
        if given.get("response_type") != "code":
            return refused("Unsupported response_type: use code.")
        if not data_center and given.get("audience") != "api.atlassian.com":
            return refused("audience: api.atlassian.com is required for Jira's APIs.")
        scopes = set((given.get("scope") or "").split())
        if not scopes or not scopes <= app.scopes:
            return refused("The app asked for a scope it has not been given in the developer console.")
        if request.method == "GET":
            hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in given.items())
            return Response(
                "<!doctype html><html lang=en><title>Log in to continue</title><main><h1>Log in to continue</h1>"
                f'<form method="post">{hidden}<label>Email <input name="email" type="email" autocomplete="username"></label>'
                f"<p>The app asks for: {escape(' '.join(sorted(scopes)))}</p>"
                '<button name="decision" value="accept">Accept</button> <button name="decision" value="deny">Deny</button>'
                "</form></main></html>", mimetype="text/html")
        back = {"state": given["state"]} if "state" in given else {}
        if given.get("decision") != "accept":
            return Response(status=302, headers={"Location": f"{app.callback_url}?{urlencode({'error': 'access_denied', **back})}"})
        email = (given.get("email") or "").strip().lower()
        with state.lock:
            user = state.users_by_email.get(email)
            if user is None or user.account_type != "atlassian":
                return refused("Incorrect email address or password.", 401)
            code = secrets.token_urlsafe(24)
            sign_in.codes[code] = Grant(app.client_id, user, app.callback_url, scopes, state.now, challenge=challenge)
        return Response(status=302, headers={"Location": f"{app.callback_url}?{urlencode({'code': code, **back})}"})

    @api.post("/oauth/token", defaults={"data_center": False})
    @api.post("/rest/oauth2/latest/token", defaults={"data_center": True})
    def token(data_center: bool):
        if data_center != (state.deployment != "cloud"):
            return jsonify({"error": "not_found"}), 404
        body = request.get_json(silent=True) if request.is_json else {**request.args.to_dict(), **request.form.to_dict()}
        body = body if isinstance(body, dict) else {}
        if body.get("grant_type") != "authorization_code":
            return jsonify({"error": "unsupported_grant_type"}), 400
        app = sign_in.apps.get(str(body.get("client_id", "")))
        if app is None or not secrets.compare_digest(str(body.get("client_secret", "")), app.client_secret):
            return jsonify({"error": "invalid_client", "error_description": "Unauthorized"}), 401
        with state.lock:
            grant = sign_in.codes.get(str(body.get("code", "")))
            if grant is None or grant.client_id != app.client_id:
                return jsonify({"error": "invalid_grant", "error_description": "Invalid authorization code"}), 400
            if grant.used:
                # RFC 6749 4.1.2: a code used twice is refused, and what it gave is revoked.
                for issued in grant.tokens:
                    sign_in.tokens.pop(issued, None)
                return jsonify({"error": "invalid_grant", "error_description": "Invalid authorization code"}), 400
            grant.used = True
            if state.now - grant.issued > (DATA_CENTER_CODE_LIFETIME if data_center else CODE_LIFETIME):
                return jsonify({"error": "invalid_request", "error_description": "authorization_code is invalid"}), 400
            if body.get("redirect_uri") != grant.redirect_uri:
                return jsonify({"error": "invalid_grant", "error_description": "redirect_uri does not match"}), 400
            if grant.challenge is not None and _challenge_of(str(body.get("code_verifier") or "")) != grant.challenge:
                return jsonify({"error": "invalid_grant", "error_description": "code_verifier does not match"}), 400
            access = secrets.token_urlsafe(32)
            sign_in.tokens[access] = AccessToken(grant.user, grant.scopes, state.now + TOKEN_LIFETIME, data_center)
            grant.tokens.append(access)
        return jsonify({"access_token": access, "expires_in": int(TOKEN_LIFETIME.total_seconds()), "token_type": "Bearer",
                        "scope": " ".join(sorted(grant.scopes))})

    def bearer() -> AccessToken | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        found = sign_in.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        return found if found is not None and state.now < found.expires else None

    @api.get("/oauth/token/accessible-resources")
    def accessible_resources():
        found = bearer()
        if found is None:
            return jsonify({"code": 401, "message": "Unauthorized"}), 401
        sites = [{**site, "scopes": sorted(found.scopes), "avatarUrl": ""} for site in sign_in.other_sites]
        if sign_in.grants_own_site:
            sites.append({"id": CLOUD_ID, "name": "jsm-autopilot sandbox", "url": request.host_url.rstrip("/"),
                          "scopes": sorted(found.scopes), "avatarUrl": ""})
        random.shuffle(sites)  # "not given in any order"
        return jsonify(sites)

    @api.get("/ex/jira/<cloud_id>/rest/api/3/myself")
    def myself(cloud_id: str):
        if cloud_id != CLOUD_ID:
            return jsonify({"code": 404, "message": "Not Found"}), 404
        found = bearer()
        if found is None:
            return jsonify({"code": 401, "message": "Unauthorized"}), 401
        if not any(needed <= found.scopes for needed in GROUPS_SCOPES):
            return jsonify({"code": 401, "message": "Unauthorized; scope does not match"}), 401
        with state.lock:
            shown = Renderer(state, request.host_url, "3").user(found.user)
            if "groups" in (request.args.get("expand") or "").split(","):
                shown["groups"] = groups_json(state, found.user, request.host_url.rstrip("/"), "3")
        return jsonify(shown)

    @api.post("/_sandbox/oauth/apps")
    def register_app():
        body = request.get_json(silent=True) or {}
        data_center = state.deployment != "cloud"
        default_scopes = ["READ"] if data_center else ["read:me", "read:jira-user"]
        app = OAuthApp(str(body.get("client_id") or uuid.uuid4().hex), str(body.get("client_secret") or secrets.token_urlsafe(24)),
                       str(body["callback_url"]), set(body.get("scopes") or default_scopes), data_center)
        sign_in.apps[app.client_id] = app
        return jsonify({"client_id": app.client_id, "client_secret": app.client_secret, "cloud_id": CLOUD_ID}), 201

    @api.post("/_sandbox/oauth/grant")
    def set_grant():
        """{"own_site": false}: grants cover only other sites, as when a person picks another site at consent."""
        sign_in.grants_own_site = bool((request.get_json(silent=True) or {}).get("own_site", True))
        return jsonify({"own_site": sign_in.grants_own_site})

    @api.post("/_sandbox/groups")
    def set_group():
        """{"name": "jira-administrators", "members": ["ann@example.com", ...]}: the group, with these members."""
        body = request.get_json(silent=True) or {}
        with state.lock:
            name = str(body["name"])
            group_id = sign_in.groups.get(name, (str(uuid.uuid4()), set()))[0]
            sign_in.groups[name] = (group_id, {state.user(str(email)).account_id for email in body.get("members") or []})
        return jsonify({"name": name, "groupId": group_id}), 200

    return api
