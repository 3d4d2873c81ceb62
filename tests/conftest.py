from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from jsm_autopilot.config.loader import settings_from_mapping

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
BERLIN = ZoneInfo("Europe/Berlin")

GERMAN_STATUSES = {
    "opened": "Eröffnet",
    "in_review": "In Prüfung durch Service Desk",
    "clarification": "Klärung erforderlich / Angehalten",
    "in_progress": "In Bearbeitung",
    "delivery_pending": "Auslieferung ausstehend",
    "resolved": "Gelöst",
    "closed": "Geschlossen",
    "estimation_in_progress": "Schätzung in Arbeit",
    "estimation_available": "Schätzung verfügbar",
    "ordered": "Beauftragt",
    "planned": "Geplant",
    "delivered": "Ausgeliefert",
    "stage_installation_completed": "Stage-Installation abgeschlossen",
    "installation_completed": "Installation abgeschlossen",
    "hand_back_to": "In Prüfung durch Service Desk",
}


def shipped_settings_data() -> dict:
    return yaml.safe_load((ROOT / "app.yaml").read_text(encoding="utf-8"))


def without_hours_window(data: dict) -> dict:
    """The rules at the instants a test names, whatever the hour there: tests of timers, deliveries
    and the rest run at 10:00 Berlin, which is night in Melbourne. hours.window has tests of its own
    (tests/test_hours.py) on the shipped file as it is."""
    data["rules"]["enabled"] = [rule for rule in data["rules"]["enabled"] if rule != "hours.window"]
    return data


@pytest.fixture(scope="session")
def settings():
    return settings_from_mapping(without_hours_window(shipped_settings_data()), base_directory=ROOT)


@pytest.fixture(scope="session")
def german_settings():
    """A German site: only names change, no code."""
    data = without_hours_window(shipped_settings_data())
    data["statuses"] = GERMAN_STATUSES
    data["language"] = {"default": "de"}
    return settings_from_mapping(data, base_directory=ROOT)


def berlin(year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN)


ONE_SECOND = timedelta(seconds=1)


def settings_for_site(settings, deployment: str = "cloud"):
    """The shipped settings, with the automation account being the sandbox's bot user."""
    from jsm_autopilot.sandbox import account_id_for
    from tests.site import BOT

    account = account_id_for(BOT) if deployment == "cloud" else BOT
    project = settings.project.model_copy(update={"deployment": deployment})
    return settings.model_copy(update={"automation": settings.automation.model_copy(update={"account": account}), "project": project})


@pytest.fixture
def site_factory(settings):
    """Start sandbox sites whose traffic is checked against the published OpenAPI specs."""
    from jsm_autopilot.sandbox import new_state, start_sandbox
    from tests.contract import ContractRecorder
    from tests.site import Site

    started, recorder = [], ContractRecorder()

    def start(now: datetime, deployment: str = "cloud", fault_seed: int = 0, wrap=None) -> Site:
        site_settings = settings_for_site(settings, deployment)
        install = recorder.install if wrap is None else (lambda app: wrap(recorder.install(app)))
        running = start_sandbox(new_state(site_settings, deployment, now, fault_seed), wrap=install)
        started.append(running)
        return Site(running, site_settings)

    yield start
    for running in started:
        running.stop()
    served = sum(1 for running in started for r in running.state.requests if r["path"].startswith(("/rest/api/", "/rest/servicedeskapi/")))
    assert served == 0 or recorder.checked >= served, "the contract check missed traffic"
    assert recorder.violations == [], "traffic broke the published contract:\n" + "\n".join(recorder.violations[:20])


POSTGRES_URL = os.environ.get("JSM_AUTOPILOT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def empty_postgres_store():
    """The real PostgreSQL server of this machine, emptied; in CI its absence is a failure, not a skip."""
    from jsm_autopilot.store.event_store import EventStore, metadata

    event_store = EventStore(POSTGRES_URL)
    if not event_store.ping():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}; .ci/run should have started it")
        pytest.skip("PostgreSQL not reachable here")
    metadata.drop_all(event_store.engine)
    return event_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The event store on each backend."""
    from jsm_autopilot.store.event_store import EventStore

    event_store = EventStore(f"sqlite:///{tmp_path / 'events.db'}") if request.param == "sqlite" else empty_postgres_store()
    event_store.migrate()
    yield event_store
    event_store.dispose()


@pytest.fixture
def shop(site_factory, tmp_path):
    """A sandbox with organisations and tickets waiting in Delivery Pending (tests/delivery_site.py)."""
    from tests.delivery_site import stocked_shop

    stocked = stocked_shop(site_factory, tmp_path)
    yield stocked
    stocked.store.dispose()


def pytest_collection_modifyitems(items):
    # `-m "not sandbox"`: the tests that need no HTTP server, for the mutation script's many runs.
    for item in items:
        if {"site_factory", "shop"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture
def console_factory(site_factory, tmp_path):
    """The service with its console on a sandbox site, served on localhost (tests/console_site.py);
    stopped, with its store, after the test."""
    from jsm_autopilot.store.event_store import EventStore
    from tests.console_site import console_site

    started = []

    def start(**options):
        store = EventStore(f"sqlite:///{tmp_path}/console-{len(started)}.db")
        store.migrate()
        running = console_site(site_factory, store, **options)
        started.append((running, store))
        return running

    yield start
    for running, store in started:
        running.stop()
        store.dispose()


@pytest.fixture
def console(console_factory):
    """The console on a site whose one ticket has a reminder due, signing in through Atlassian."""
    return console_factory()
