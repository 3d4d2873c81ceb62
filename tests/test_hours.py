"""hours.window: what the customer sees waits for the responsible region's working hours
(Monday to Friday 08:00-17:00 local, except public holidays); notes to agents do not wait."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cli.main import main
from rules.actions import Deferred, InternalComment, PublicComment, Transition
from rules.catalogue import evaluate
from rules.model import Role
from tests.conftest import ROOT, berlin, shipped_settings_data
from tests.tickets import comment, resolved_ticket, waiting_ticket

MELBOURNE = ZoneInfo("Australia/Melbourne")
BERLIN = ZoneInfo("Europe/Berlin")
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def windowed():
    """The shipped settings with hours.window on: Muster AG in Saarbrücken (emea), Acme in Melbourne (apac)."""
    from config.loader import settings_from_mapping

    settings = settings_from_mapping(shipped_settings_data(), base_directory=ROOT)
    assert settings.is_enabled("hours.window"), "the shipped app.yaml switches hours.window on"
    return settings


def due_reminder_at(moment: datetime, organisation: str):
    """A waiting ticket whose first reminder falls due exactly at `moment`."""
    return replace(waiting_ticket(moment - 10 * DAY), organisation=organisation)


def kinds(actions) -> list[type]:
    return [type(a) for a in actions]


@pytest.mark.parametrize("organisation, zone", [("Muster AG", BERLIN), ("Acme Learning Ltd", MELBOURNE)])
def test_the_edges_of_working_hours(windowed, organisation, zone):
    monday_open = datetime(2026, 2, 2, 8, 0, tzinfo=zone)
    before = evaluate(due_reminder_at(monday_open - SECOND, organisation), monday_open - SECOND, windowed)
    assert kinds(before) == [Deferred] and before[0].not_before == monday_open and before[0].rule == "clarification.reminder"
    assert kinds(evaluate(due_reminder_at(monday_open, organisation), monday_open, windowed)) == [PublicComment, InternalComment]
    closing = datetime(2026, 2, 2, 17, 0, tzinfo=zone)
    assert kinds(evaluate(due_reminder_at(closing - SECOND, organisation), closing - SECOND, windowed)) == [PublicComment, InternalComment]
    after = evaluate(due_reminder_at(closing, organisation), closing, windowed)
    assert kinds(after) == [Deferred] and after[0].not_before == datetime(2026, 2, 3, 8, 0, tzinfo=zone)


def test_corpus_christi_in_saarland_is_a_holiday_there_but_not_in_berlin(windowed):
    """Fronleichnam (4 June 2026) is a public holiday in Saarland, not nationwide nor in Berlin."""
    at = datetime(2026, 6, 4, 10, 0, tzinfo=BERLIN)
    deferred = evaluate(due_reminder_at(at, "Muster AG"), at, windowed)
    assert kinds(deferred) == [Deferred] and deferred[0].not_before == datetime(2026, 6, 5, 8, 0, tzinfo=BERLIN)
    assert "Corpus Christi" in deferred[0].reason
    from config.loader import settings_from_mapping

    data = shipped_settings_data()
    data["regions"]["emea"]["holidays"] = {"country": "DE", "subdivision": "BE"}
    berlin_desk = settings_from_mapping(data, base_directory=ROOT)
    assert kinds(evaluate(due_reminder_at(at, "Muster AG"), at, berlin_desk)) == [PublicComment, InternalComment]


def test_australia_day_in_victoria(windowed):
    at = datetime(2026, 1, 26, 10, 0, tzinfo=MELBOURNE)  # a Monday
    deferred = evaluate(due_reminder_at(at, "Acme Learning Ltd"), at, windowed)
    assert kinds(deferred) == [Deferred] and deferred[0].not_before == datetime(2026, 1, 27, 8, 0, tzinfo=MELBOURNE)
    # The same instant is midnight of an ordinary Monday in Saarbrücken: its desk opens at 08:00 that day.
    assert evaluate(due_reminder_at(at, "Muster AG"), at, windowed)[0].not_before == datetime(2026, 1, 26, 8, 0, tzinfo=BERLIN)


@pytest.mark.parametrize("organisation, saturday, monday, offset_hours", [
    ("Muster AG", datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN), datetime(2026, 3, 30, 8, 0, tzinfo=BERLIN), 2),  # CET -> CEST
    ("Acme Learning Ltd", datetime(2026, 10, 3, 10, 0, tzinfo=MELBOURNE), datetime(2026, 10, 5, 8, 0, tzinfo=MELBOURNE), 11),  # AEST -> AEDT
])
def test_daylight_saving_changes_in_both_hemispheres(windowed, organisation, saturday, monday, offset_hours):
    deferred = evaluate(due_reminder_at(saturday, organisation), saturday, windowed)
    assert deferred[0].not_before == monday and deferred[0].not_before.utcoffset() == timedelta(hours=offset_hours)
    assert saturday.utcoffset() != monday.utcoffset()


def test_a_reminder_due_on_saturday_is_sent_on_monday_morning(windowed):
    saturday = berlin(2026, 2, 7, 9, 0)
    ticket = due_reminder_at(saturday, "Muster AG")
    assert kinds(evaluate(ticket, saturday, windowed)) == [Deferred]
    assert kinds(evaluate(ticket, berlin(2026, 2, 9, 7, 59, 59), windowed)) == [Deferred]
    monday = evaluate(ticket, berlin(2026, 2, 9, 8, 0), windowed)
    assert kinds(monday) == [PublicComment, InternalComment] and "reminder 1 of 3" in monday[0].reason


def test_a_close_due_on_christmas_day_happens_on_the_next_working_morning(windowed):
    christmas = berlin(2026, 12, 25, 10, 0)  # Friday; Saturday the 26th is Boxing Day, then Sunday
    ticket = replace(resolved_ticket(christmas - 50 * DAY), organisation="Muster AG")
    deferred = evaluate(ticket, christmas, windowed)
    assert kinds(deferred) == [Deferred] and deferred[0].rule == "resolved.close"
    assert deferred[0].not_before == berlin(2026, 12, 28, 8, 0) and "Christmas Day" in deferred[0].reason
    assert {type(a) for a in evaluate(ticket, berlin(2026, 12, 28, 8, 0), windowed)} == {PublicComment, Transition, InternalComment}


def test_notes_to_agents_do_not_wait(windowed):
    sunday = berlin(2026, 2, 8, 11, 0)
    ticket = replace(waiting_ticket(sunday - 25 * DAY, comment(Role.AUTOMATION, sunday - 15 * DAY, "reminder", rule="clarification.reminder"),
                                    comment(Role.CUSTOMER, sunday - DAY, "Here is the file.")), organisation="Muster AG")
    from rules.model import Firing

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
    # Saarbrücken's and Melbourne's Monday mornings (the examples' organisations are in both regions).
    assert deferred and {p["not_before"] for p in deferred} <= {"2026-01-19T08:00:00+01:00", "2026-01-19T08:00:00+11:00"}
    assert not any(p["kind"] == "public_comment" for p in planned)
    table = CliRunner().invoke(main, ["plan", "--issues", str(issues), "--at", saturday, "--config", str(config)])
    assert "waits until 2026-01-19T08:00" in table.stdout


def test_check_prints_each_regions_hours_and_next_holidays():
    result = CliRunner().invoke(main, ["check", "--config", str(ROOT / "app.yaml")])
    assert "Region emea (default region): mon-fri 08:00-17:00 Europe/Berlin, holidays of DE-SL" in result.stdout
    assert "Region apac: mon-fri 08:00-17:00 Australia/Melbourne, holidays of AU-VIC" in result.stdout
    assert result.stdout.count("next holidays:") == 2


def test_the_old_form_of_a_region_is_refused_with_how_to_migrate():
    from config.loader import SettingsError, settings_from_mapping

    data = shipped_settings_data()
    data["regions"]["emea"] = "10100"
    with pytest.raises(SettingsError) as refused:
        settings_from_mapping(data, base_directory=ROOT)
    assert "regions.emea" in str(refused.value) and 'security_level: "10100"' in str(refused.value)


def test_company_days_off_from_an_icalendar_file(tmp_path):
    from config.loader import settings_from_mapping

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
    from config.loader import SettingsError

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
