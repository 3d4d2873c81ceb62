"""hours.window: what the customer sees waits over the responsible region's closed days (weekends
and public holidays; weekdays are worked around the clock), or for its business hours where a site
asks for them; notes to agents do not wait."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from jsm_autopilot.cli.main import main
from jsm_autopilot.rules.actions import Deferred, InternalComment, PublicComment, Transition
from jsm_autopilot.rules.catalogue import evaluate
from jsm_autopilot.rules.model import Role
from tests.conftest import ROOT, berlin, shipped_settings_data
from tests.tickets import comment, resolved_ticket, waiting_ticket

MELBOURNE = ZoneInfo("Australia/Melbourne")
BERLIN = ZoneInfo("Europe/Berlin")
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def windowed():
    """The shipped settings with hours.window on: Muster AG in Saarbrücken (emea), Acme in Melbourne (apac)."""
    from jsm_autopilot.config.loader import settings_from_mapping

    settings = settings_from_mapping(shipped_settings_data(), base_directory=ROOT)
    assert settings.is_enabled("hours.window"), "the shipped app.yaml switches hours.window on"
    return settings


def due_reminder_at(moment: datetime, organisation: str):
    """A waiting ticket whose first reminder falls due exactly at `moment`."""
    return replace(waiting_ticket(moment - 10 * DAY), organisation=organisation)


def kinds(actions) -> list[type]:
    return [type(a) for a in actions]


@pytest.fixture(scope="module")
def business_hours(windowed):
    """The same, with service_hours.business_hours_only: also wait for the regional desk's hours."""
    return windowed.model_copy(update={"service_hours": windowed.service_hours.model_copy(update={"business_hours_only": True})})


@pytest.mark.parametrize("organisation, zone", [("Muster AG", BERLIN), ("Acme Learning Ltd", MELBOURNE)])
def test_weekdays_are_worked_around_the_clock_and_the_weekend_ends_at_midnight(windowed, organisation, zone):
    """Guide chapter 1: "On weekdays, the imc Service Desk is manned around the clock"."""
    monday = datetime(2026, 2, 2, 0, 0, tzinfo=zone)
    before = evaluate(due_reminder_at(monday - SECOND, organisation), monday - SECOND, windowed)
    assert kinds(before) == [Deferred] and before[0].not_before == monday and before[0].rule == "clarification.reminder"
    assert "a weekend" in before[0].reason
    assert kinds(evaluate(due_reminder_at(monday, organisation), monday, windowed)) == [PublicComment, InternalComment]
    for night in (datetime(2026, 2, 2, 22, 0, tzinfo=zone), datetime(2026, 2, 6, 23, 59, 59, tzinfo=zone)):
        assert kinds(evaluate(due_reminder_at(night, organisation), night, windowed)) == [PublicComment, InternalComment]
    saturday = datetime(2026, 2, 7, 0, 0, tzinfo=zone)
    assert kinds(evaluate(due_reminder_at(saturday, organisation), saturday, windowed)) == [Deferred]


@pytest.mark.parametrize("organisation, zone", [("Muster AG", BERLIN), ("Acme Learning Ltd", MELBOURNE)])
def test_the_edges_of_business_hours_when_a_site_asks_for_them(business_hours, organisation, zone):
    monday_open = datetime(2026, 2, 2, 8, 0, tzinfo=zone)
    before = evaluate(due_reminder_at(monday_open - SECOND, organisation), monday_open - SECOND, business_hours)
    assert kinds(before) == [Deferred] and before[0].not_before == monday_open and before[0].rule == "clarification.reminder"
    assert kinds(evaluate(due_reminder_at(monday_open, organisation), monday_open, business_hours)) == [PublicComment, InternalComment]
    closing = datetime(2026, 2, 2, 17, 0, tzinfo=zone)
    assert kinds(evaluate(due_reminder_at(closing - SECOND, organisation), closing - SECOND, business_hours)) == [PublicComment, InternalComment]
    after = evaluate(due_reminder_at(closing, organisation), closing, business_hours)
    assert kinds(after) == [Deferred] and after[0].not_before == datetime(2026, 2, 3, 8, 0, tzinfo=zone)
    assert "outside working hours" in after[0].reason


