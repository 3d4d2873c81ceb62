"""The console's Flask blueprint: signing in through Jira, and the pages behind it.

No user database of our own: who someone is and which Jira groups they are in comes from Jira at
sign-in (console/sign_in.py); the session cookie is signed, HttpOnly, Secure and SameSite=Lax and
ends after `console.session_minutes`. Every form carries a CSRF token (Flask-WTF); every page is
sent with a strict Content-Security-Policy and renders what customers wrote escaped (Jinja).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import wraps
from typing import Callable, Mapping
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from jsm_autopilot.config.settings import Settings
from jsm_autopilot.connector.client import JiraClient
from jsm_autopilot.connector.deliveries import (
    DeliveryRequest,
    DeliveryResult,
    Waiting,
    open_deliveries,
    waiting_for_delivery,
)
from jsm_autopilot.connector.reading import read_ticket
from jsm_autopilot.console import sign_in
from jsm_autopilot.console.charts import firings_per_day
from jsm_autopilot.console.labels import labels_for
from jsm_autopilot.console.roles import ADMIN, RELEASE_MANAGER, roles_of
from jsm_autopilot.errors import (
    DeliveryRequestError,
    DeliveryUncertain,
    JiraError,
    ServiceConfigurationError,
    SignInRefused,
    StoreUnavailable,
    TicketBusy,
)
from jsm_autopilot.rules.actions import FieldChange, Table
from jsm_autopilot.rules.catalogue import RULES
from jsm_autopilot.rules.overrides import RuleOverride
from jsm_autopilot.rules.verdicts import verdicts
from jsm_autopilot.store.audit import AuditTrail
from jsm_autopilot.store.event_store import EventStore
from jsm_autopilot.store.rule_overrides import RuleOverrides
from jsm_autopilot.store.schedule import TicketSchedule
from jsm_autopilot.store.shadow_firings import ShadowFirings
from jsm_autopilot.webhooks.delivery import ISSUE_KEY

SESSION_KEY_VARIABLE = "JSM_AUTOPILOT_CONSOLE_SESSION_KEY"
# Scripts, styles and images from the console itself only; no inline script, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
RULE_ACTIONS = ("off", "on", "shadow", "live", "reset")
CHART_DAYS = 30
AUDIT_ROWS = 500
AUDIT_OUTCOMES = ("applied", "partial", "failed", "skipped", "uncertain")
DEAD_LETTER_ROWS = 200
SHADOW_ROWS = 500
CHANGED_BY_MAX = 200  # the store's column


@dataclass
class ConsoleContext:
    """What the console reads and changes in the running service."""

    settings: Callable[[], Settings]  # in force: app.yaml with the overrides
    base_settings: Callable[[], Settings]  # app.yaml alone
    store: EventStore
    client: JiraClient
    readiness: Callable[[], list[str]]  # why the service cannot work now; empty: ready
    rules_changed: Callable[[], None]  # apply the overrides now rather than at the next sweep
    deliver: Callable[[DeliveryRequest, bool], DeliveryResult]  # create or refresh (True: a dry run)
    # The overrides in force (those a store lost included) and the rules whose override it lost.
    overrides_in_force: Callable[[], Mapping[str, RuleOverride]] = dict
    lost_overrides: Callable[[], list[str]] = list
    recent_sweeps: Callable[[], list] = list  # this replica's latest sweeps, newest first (service.serve.SweepSummary)
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)


def cookie_path(public_url: str | None) -> str:
    """/console under the path the proxy serves the service at (https://host/autopilot -> /autopilot/console)."""
    prefix = urlsplit(public_url).path.rstrip("/") if public_url else ""
    return f"{prefix}/console"


def session_key(environ: Mapping[str, str] = os.environ) -> bytes:
    key = environ.get(SESSION_KEY_VARIABLE) or ""
    if len(key) < 32 or "replace-me" in key:
        raise ServiceConfigurationError(
            f"set {SESSION_KEY_VARIABLE} to a random secret of at least 32 characters (it signs the console's sessions; "
            "every replica needs the same), e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'", SESSION_KEY_VARIABLE)
    return key.encode()


def add_console(app: Flask, context: ConsoleContext, environ: Mapping[str, str] = os.environ) -> None:
    """Serve the console under /console/ on `app` (the service's own Flask app)."""
    settings = context.settings()
    app.config.update(
        SECRET_KEY=session_key(environ), SESSION_COOKIE_NAME="jsm_autopilot_console", SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_PATH=cookie_path(settings.console.public_url),
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.console.session_minutes),
        # Checked by the console's own requests only: the webhook receiver on the same app has its signatures.
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
    )
    csrf = CSRFProtect(app)
    jira_url = context.client.base_url.rstrip("/")
    signing_in = sign_in.SignInThroughJira(app, settings, jira_url, environ)
    console = Blueprint("console", __name__, url_prefix="/console", template_folder="templates", static_folder="static")

    @console.before_request
    def _protect() -> None:
        if not context.settings().console.enabled:
            abort(404)  # switched off by a reload of app.yaml: gone at once, sessions with it
        if request.method not in ("GET", "HEAD"):
            csrf.protect()

    @console.after_request
    def _headers(response):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @console.errorhandler(CSRFError)
    def _csrf_refused(error: CSRFError):
        return page("refused.html", 400, title=labels()["refused"], reason=labels()["csrf_refused"])

    def language() -> str:
        return request.accept_languages.best_match(["en", "de"]) or "en"

    def labels() -> dict[str, str]:
        return labels_for(language())

    def signed_in() -> dict | None:
        """The signed-in user with their roles by the groups app.yaml names now: a group taken out
        of console.admins takes its members' admin pages away at once, not at the session's end."""
        user = session.get("user")
        if not isinstance(user, dict) or datetime.fromisoformat(user["until"]) <= context.clock():
            return None
        current = context.settings().console
        roles = sorted(roles_of(user.get("groups") or [], current.admins, current.release_managers))
        return {**user, "roles": roles} if roles else None

    def page(template: str, status: int = 200, **values):
        return render_template(template, labels=labels(), language=language(), user=signed_in(), jira_url=jira_url,
                               **values), status

    def needs(role: str):
        def decorate(view):
            @wraps(view)
            def checked(*args, **kwargs):
                user = signed_in()
                if user is None:
                    return redirect(url_for("console.sign_in_page"))
                if role not in user["roles"]:
                    return page("refused.html", 403, title=labels()["refused"], reason=labels()["not_allowed"])
                return view(user, *args, **kwargs)
            return checked
        return decorate

    @console.get("/")
    def home():
        """The console's start: the overview for admins, the Delivery page for release managers."""
        user = signed_in()
        if user is None:
            return redirect(url_for("console.sign_in_page"))
        return redirect(url_for("console.overview" if ADMIN in user["roles"] else "console.deliveries"))

    @console.get("/sign-in")
    def sign_in_page():
        """The sign-in page: through Atlassian (OAuth 2.0) or with a personal access token."""
        return page("sign_in.html", mode=signing_in.mode)

    @console.get("/sign-in/atlassian")
    def sign_in_atlassian():
        """Starts the OAuth 2.0 sign-in: a redirect to Atlassian's (or the Data Center site's) consent page."""
        if signing_in.mode != "oauth":
            abort(404)
        return signing_in.start()

    @console.get("/signed-in")
    def oauth_callback():
        """Where the OAuth 2.0 sign-in comes back (the app's callback URL); refuses a state it did not start."""
        if signing_in.mode != "oauth":
            abort(404)
        return finish(signing_in.finish_oauth)

    @console.post("/sign-in/token")
    def sign_in_with_token():
        """Data Center: signs in with a personal access token, checked against GET /rest/api/2/myself."""
        return finish(lambda: signing_in.finish_token(request.form.get("token", "")))

    def finish(how: Callable[[], sign_in.JiraUser]):
        try:
            who = how()
        except SignInRefused as refused:
            return page("refused.html", refused.status, title=labels()["sign_in_failed"], reason=str(refused))
        current = context.settings().console
        roles = sorted(who.roles(current.admins, current.release_managers))
        if not roles:
            groups = ", ".join(current.admins + current.release_managers)
            return page("refused.html", 403, title=labels()["refused"],
                        reason=labels()["no_role"].format(name=who.display_name, groups=groups))
        session.clear()
        session.permanent = True
        until = context.clock() + timedelta(minutes=current.session_minutes)
        # Only the groups the console looks at: a cookie has room for a few kilobytes, not hundreds of groups.
        named = {group.casefold() for group in current.admins + current.release_managers}
        groups = sorted(group for group in who.groups if group.casefold() in named)
        session["user"] = {"name": who.display_name, "account": who.account, "groups": groups, "until": until.isoformat()}
        return redirect(url_for("console.home"))

    @console.post("/sign-out")
    def sign_out():
        """Ends the session."""
        session.clear()
        return redirect(url_for("console.sign_in_page"))

    @console.get("/me")
    def signed_in_as():
        """Who is signed in, with their roles."""
        user = signed_in()
        if user is None:
            return redirect(url_for("console.sign_in_page"))
        return page("me.html")

    @console.get("/rules")
    @needs(ADMIN)
    def rules(user):
        """Admins: every rule with its settings in words, its switches and the changes made in the console."""
        in_force, base = context.settings(), context.base_settings()
        # What is in force, lost overrides kept included: a button must act on what the rule does now.
        overrides, lost = context.overrides_in_force(), set(context.lost_overrides())
        try:
            history = RuleOverrides(context.store).history(limit=50)
        except StoreUnavailable as unavailable:
            return page("refused.html", 503, title=labels()["store_unavailable"], reason=str(unavailable))
        shown = [{
            "id": rule.id, "chapter": rule.chapter,
            "describe": rule.describe(in_force) if rule.describe else rule.summary,
            "enabled": in_force.is_enabled(rule.id), "shadow": in_force.is_shadow_only(rule.id),
            "yaml_enabled": base.is_enabled(rule.id), "yaml_shadow": base.is_shadow_only(rule.id),
            "override": overrides.get(rule.id), "lost": rule.id in lost,
        } for rule in RULES if rule.implemented]
        return page("rules.html", rules=shown, history=history, readiness=context.readiness())

    @console.post("/rules/<rule_id>")
    @needs(ADMIN)
    def change_rule(user, rule_id: str):
        """Admins: switch a rule off, on, shadow only or back to app.yaml (form field `action`)."""
        action = request.form.get("action", "")
        known = {rule.id for rule in RULES if rule.implemented}
        if rule_id not in known or action not in RULE_ACTIONS:
            abort(400)
        current = context.overrides_in_force().get(rule_id, RuleOverride(rule_id))
        enabled, shadow = wanted(action, current, context.base_settings(), rule_id)
        try:
            RuleOverrides(context.store).set(rule_id, enabled, shadow, f"{user['name']} ({user['account']})"[:CHANGED_BY_MAX],
                                             context.clock())
        except StoreUnavailable as unavailable:
            return page("refused.html", 503, title=labels()["store_unavailable"], reason=str(unavailable))
        context.rules_changed()
        return redirect(url_for("console.rules") + f"#{rule_id}")

    @console.get("/overview")
    @needs(ADMIN)
    def overview(user):
        """Admins: readiness, the last sweeps, firings per day and rule, dead letters, what is due next."""
        in_force = context.settings()
        now = context.clock()
        try:
            audit = AuditTrail(context.store).list(since=now - timedelta(days=CHART_DAYS + 1), limit=100_000)
            schedule = TicketSchedule(context.store)
            project = in_force.project.key
            sweeps = {"routine": schedule.mark_of(f"{project}:routine"), "full": schedule.mark_of(f"{project}:full")}
            upcoming = schedule.upcoming()
            dead_letters = context.store.counts().get("failed", 0)
            overrides = RuleOverrides(context.store).current()
        except StoreUnavailable as unavailable:
            return page("refused.html", 503, title=labels()["store_unavailable"], reason=str(unavailable))
        chart = firings_per_day(((f.at, f.rule) for f in audit), now.astimezone(in_force.project.zone).date(), CHART_DAYS,
                                in_force.project.zone)
        return page("overview.html", readiness=context.readiness(), sweeps=sweeps, recent=context.recent_sweeps(), upcoming=upcoming, dead_letters=dead_letters,
                    overrides=[o.describe() for o in overrides.values()], chart=chart, zone=in_force.project.zone)

    @console.get("/audit")
    @needs(ADMIN)
    def audit(user):
        """Admins: the firings, filtered by rule, ticket, outcome and day."""
        asked, problems = audit_filters(request.args, {rule.id for rule in RULES})
        try:
            found = [] if problems else AuditTrail(context.store).list(limit=AUDIT_ROWS, **asked)
        except StoreUnavailable as unavailable:
            return page("refused.html", 503, title=labels()["store_unavailable"], reason=str(unavailable))
        return page("audit.html", firings=found, asked=request.args, problems=problems, rules=[r.id for r in RULES if r.implemented],
                    outcomes=AUDIT_OUTCOMES, zone=context.settings().project.zone)

    @console.get("/why")
    @needs(ADMIN)
    def why(user):
        """Admins: `why KEY` for one ticket of the project (query `key`)."""
        key = (request.args.get("key") or "").strip().upper()
        in_force = context.settings()
        # Only this project's tickets: the service's account may see others the admin should not.
        if not ISSUE_KEY.fullmatch(key) or not key.startswith(in_force.project.key.upper() + "-"):
            return page("why.html", 400, key=key, problem=labels()["not_a_key"].format(project=in_force.project.key))
        try:
            _, ticket = read_ticket(context.client, in_force, key)
            now = context.client.server_time()
        except JiraError as error:
            return page("why.html", 502 if error.status is None or error.status >= 500 else 404, key=key,
                        problem=f"Jira: {error.answer[:300] or error.status}")
        return page("why.html", key=key, ticket=ticket, verdicts=verdicts(ticket, now, in_force), now=now)

    @console.get("/dead-letters")
    @needs(ADMIN)
    def dead_letters(user):
        """Admins: events that failed for good, with Jira's answer."""
        try:
            failed = context.store.list_events(failed_only=True, limit=DEAD_LETTER_ROWS)
        except StoreUnavailable as unavailable:
            return page("refused.html", 503, title=labels()["store_unavailable"], reason=str(unavailable))
        return page("dead_letters.html", events=failed, replayed=request.args.get("replayed"))

    @console.post("/dead-letters/replay")
    @needs(ADMIN)
    def replay(user):
        """Admins: put a dead letter back in the queue (form field `identifier`)."""
        identifier = request.form.get("identifier", "")
        try:
            event = context.store.find_event(identifier) if identifier else None
            if event is None or event.status != "failed":
                return page("refused.html", 404, title=labels()["refused"], reason=labels()["no_such_dead_letter"])
            context.store.replay(context.clock(), identifier=identifier)
        except StoreUnavailable as unavailable:
            return page("refused.html", 503, title=labels()["store_unavailable"], reason=str(unavailable))
        return redirect(url_for("console.dead_letters", replayed=identifier))

    @console.get("/shadow")
    @needs(ADMIN)
    def shadow(user):
        """Admins: what shadow-only rules (and serve --dry-run) would have done."""
        try:
            kept = ShadowFirings(context.store).list(SHADOW_ROWS)
        except StoreUnavailable as unavailable:
            return page("refused.html", 503, title=labels()["store_unavailable"], reason=str(unavailable))
        return page("shadow.html", firings=kept, zone=context.settings().project.zone)

    @console.get("/deliveries")
    @needs(RELEASE_MANAGER)
    def deliveries(user):
        """Release managers: what waits by organisation and version, and the open Delivery tickets."""
        return delivery_page(form=request.args)

    @console.post("/deliveries")
    @needs(RELEASE_MANAGER)
    def deliver(user):
        """Release managers: preview, or create or refresh, a Delivery ticket (form fields as `delivery create`'s)."""
        form = request.form
        action = form.get("action")
        if action not in ("preview", "create"):
            abort(400)
        in_force = context.settings()
        try:
            asked = DeliveryRequest.parse(delivery_fields(form), in_force)
        except DeliveryRequestError as refused:
            return delivery_page(form=form, problem=refused, status=400)
        try:
            waiting = waiting_for_delivery(context.client, in_force)
        except JiraError as error:
            return delivery_page(form=form, problem=f"Jira: {error}", status=502)
        count = waiting_count(waiting, asked.organisation, asked.version, in_force.deliveries.custom_marker)
        if count == 0 and form.get("confirm") != "yes":
            return delivery_page(form=form, confirm=True, waiting=waiting, status=409)
        try:
            result = context.deliver(asked, action == "preview")
        except DeliveryRequestError as refused:
            return delivery_page(form=form, problem=refused, status=400, waiting=waiting)
        except DeliveryUncertain as uncertain:
            return delivery_page(form=form, problem=str(uncertain), status=503, waiting=waiting)
        except TicketBusy as busy:
            return delivery_page(form=form, problem=f"{busy}; try again", status=409, waiting=waiting)
        except JiraError as error:
            return delivery_page(form=form, problem=f"Jira: {error}", status=502, waiting=waiting)
        return delivery_page(form=form, result=result, preview=preview_of(result), asked=asked, waiting=waiting,
                             status=502 if result.failures else 200)

    def delivery_page(form: Mapping[str, str], status: int = 200, waiting=None, **values):
        in_force = context.settings()
        try:
            waiting = waiting if waiting is not None else waiting_for_delivery(context.client, in_force)
            open_tickets = open_deliveries(context.client, in_force)
        except JiraError as error:
            return page("deliveries.html", 502, form=form, waiting=[], open_tickets=[], jira_problem=str(error),
                        custom=in_force.deliveries.custom_marker, link_type=in_force.deliveries.link_type, **values)
        return page("deliveries.html", status, form=form, waiting=waiting, open_tickets=open_tickets,
                    custom=in_force.deliveries.custom_marker, link_type=in_force.deliveries.link_type,
                    version_field=in_force.fields.delivery_version, **values)

    app.register_blueprint(console)


