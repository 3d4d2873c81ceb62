"""The sweep against the sandbox over real HTTP: 60 simulated days, with and without faults."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from jsm_autopilot.connector.sweep import sweep_once
from tests.site import AGENT, CUSTOMER, Site

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # 10:00 in Berlin; no DST change in 60 days
DAY = timedelta(days=1)
READS = {("GET", None), ("POST", "/rest/api/3/search/jql"), ("POST", "/rest/api/2/search")}


def _is_read(request: dict) -> bool:
    return request["method"] == "GET" or (request["method"], request["path"]) in READS


def build_project(site: Site) -> dict[str, str]:
    """A waiting ticket, a waiting ticket whose customer replies on day 15, a resolved ticket."""
    site.set_clock(T0 - DAY)
    keys = {name: site.create(summary=f"{name} ticket") for name in ("silent", "replying", "resolved")}
    site.set_clock(T0)
    site.move(keys["silent"], "Clarification required / On hold")
    site.move(keys["replying"], "Clarification required / On hold")
    site.move(keys["resolved"], "Resolved")
    return keys


def run_days(site: Site, keys: dict[str, str], client, fault_rate: float = 0.0, schedule=None) -> list:
    reports = []
    for day in range(0, 61):
        moment = T0 + day * DAY
        site.set_clock(moment)
        site.faults(fault_rate)
        reports.append(sweep_once(client, site.settings, schedule=schedule, full=schedule is None))
        site.faults(0)
        if day == 15:
            site.set_clock(moment + timedelta(hours=3))
            site.comment(keys["replying"], "I will send the log file soon.", by=CUSTOMER)
    return reports


def firing_days(site: Site, key: str) -> list[tuple[str, int]]:
    log = site.issue(key)["properties"]["jsm-autopilot"]["firings"]
    return [(f["rule"], (datetime.fromisoformat(f["at"]) - T0).days) for f in log]


def final_state(site: Site, keys: dict[str, str]) -> dict:
    state = {}
    for name, key in keys.items():
        issue = site.issue(key)
        state[name] = {
            "status": issue["fields"]["status"]["name"],
            "firings": firing_days(site, key),
            "public": [c["body"] for c in site.comments_by_bot(key, public=True)],
            "internal": len(site.comments_by_bot(key, public=False)),
        }
    return state


def test_sixty_days_of_sweeps_follow_the_guide(site_factory):
    site = site_factory(T0 - DAY)
    keys = build_project(site)
    reports = run_days(site, keys, site.client())
    assert all(not r.failures for r in reports)

    assert firing_days(site, keys["silent"]) == [
        ("clarification.reminder", 10), ("clarification.reminder", 20), ("clarification.reminder", 30), ("clarification.close", 40),
    ]
    # Replied on day 15 at noon: the clock restarts, reminders follow from there, one sweep late.
    assert firing_days(site, keys["replying"]) == [
        ("clarification.reminder", 10), ("clarification.reset", 16), ("clarification.reminder", 26),
        ("clarification.reminder", 36), ("clarification.reminder", 46), ("clarification.close", 56),
    ]
    assert firing_days(site, keys["resolved"]) == [("resolved.close", 50)]

    state = final_state(site, keys)
    assert {name: s["status"] for name, s in state.items()} == {"silent": "Closed", "replying": "Closed", "resolved": "Closed"}
    # Three reminders and the closing comment; every firing left an internal note.
    assert len(state["silent"]["public"]) == 4 and state["silent"]["internal"] == 4
    assert state["replying"]["internal"] == 6
    assert "the first of three reminders" in str(state["silent"]["public"][0])


def test_the_same_run_with_thirty_percent_failures_ends_the_same(site_factory):
    clean = site_factory(T0 - DAY)
    clean_keys = build_project(clean)
    run_days(clean, clean_keys, clean.client())

    faulty = site_factory(T0 - DAY, fault_seed=7)
    faulty_keys = build_project(faulty)
    sleeps: list[float] = []
    reports = run_days(faulty, faulty_keys, faulty.client(sleeps, max_attempts=12), fault_rate=0.3)

    assert all(not r.failures for r in reports)
    injected = [r for r in faulty.requests_made() if r["status"] in (429, 503)]
    assert len(injected) > 30, "the faults did happen"
    assert min(sleeps) >= 1.0, "Retry-After: 1 was honoured on every retry"
    assert final_state(faulty, faulty_keys) == final_state(clean, clean_keys)


def test_routine_sweeps_that_read_only_what_is_due_or_changed_end_as_full_passes_do(site_factory, tmp_path):
    """Issue 16: with a schedule, a routine sweep reads the tickets due by time (the schedule) or
    changed in Jira (`updated`), and 60 days end exactly as with a full pass every day."""
    from jsm_autopilot.store.event_store import EventStore
    from jsm_autopilot.store.schedule import TicketSchedule

    full = site_factory(T0 - DAY)
    full_keys = build_project(full)
    full_reports = run_days(full, full_keys, full.client())

    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}")
    store.migrate()
    routine = site_factory(T0 - DAY)
    routine_keys = build_project(routine)
    reports = run_days(routine, routine_keys, routine.client(), schedule=TicketSchedule(store))
    assert all(not r.failures for r in reports)
    assert reports[0].full and not any(r.full for r in reports[1:])
    assert final_state(routine, routine_keys) == final_state(full, full_keys)
    read = sum(r.tickets_seen for r in reports)
    assert read < sum(r.tickets_seen for r in full_reports) / 4, "routine sweeps read only what is due or changed"
    quiet = [r for r in reports[1:] if r.firings_applied == 0 and r.tickets_seen == 0]
    assert quiet and max(r.api_calls for r in quiet) <= 3, "an idle sweep: serverInfo, the changed search, the deliveries"
    store.dispose()


def test_a_second_sweep_at_the_same_instant_writes_nothing(site_factory):
    site = site_factory(T0 - DAY)
    keys = build_project(site)
    client = site.client()
    site.set_clock(T0 + 10 * DAY)
    first = sweep_once(client, site.settings)
    assert first.actions_applied == 4  # two reminders, two notes
    before = len(site.requests_made())
    second = sweep_once(client, site.settings)
    assert second.firings_planned == 0 and second.firings_applied == 0
    assert all(_is_read(r) for r in site.requests_made()[before:])
    assert keys  # the project was built


def test_dry_run_reports_but_changes_nothing(site_factory):
    site = site_factory(T0 - DAY)
    build_project(site)
    site.set_clock(T0 + 50 * DAY)
    before = len(site.requests_made())
    seen = []
    report = sweep_once(site.client(), site.settings, dry_run=True, on_firing=lambda actions, outcome: seen.append((actions[0].rule, outcome)))
    assert set(report.by_rule) == {"clarification.reminder", "resolved.close"}
    assert {rule for rule, _ in seen} == {"clarification.reminder", "resolved.close"}
    assert all(outcome is None for _, outcome in seen)
    assert all(_is_read(r) for r in site.requests_made()[before:])


def test_now_defaults_to_the_sites_server_time(site_factory):
    site = site_factory(T0 + 3 * DAY)
    assert sweep_once(site.client(), site.settings).now == T0 + 3 * DAY


def test_one_unreadable_ticket_does_not_stop_the_others(site_factory):
    site = site_factory(T0 - DAY)
    keys = build_project(site)
    requests.put(site.api(f"issue/{keys['silent']}/properties/jsm-autopilot"), json={"firings": "garbage"},
                 auth=(AGENT, "token")).raise_for_status()
    site.set_clock(T0 + 10 * DAY)
    report = sweep_once(site.client(), site.settings)
    assert any(keys["silent"] in f and "properties.jsm-autopilot.firings" in f for f in report.failures)
    assert firing_days(site, keys["replying"]) == [("clarification.reminder", 10)]


@pytest.mark.parametrize("deployment", ["datacenter"])
def test_data_center_gets_the_same_process_over_v2(site_factory, deployment):
    site = site_factory(T0 - DAY, deployment=deployment)
    key = site.create()
    site.set_clock(T0)
    site.move(key, "Clarification required / On hold")
    client = site.client()
    for day in (10, 20, 30, 40):
        site.set_clock(T0 + day * DAY)
        assert not sweep_once(client, site.settings).failures
    assert site.issue(key)["fields"]["status"]["name"] == "Closed"
    public = site.comments_by_bot(key, public=True)
    assert len(public) == 4 and all(isinstance(c["body"], str) for c in public)
    assert all(r["path"].startswith(("/rest/api/2/", "/rest/pat/")) for r in site.requests_made())
