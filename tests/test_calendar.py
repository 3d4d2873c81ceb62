"""The calendar under every timer: durations across daylight-saving changes in both hemispheres,
the zone a customer reads dates in, and a one-action firing moved to the next open day."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jsm_autopilot.rules.actions import Deferred, PublicComment
from jsm_autopilot.rules.clock import add_duration, whole_days_between
from jsm_autopilot.rules.hours import within_hours
from jsm_autopilot.rules.wording import customer_zone
from tests.conftest import ROOT, shipped_settings_data
from tests.tickets import waiting_ticket

BERLIN = ZoneInfo("Europe/Berlin")
MELBOURNE = ZoneInfo("Australia/Melbourne")
UTC = ZoneInfo("UTC")


@pytest.mark.parametrize("start, zone, elapsed_hours", [
    (datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN), BERLIN, 23),  # spring forward, 29 March
    (datetime(2026, 10, 24, 10, 0, tzinfo=BERLIN), BERLIN, 25),  # fall back, 25 October
    (datetime(2026, 4, 4, 10, 0, tzinfo=MELBOURNE), MELBOURNE, 25),  # autumn there: back on 5 April
    (datetime(2026, 10, 3, 10, 0, tzinfo=MELBOURNE), MELBOURNE, 23),  # spring there: forward on 4 October
    (datetime(2026, 2, 3, 10, 0, tzinfo=BERLIN), BERLIN, 24),
])
def test_a_day_keeps_the_time_of_day_across_a_daylight_saving_change(start, zone, elapsed_hours):
    after = add_duration(start, timedelta(days=1), zone)
    assert (after.astimezone(zone).hour, after.astimezone(zone).minute) == (10, 0)
    # Subtracting two times of one zone ignores their offsets: compare in UTC.
    assert after.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=elapsed_hours)


def test_the_hours_of_a_duration_are_elapsed_time_added_after_its_days():
    start = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    assert add_duration(start, timedelta(days=1, hours=2), BERLIN) == datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN)
    assert add_duration(start, timedelta(hours=26), BERLIN) == datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN)
    # Across the night that lost an hour: 23:30 plus four elapsed hours is 04:30 summer time.
    night = datetime(2026, 3, 28, 23, 30, tzinfo=BERLIN)
    assert add_duration(night, timedelta(hours=4), BERLIN) == datetime(2026, 3, 29, 4, 30, tzinfo=BERLIN)


def test_a_wall_time_the_spring_night_skips_resolves_to_the_later_side():
    skipped = add_duration(datetime(2026, 3, 28, 2, 30, tzinfo=BERLIN), timedelta(days=1), BERLIN)
    assert skipped == datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN) and skipped.utcoffset() == timedelta(hours=2)


def test_whole_days_are_counted_in_the_customers_zone_not_in_utc():
    late_evening = datetime(2026, 3, 28, 23, 30, tzinfo=BERLIN)
    half_past_midnight = datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN)
    assert whole_days_between(late_evening, half_past_midnight, BERLIN) == 1
    assert whole_days_between(late_evening, half_past_midnight, ZoneInfo("UTC")) == 0
    assert whole_days_between(late_evening, late_evening, BERLIN) == 0


def _settings(**sections):
    from jsm_autopilot.config.loader import settings_from_mapping

    return settings_from_mapping({**shipped_settings_data(), **sections}, base_directory=ROOT)


def test_a_customer_reads_dates_in_their_regions_zone(settings):
    acme = waiting_ticket(datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN))  # Acme Learning Ltd: apac, Melbourne
    assert acme.organisation == "Acme Learning Ltd" and customer_zone(acme, settings) == MELBOURNE
    assert customer_zone(replace(acme, organisation="Muster AG"), settings) == BERLIN


def test_without_any_region_a_customer_reads_dates_in_the_sites_zone():
    data = shipped_settings_data()
    data["project"] = {**data["project"], "timezone": "America/New_York"}
    data["service_hours"] = {**data["service_hours"], "default_region": None}
    no_default = _settings(project=data["project"], service_hours=data["service_hours"])
    stranger = replace(waiting_ticket(datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN)), organisation="Nobody GmbH")
    assert no_default.region_of("Nobody GmbH") is None
    assert customer_zone(stranger, no_default) == ZoneInfo("America/New_York")


def test_a_firing_of_one_public_comment_waits_as_one_deferred_with_its_own_reason():
    windowed = _settings()
    saturday = datetime(2026, 2, 7, 9, 0, tzinfo=BERLIN)
    comment = PublicComment("SD-1", "clarification.reminder", "reminder 1 of 3", body="Any news?", language="en",
                            template="clarification_reminder")
    [deferred] = within_hours([comment], "Muster AG", saturday, windowed)
    assert deferred == Deferred("SD-1", "clarification.reminder", deferred.reason, not_before=datetime(2026, 2, 9, 0, 0, tzinfo=BERLIN))
    assert deferred.reason == ("hours.window: due now, but it is a weekend in region emea (Sat 2026-02-07 09:00 CET); "
                               "carried out from 2026-02-09 00:00 CET: reminder 1 of 3")