def delivery_fields(form: Mapping[str, str]) -> dict:
    """The Delivery page's form as DeliveryRequest takes it (shared with the CLI and the API)."""
    fields: dict = {"organisation": form.get("organisation", ""), "version": form.get("version", "")}
    if (form.get("estimated_date") or "").strip():
        fields["estimated_date"] = form["estimated_date"].strip()
    docs = [line.strip() for line in (form.get("docs") or "").splitlines() if line.strip()]
    if docs:
        fields["docs"] = docs
    if (form.get("environment") or "").strip():
        fields["environment"] = form["environment"].strip()
    return fields


def waiting_count(waiting: list[Waiting], organisation: str, version: str, custom_marker: str) -> int:
    """Tickets that would be listed: the version's and the organisation's CUSTOM ones (which ship with any patch)."""
    return sum(len(w.keys) for w in waiting if w.organisation == organisation and w.version in (version, custom_marker))


def preview_of(result: DeliveryResult) -> dict:
    """The summary and the table as the customer will read them on the portal."""
    shown: dict = {"summary": None, "table": None}
    for action in result.actions:
        if isinstance(action, FieldChange) and action.field == "summary":
            shown["summary"] = action.value
        if isinstance(action, FieldChange) and action.field == "description" and isinstance(action.value, Table):
            shown["table"] = action.value
    return shown


