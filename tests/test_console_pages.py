"""The console's admin pages (issue 31 item 2) over real HTTP, each with real rows: the overview,
the audit with its filters and the ticket box, dead letters with replay, shadow firings."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from jsm_autopilot.console.app import audit_filters
from jsm_autopilot.console.charts import firings_per_day
from jsm_autopilot.store.rule_overrides import RuleOverrides
from tests.console_site import ADMIN, csrf_token

BERLIN = ZoneInfo("Europe/Berlin")


def signed_in(console):
    return console.signed_in(ADMIN)


def test_firings_are_counted_per_day_in_the_project_zone():
    late_evening = datetime(2026, 12, 7, 23, 30, tzinfo=timezone.utc)  # 00:30 on the 8th in Berlin
    found = firings_per_day([(late_evening, "a.b"), (late_evening, "a.b"), (datetime(2026, 11, 1, tzinfo=timezone.utc), "c.d")],
                            date(2026, 12, 8), 30, BERLIN)
    assert found["days"][0] == "2026-11-09" and found["days"][-1] == "2026-12-08" and len(found["days"]) == 30
    assert found["rules"] == {"a.b": [0] * 29 + [2]}  # the firing before the window is not shown


def test_the_audit_filters_name_what_is_wrong():
    rules = {"clarification.reminder"}
    assert audit_filters({"rule": "clarification.reminder", "issue": "sd-7", "outcome": "failed", "since": "2026-12-01"}, rules) == (
        {"rule": "clarification.reminder", "issue": "SD-7", "outcome": "failed", "since": datetime(2026, 12, 1, tzinfo=timezone.utc)}, [])
    asked, problems = audit_filters({"rule": "x.y", "issue": "SD 7", "outcome": "done", "since": "yesterday"}, rules)
    assert asked == {} and [p.split(":")[0] for p in problems] == ["rule", "issue", "outcome", "since"]


def test_the_overview_shows_readiness_the_last_sweeps_the_chart_and_what_is_due(console):
    console.service.scheduled_sweep()
    session = signed_in(console)
    page = session.get(f"{console.url}/console/overview")
    assert page.status_code == 200
    assert "routine sweep" in page.text and "never" not in page.text.split("full pass", 1)[1][:80]
    data = re.search(r'<script type="application/json" id="firings-data">(.*?)</script>', page.text, re.S).group(1)
    assert '"clarification.reminder"' in data and "<" not in data.replace("&lt;", "")
    assert f"/browse/{console.key}" in page.text  # its next reminder, from the schedule


def test_the_audit_lists_firings_linking_to_jira_and_filters_them(console):
    console.service.scheduled_sweep()
    session = signed_in(console)
    page = session.get(f"{console.url}/console/audit", params={"rule": "clarification.reminder"})
    assert f'href="{console.site.url}/browse/{console.key}"' in page.text and "applied" in page.text
    none = session.get(f"{console.url}/console/audit", params={"rule": "resolved.close"})
    assert f"/browse/{console.key}" not in none.text
    wrong = session.get(f"{console.url}/console/audit", params={"issue": "not a key"})
    assert "issue: &#39;NOT A KEY&#39; is not an issue key like SD-12" in wrong.text


def test_the_ticket_box_shows_why_with_customer_text_escaped(console):
    key = console.site.create(summary="<script>alert('x')</script> Upload fails")
    session = signed_in(console)
    page = session.get(f"{console.url}/console/why", params={"key": key.lower()})
    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Upload fails" in page.text and "<script>alert" not in page.text
    assert "clarification.reminder" in page.text
    assert session.get(f"{console.url}/console/why", params={"key": "SD-99999"}).status_code == 404
    assert session.get(f"{console.url}/console/why", params={"key": "DROP TABLE"}).status_code == 400


def test_a_dead_letter_is_shown_with_jiras_answer_and_replayed(console):
    store = console.service.store
    now = datetime.now(timezone.utc)
    store.add("delivery-1", "jira:issue_updated", console.key, b"{}", True, now)
    claimed = store.claim("test-worker", now, timedelta(minutes=1))
    store.fail(claimed, now, "400 from Jira: Field 'resolution' is required.")
    session = signed_in(console)
    page = session.get(f"{console.url}/console/dead-letters")
    assert "delivery-1" in page.text and "Field &#39;resolution&#39; is required." in page.text
    replayed = session.post(f"{console.url}/console/dead-letters/replay", data={"identifier": "delivery-1", "csrf_token": csrf_token(page.text)})
    assert replayed.status_code == 200 and "Put back in the queue" in replayed.text
    assert store.find_event("delivery-1").status == "pending"
    again = session.post(f"{console.url}/console/dead-letters/replay", data={"identifier": "delivery-1", "csrf_token": csrf_token(page.text)})
    assert again.status_code == 404


def test_the_shadow_page_lists_what_a_shadow_only_rule_would_have_done(console):
    RuleOverrides(console.service.store).set("clarification.reminder", None, True, "ann", datetime.now(timezone.utc))
    console.service.scheduled_sweep()
    page = signed_in(console).get(f"{console.url}/console/shadow")
    assert f"/browse/{console.key}" in page.text and "clarification.reminder" in page.text and "public_comment" in page.text


def test_german_labels_for_a_german_browser(console):
    session = signed_in(console)
    page = session.get(f"{console.url}/console/overview", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="de">' in page.text and "Letzte Durchläufe" in page.text