def test_corpus_christi_in_saarland_is_a_holiday_there_but_not_in_berlin(windowed):
    """Fronleichnam (4 June 2026) is a public holiday in Saarland, not nationwide nor in Berlin."""
    at = datetime(2026, 6, 4, 10, 0, tzinfo=BERLIN)
    deferred = evaluate(due_reminder_at(at, "Muster AG"), at, windowed)
    assert kinds(deferred) == [Deferred] and deferred[0].not_before == datetime(2026, 6, 5, 0, 0, tzinfo=BERLIN)
    assert "Corpus Christi" in deferred[0].reason
    from jsm_autopilot.config.loader import settings_from_mapping

    data = shipped_settings_data()
    data["regions"]["emea"]["holidays"] = {"country": "DE", "subdivision": "BE"}
    berlin_desk = settings_from_mapping(data, base_directory=ROOT)
    assert kinds(evaluate(due_reminder_at(at, "Muster AG"), at, berlin_desk)) == [PublicComment, InternalComment]


def test_australia_day_in_victoria(windowed):
    at = datetime(2026, 1, 26, 10, 0, tzinfo=MELBOURNE)  # a Monday
    deferred = evaluate(due_reminder_at(at, "Acme Learning Ltd"), at, windowed)
    assert kinds(deferred) == [Deferred] and deferred[0].not_before == datetime(2026, 1, 27, 0, 0, tzinfo=MELBOURNE)
    # The same instant is midnight of an ordinary Monday in Saarbrücken: its desk is open.
    assert kinds(evaluate(due_reminder_at(at, "Muster AG"), at, windowed)) == [PublicComment, InternalComment]


@pytest.mark.parametrize("organisation, saturday, monday, offset_hours", [
    ("Muster AG", datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN), datetime(2026, 3, 30, 0, 0, tzinfo=BERLIN), 2),  # CET -> CEST
    ("Acme Learning Ltd", datetime(2026, 10, 3, 10, 0, tzinfo=MELBOURNE), datetime(2026, 10, 5, 0, 0, tzinfo=MELBOURNE), 11),  # AEST -> AEDT
])
def test_daylight_saving_changes_in_both_hemispheres(windowed, organisation, saturday, monday, offset_hours):
    deferred = evaluate(due_reminder_at(saturday, organisation), saturday, windowed)
    assert deferred[0].not_before == monday and deferred[0].not_before.utcoffset() == timedelta(hours=offset_hours)
    assert saturday.utcoffset() != monday.utcoffset()


def test_a_reminder_due_on_saturday_is_sent_as_monday_begins(windowed):
    saturday = berlin(2026, 2, 7, 9, 0)
    ticket = due_reminder_at(saturday, "Muster AG")
    assert kinds(evaluate(ticket, saturday, windowed)) == [Deferred]
    assert kinds(evaluate(ticket, berlin(2026, 2, 8, 23, 59, 59), windowed)) == [Deferred]
    monday = evaluate(ticket, berlin(2026, 2, 9, 0, 0), windowed)
    assert kinds(monday) == [PublicComment, InternalComment] and "reminder 1 of 3" in monday[0].reason


def test_a_close_due_on_christmas_day_happens_as_the_next_open_day_begins(windowed):
    christmas = berlin(2026, 12, 25, 10, 0)  # Friday; Saturday the 26th is Boxing Day, then Sunday
    ticket = replace(resolved_ticket(christmas - 50 * DAY), organisation="Muster AG")
    deferred = evaluate(ticket, christmas, windowed)
    assert kinds(deferred) == [Deferred] and deferred[0].rule == "resolved.close"
    assert deferred[0].not_before == berlin(2026, 12, 28, 0, 0) and "Christmas Day" in deferred[0].reason
    assert {type(a) for a in evaluate(ticket, berlin(2026, 12, 28, 0, 0), windowed)} == {PublicComment, Transition, InternalComment}


def test_notes_to_agents_do_not_wait(windowed):
    sunday = berlin(2026, 2, 8, 11, 0)
    ticket = replace(waiting_ticket(sunday - 25 * DAY, comment(Role.AUTOMATION, sunday - 15 * DAY, "reminder", rule="clarification.reminder"),
                                    comment(Role.CUSTOMER, sunday - DAY, "Here is the file.")), organisation="Muster AG")
    from jsm_autopilot.rules.model import Firing

    ticket = replace(ticket, firings=(Firing("clarification.reminder", sunday - 15 * DAY),))
    actions = evaluate(ticket, sunday, windowed)
    assert [a.rule for a in actions] == ["clarification.reset"] and kinds(actions) == [InternalComment]