def audit_filters(args: Mapping[str, str], rule_ids: set[str]) -> tuple[dict, list[str]]:
    """The audit page's filters as AuditTrail.list takes them, and what is wrong with them."""
    asked: dict = {}
    problems = []
    rule = (args.get("rule") or "").strip()
    if rule:
        if rule in rule_ids:
            asked["rule"] = rule
        else:
            problems.append(f"rule: {rule!r} is not a rule of the catalogue")
    issue = (args.get("issue") or "").strip().upper()
    if issue:
        if ISSUE_KEY.fullmatch(issue):
            asked["issue"] = issue
        else:
            problems.append(f"issue: {issue!r} is not an issue key like SD-12")
    outcome = (args.get("outcome") or "").strip()
    if outcome:
        if outcome in AUDIT_OUTCOMES:
            asked["outcome"] = outcome
        else:
            problems.append(f"outcome: one of {', '.join(AUDIT_OUTCOMES)}")
    since = (args.get("since") or "").strip()
    if since:
        try:
            day = date.fromisoformat(since)
            asked["since"] = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        except ValueError:
            problems.append(f"since: {since!r} is not a date like 2026-12-01")
    return asked, problems


def wanted(action: str, current: RuleOverride, base: Settings, rule_id: str) -> tuple[bool | None, bool | None]:
    """The override after an action: only what differs from app.yaml is kept (None: as app.yaml)."""
    enabled, shadow = current.enabled, current.shadow
    if action == "reset":
        return None, None
    if action in ("off", "on"):
        wanted_on = action == "on"
        enabled = None if wanted_on == base.is_enabled(rule_id) else wanted_on
    else:
        wanted_shadow = action == "shadow"
        shadow = None if wanted_shadow == base.is_shadow_only(rule_id) else wanted_shadow
    return enabled, shadow
