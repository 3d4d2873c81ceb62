"""A small read-only HTML view of the sandbox, so a person sees what agents would see in Jira:
`/` lists the tickets, `/browse/KEY` shows one with its comments marked public or internal."""

from __future__ import annotations

from flask import Blueprint, abort, render_template_string

from sandbox.state import SandboxState

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
</style></head><body>{{ content|safe }}</body></html>"""

LIST = """<h1>{{ project }} · {{ issues|length }} tickets</h1><p class="meta">Sandbox time {{ now }}</p>
<table><tr><th>Key</th><th>Type</th><th>Status</th><th>Summary</th><th>Organisation</th><th>Comments</th></tr>
{% for i in issues %}<tr><td><a href="/browse/{{ i.key }}">{{ i.key }}</a></td><td>{{ i.issue_type }}</td>
<td><span class="status">{{ i.status }}</span></td><td>{{ i.summary }}</td><td>{{ organisation(i) }}</td><td>{{ i.comments|length }}</td></tr>{% endfor %}
</table>"""

DETAIL = """<p><a href="/">← all tickets</a></p><h1>{{ i.key }}: {{ i.summary }}</h1>
<p><span class="status">{{ i.status }}</span> · {{ i.issue_type }} · {{ organisation(i) }} · reported by {{ i.reporter.display_name }}
<span class="meta">({{ i.created.strftime('%Y-%m-%d %H:%M UTC') }})</span></p>
<h2>Comments</h2>
{% for c in i.comments %}<div class="comment {{ 'public' if c.public else 'internal' }}" id="comment-{{ c.id }}">
<div class="meta"><span class="badge {{ 'public' if c.public else 'internal' }}">{{ 'public' if c.public else 'internal' }}</span>
 {{ c.author.display_name }} · {{ c.created.strftime('%Y-%m-%d %H:%M UTC') }}</div><div class="body">{{ c.text }}</div></div>
{% else %}<p class="meta">No comments.</p>{% endfor %}"""


def blueprint(state: SandboxState) -> Blueprint:
    view = Blueprint("html", __name__)

    def organisation(issue) -> str:
        ids = issue.custom_fields.get(state.organizations_field) or []
        return ", ".join(state.organisations[i]["name"] for i in ids if i in state.organisations) or "-"

    def page(title: str, body: str, **context) -> str:
        # Flask's render_template_string escapes every value: ticket text cannot inject markup.
        content = render_template_string(body, organisation=organisation, **context)
        return render_template_string(PAGE, title=title, content=content)

    @view.get("/")
    def ticket_list():
        with state.lock:
            issues = sorted(state.issues.values(), key=lambda i: i.id)
            return page("Tickets", LIST, issues=issues, project=state.project_key, now=state.now.strftime("%Y-%m-%d %H:%M UTC"))

    @view.get("/browse/<key>")
    def ticket(key: str):
        with state.lock:
            issue = state.issues.get(key.upper())
            if issue is None:
                abort(404)
            return page(issue.key, DETAIL, i=issue)

    return view