def test_without_hours_window_nothing_waits(settings):
    saturday = berlin(2026, 2, 7, 9, 0)
    assert kinds(evaluate(due_reminder_at(saturday, "Muster AG"), saturday, settings)) == [PublicComment, InternalComment]


def test_plan_lists_a_waiting_action_as_deferred(windowed, tmp_path):
    import yaml

    from tests.example_issues import example_issues

    data = shipped_settings_data()
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps({"issues": example_issues()}), encoding="utf-8")
    saturday = "2026-01-17T10:00:00+01:00"
    result = CliRunner().invoke(main, ["plan", "--issues", str(issues), "--at", saturday, "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    planned = json.loads(result.stdout)
    deferred = [p for p in planned if p["kind"] == "deferred"]
    # Saarbrücken's and Melbourne's Mondays (the examples' organisations are in both regions).
    assert deferred and {p["not_before"] for p in deferred} <= {"2026-01-19T00:00:00+01:00", "2026-01-19T00:00:00+11:00"}
    assert not any(p["kind"] == "public_comment" for p in planned)
    table = CliRunner().invoke(main, ["plan", "--issues", str(issues), "--at", saturday, "--config", str(config)])
    assert "waits until 2026-01-19T00:00" in table.stdout


def test_check_prints_each_regions_hours_and_next_holidays():
    result = CliRunner().invoke(main, ["check", "--config", str(ROOT / "app.yaml")])
    assert "Region emea (default region): mon-fri 08:00-17:00 Europe/Berlin, holidays of DE-SL" in result.stdout
    assert "Region apac: mon-fri 08:00-17:00 Australia/Melbourne, holidays of AU-VIC" in result.stdout
    assert result.stdout.count("next holidays:") == 2


def test_the_old_form_of_a_region_is_refused_with_how_to_migrate():
    from jsm_autopilot.config.loader import settings_from_mapping
    from jsm_autopilot.errors import SettingsError

    data = shipped_settings_data()
    data["regions"]["emea"] = "10100"
    with pytest.raises(SettingsError) as refused:
        settings_from_mapping(data, base_directory=ROOT)
    assert "regions.emea" in str(refused.value) and 'security_level: "10100"' in str(refused.value)


def test_company_days_off_from_an_icalendar_file(tmp_path):
    from jsm_autopilot.config.loader import settings_from_mapping

    (tmp_path / "days-off.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;VALUE=DATE:20260302\r\nDTEND;VALUE=DATE:20260304\r\nSUMMARY:Company retreat\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        encoding="utf-8")
    data = shipped_settings_data()
    data["regions"]["emea"]["holidays_ics"] = "days-off.ics"
    data["regions"]["emea"]["extra_holidays"] = ["2026-03-06"]
    calendar = settings_from_mapping(data, base_directory=tmp_path).calendar_of("emea")
    assert [calendar.is_working_day(datetime(2026, 3, d).date()) for d in (2, 3, 4, 5, 6)] == [False, False, True, True, False]
    data["regions"]["emea"]["holidays_ics"] = "missing.ics"
    from jsm_autopilot.errors import SettingsError

    with pytest.raises(SettingsError, match="regions.emea.holidays_ics"):
        settings_from_mapping(data, base_directory=tmp_path)


def test_working_time_counts_only_working_hours(windowed):
    """The building block of the SLA clocks (sla.reaction, sla.resolution: not built yet)."""
    saarbruecken, melbourne = windowed.calendar_of("emea"), windowed.calendar_of("apac")
    friday_afternoon = berlin(2026, 2, 6, 16, 0)
    assert saarbruecken.working_time_between(friday_afternoon, berlin(2026, 2, 9, 9, 30)) == timedelta(hours=2, minutes=30)
    assert saarbruecken.working_time_between(berlin(2026, 2, 7, 9), berlin(2026, 2, 8, 18)) == timedelta(0)  # a weekend
    # Corpus Christi in Saarland: Wednesday 16:00 to Friday 09:00 is one hour and one more.
    assert saarbruecken.working_time_between(berlin(2026, 6, 3, 16), berlin(2026, 6, 5, 9)) == timedelta(hours=2)
    # Across the spring change in Berlin the desk still works 9 hours a day, not 8 or 10.
    assert saarbruecken.working_time_between(berlin(2026, 3, 27, 8), berlin(2026, 3, 30, 17)) == timedelta(hours=18)
    start = datetime(2026, 10, 2, 16, 0, tzinfo=MELBOURNE)  # Friday before the Australian change
    assert melbourne.working_time_between(start, datetime(2026, 10, 5, 9, 0, tzinfo=MELBOURNE)) == timedelta(hours=2)
    assert saarbruecken.working_time_between(berlin(2026, 2, 9, 10), berlin(2026, 2, 9, 9)) == timedelta(0)


def reminders_and_close(ticket, settings, until: datetime, step: timedelta = timedelta(hours=1)):
    """Sweep every `step` until `until`: when each reminder went out, and when the ticket closed."""
    from tests.tickets import after_actions

    moment, sent, closed = ticket.status_since, [], None
    while moment <= until and closed is None:
        actions = [a for a in evaluate(ticket, moment, settings) if not isinstance(a, Deferred)]
        if any(a.rule == "clarification.reminder" for a in actions):
            sent.append((moment, next(a for a in actions if isinstance(a, PublicComment)).body))
        if any(isinstance(a, Transition) and a.rule == "clarification.close" for a in actions):
            closed = moment
        ticket = after_actions(ticket, actions, moment) if actions else ticket
        moment += step
    return sent, closed


def test_a_deferral_moves_only_the_action_that_fell_on_a_closed_day(windowed):
    start = berlin(2026, 2, 4, 10, 0)  # a Wednesday: day 10 is Saturday 14 February
    ticket = replace(waiting_ticket(start), organisation="Muster AG", language="de")
    sent, closed = reminders_and_close(ticket, windowed, start + 45 * DAY)
    assert [moment for moment, _ in sent] == [berlin(2026, 2, 16, 0, 0), start + 20 * DAY, start + 30 * DAY]
    assert closed == start + 40 * DAY  # Monday 16 March, on schedule


def test_the_close_due_on_a_sunday_comes_as_monday_begins_and_the_reminders_say_so(windowed):
    start = berlin(2026, 2, 3, 10, 0)  # a Tuesday: days 10, 20, 30 are weekdays, day 40 is Sunday 15 March
    ticket = replace(waiting_ticket(start), organisation="Muster AG", language="de")
    sent, closed = reminders_and_close(ticket, windowed, start + 45 * DAY)
    assert [moment for moment, _ in sent] == [start + 10 * DAY, start + 20 * DAY, start + 30 * DAY]
    assert closed == berlin(2026, 3, 16, 0, 0)
    assert all("am 16. März 2026 automatisch geschlossen" in body for _, body in sent), sent[0][1]


def test_through_the_sandbox_reminders_on_days_10_20_30_and_a_sunday_close_on_monday(site_factory):
    """The fixed calendar of PROCESS.md on a sandbox site with the shipped app.yaml (hours.window on):
    day 40 is a Sunday in Saarbrücken, so the close comes as Monday begins; nothing drifts."""
    from jsm_autopilot.config.loader import settings_from_mapping
    from jsm_autopilot.connector.sweep import sweep_once
    from tests.conftest import settings_for_site

    start = berlin(2026, 2, 3, 10, 0)  # a Tuesday
    site = site_factory(start - timedelta(minutes=5))
    site.settings = settings_for_site(settings_from_mapping(shipped_settings_data(), base_directory=ROOT))
    key = site.create()
    site.set_clock(start)
    site.move(key, "Clarification required / On hold")
    client = site.client()
    for moment in (start + 10 * DAY - SECOND, start + 10 * DAY, start + 20 * DAY, start + 30 * DAY, start + 40 * DAY,
                   berlin(2026, 3, 15, 23, 59, 59), berlin(2026, 3, 16, 0, 0)):
        site.set_clock(moment)
        assert sweep_once(client, site.settings).failures == []
    sent = [c for c in site.state.issue(key).comments if c.public and c.author.email == "autopilot@vendor.example"]
    assert [c.created for c in sent] == [start + 10 * DAY, start + 20 * DAY, start + 30 * DAY, berlin(2026, 3, 16, 0, 0)]
    assert all("closed automatically on 16 March 2026" in c.text for c in sent[:3]), sent[0].text
    assert site.state.issue(key).status == "Closed"
