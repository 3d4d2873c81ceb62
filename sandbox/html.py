"""A small read-only HTML view of the sandbox, so a person sees what agents would see in Jira:
`/` lists the tickets (`?status=` and `?rule=` filter them), `/browse/KEY` shows one with its
description (a Delivery ticket's table), its links and its comments, marked public or internal,
and which comments the automation wrote for which rule. Times are the project's local time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template_string, request

from jsm_autopilot.sandbox.state import SandboxState

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · jsm-autopilot sandbox</title>
<style>
 body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #172b4d; }
 table { border-collapse: collapse; width: 100%; } td, th { padding: .35rem .6rem; border-bottom: 1px solid #dfe1e6; text-align: left; }
 .status { font-size: 12px; padding: 1px 6px; border-radius: 3px; background: #dfe1e6; white-space: nowrap; }
 .comment { border: 1px solid #dfe1e6; border-radius: 4px; padding: .6rem .8rem; margin: .7rem 0; }
 .body { white-space: pre-wrap; margin-top: .3rem; }
 .comment.internal { background: #fffae6; border-color: #ffe380; }
 .badge { font-size: 11px; font-weight: 600; text-transform: uppercase; padding: 1px 6px; border-radius: 3px; }
 .badge.public { background: #e3fcef; color: #006644; } .badge.internal { background: #ffe380; color: #172b4d; }
 .meta { color: #5e6c84; font-size: 12px; } a { color: #0052cc; text-decoration: none; }
 .badge.rule { background: #deebff; color: #0747a6; text-transform: none; }
 .description { white-space: pre-wrap; border-left: 3px solid #dfe1e6; padding-left: .8rem; }
</style></head><body>{{ content|safe }}</body></html>"""

LIST = """<h1>{{ project }} · {{ issues|length }} tickets</h1><p class="meta">Sandbox time {{ now }} · times in {{ zone }}
{% if status or rule %} · showing {{ ('status ' ~ status) if status }}{{ ' and ' if status and rule }}{{ ('rule ' ~ rule) if rule }}
(<a href="/">all</a>){% endif %}</p>
<table><tr><th>Key</th><th>Type</th><th>Status</th><th>Summary</th><th>Organisation</th><th>Comments</th></tr>
{% for i in issues %}<tr><td><a href="/browse/{{ i.key }}">{{ i.key }}</a></td><td>{{ i.issue_type }}</td>
<td><span class="status">{{ i.status }}</span></td><td>{{ i.summary }}</td><td>{{ organisation(i) }}</td><td>{{ i.comments|length }}</td></tr>{% endfor %}
</table>"""

DETAIL = """<p><a href="/">← all tickets</a></p><h1>{{ i.key }}: {{ i.summary }}</h1>
<p><span class="status">{{ i.status }}</span> · {{ i.issue_type }} · {{ organisation(i) }} · reported by {{ i.reporter.display_name }}
<span class="meta">({{ local(i.created) }})</span></p>
{% if i.description %}<h2>Description</h2><div class="description">{{ i.description }}</div>{% endif %}
{% if links %}<h2>Links</h2><ul>{% for name, other in links %}<li>{{ name }} <a href="/browse/{{ other }}">{{ other }}</a></li>{% endfor %}</ul>{% endif %}
<h2>Comments</h2>
{% for c in i.comments %}<div class="comment {{ 'public' if c.public else 'internal' }}" id="comment-{{ c.id }}">
<div class="meta"><span class="badge {{ 'public' if c.public else 'internal' }}">{{ 'public' if c.public else 'internal' }}</span>
 {% if rule_of(c) %}<span class="badge rule">automation · {{ rule_of(c) }}</span>{% endif %}
 {{ c.author.display_name }} · {{ local(c.created) }}</div><div class="body">{{ c.text }}</div></div>
{% else %}<p class="meta">No comments.</p>{% endfor %}"""


def blueprint(state: SandboxState) -> Blueprint:
    view = Blueprint("html", __name__)

    def organisation(issue) -> str:
        ids = issue.custom_fields.get(state.organizations_field) or []
        return ", ".join(state.organisations[i]["name"] for i in ids if i in state.organisations) or "-"

    settings = getattr(state, "settings", None)
    zone = settings.project.zone if settings is not None else ZoneInfo("UTC")
    property_key = settings.automation.property_key if settings is not None else "jsm-autopilot"

    def local(instant: datetime) -> str:
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    def rule_of(comment) -> str | None:
        """The rule an automation's note names (its public comments are matched by the firing log)."""
        prefix = "jsm-autopilot · "
        if comment.text.startswith(prefix) and ":" in comment.text:
            return comment.text[len(prefix):].split(":", 1)[0]
        return None

    def rules_fired(issue) -> set[str]:
        return {f.get("rule") for f in (issue.properties.get(property_key) or {}).get("firings") or []}

    def page(title: str, body: str, **context) -> str:
        # Flask's render_template_string escapes every value: ticket text cannot inject markup.
        content = render_template_string(body, organisation=organisation, local=local, rule_of=rule_of, **context)
        return render_template_string(PAGE, title=title, content=content)

    @view.get("/")
    def ticket_list():
        status, rule = request.args.get("status"), request.args.get("rule")
        with state.lock:
            issues = [i for i in sorted(state.issues.values(), key=lambda i: i.id)
                      if (status is None or i.status == status) and (rule is None or rule in rules_fired(i))]
            return page("Tickets", LIST, issues=issues, project=state.project_key, now=local(state.now), zone=zone.key,
                        status=status, rule=rule)

    @view.get("/browse/<key>")
    def ticket(key: str):
        with state.lock:
            issue = state.issues.get(key.upper())
            if issue is None:
                abort(404)
            by_id = {i.id: i.key for i in state.issues.values()}
            links = [(link["type"], by_id[link.get("outwardIssue") or link.get("inwardIssue")]) for link in issue.links
                     if (link.get("outwardIssue") or link.get("inwardIssue")) in by_id]
            return page(issue.key, DETAIL, i=issue, links=links)

    return view
