"""The event store, the same tests on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from jsm_autopilot.store.event_store import EventStore

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)


def add(store: EventStore, identifier: str, issue: str = "SD-1", handled: bool = True, at: datetime = T0) -> bool:
    return store.add(identifier, "comment_created", issue, b'{"webhookEvent": "comment_created"}', handled, at)


def test_a_delivery_is_stored_once(store):
    assert add(store, "a") is True
    assert add(store, "a") is False
    assert [e.identifier for e in store.list_events()] == ["a"]


def test_ignored_events_are_recorded_but_never_claimed(store):
    add(store, "x", handled=False)
    assert store.list_events()[0].status == "ignored"
    assert store.claim("w", T0, LEASE) is None


def test_a_tickets_waiting_events_are_taken_together_and_by_one_worker(store):
    add(store, "1", "SD-1")
    add(store, "2", "SD-1")
    add(store, "3", "SD-2")
    first = store.claim("w1", T0, LEASE)
    second = store.claim("w2", T0, LEASE)
    assert (first.identifier, second.identifier) == ("1", "3")
    assert len(first.batch) == 2  # "2" rides along: one re-read of SD-1 answers both
    assert store.claim("w3", T0, LEASE) is None
    store.complete(first, T0)
    assert {e.identifier: e.status for e in store.list_events()} == {"1": "done", "2": "done", "3": "processing"}


def test_an_event_arriving_while_its_ticket_is_held_waits_for_the_next_turn(store):
    add(store, "1", "SD-1")
    held = store.claim("w1", T0, LEASE)
    add(store, "2", "SD-1")  # came in after the worker started reading SD-1
    assert store.claim("w2", T0, LEASE) is None
    store.complete(held, T0)
    assert store.claim("w2", T0, LEASE).identifier == "2"


def test_a_dead_workers_event_is_taken_again_after_its_lease_and_the_interrupted_claim_is_no_attempt(store):
    add(store, "1")
    taken = store.claim("w1", T0, LEASE)
    assert store.claim("w2", T0 + LEASE - timedelta(seconds=1), LEASE) is None
    again = store.claim("w2", T0 + LEASE + timedelta(seconds=1), LEASE)
    assert again.id == taken.id and again.attempts == 0  # killed before it could fail: not an attempt
    store.retry_later(again, T0, T0, "Jira said 502")
    assert store.claim("w2", T0 + LEASE * 2, LEASE).attempts == 1


def test_retry_later_waits_for_its_time(store):
    add(store, "1")
    event = store.claim("w", T0, LEASE)
    store.retry_later(event, T0, T0 + timedelta(minutes=1), "Jira said 503")
    assert store.claim("w", T0 + timedelta(seconds=59), LEASE) is None
    assert store.claim("w", T0 + timedelta(minutes=1), LEASE).error == "Jira said 503"


def test_failed_events_stay_with_their_reason_until_replayed(store):
    add(store, "1")
    add(store, "2", "SD-2")
    store.fail(store.claim("w", T0, LEASE), T0, "GET issue/SD-1 -> 403: no permission")
    failed = store.list_events(failed_only=True)
    assert [(e.identifier, e.error) for e in failed] == [("1", "GET issue/SD-1 -> 403: no permission")]
    assert store.claim("w", T0, LEASE).identifier == "2"
    assert store.replay(T0, failed=True) == 1
    assert store.claim("w", T0, LEASE).identifier == "1"


def test_replay_one_by_identifier(store):
    add(store, "1")
    store.complete(store.claim("w", T0, LEASE), T0)
    assert store.replay(T0, identifier="1") == 1
    assert store.replay(T0, identifier="nope") == 0
    assert store.claim("w", T0, LEASE).identifier == "1"


def test_migrating_twice_changes_nothing(store):
    add(store, "1")
    store.migrate()
    assert len(store.list_events()) == 1


def test_naive_times_are_refused(store):
    with pytest.raises(Exception, match="naive"):
        add(store, "1", at=datetime(2026, 1, 1))


def test_a_delivery_that_cannot_be_written_leaves_intake_open_for_the_next(store):
    """The request that commits for the others (group commit) may fail on a value the store
    refuses; it answers 503 and the next delivery is still stored, not left waiting for a commit
    that never ends."""
    from jsm_autopilot.errors import StoreUnavailable

    result: list = []
    failing = threading.Thread(target=lambda: result.append(pytest.raises(StoreUnavailable, add, store, "bad", at=datetime(2026, 1, 1))))
    failing.start()
    failing.join(timeout=10)
    assert result and "naive" in str(result[0].value)
    after = threading.Thread(target=lambda: result.append(add(store, "good")))
    after.start()
    after.join(timeout=10)
    assert result[1:] == [True] and [e.identifier for e in store.list_events()] == ["good"]


def test_deliveries_added_together_are_each_told_whether_they_were_new(store):
    add(store, "old")
    deliveries = [(identifier, "comment_created", "SD-1", b"{}", True, 0) for identifier in ("new", "old", "new", "other")]
    assert store.add_many(deliveries, T0) == [True, False, False, True]  # a repeat within the batch is a duplicate too
    assert store.add_many([], T0) == []
    assert sorted(e.identifier for e in store.list_events()) == ["new", "old", "other"]


def test_rows_added_together_wait_for_a_commit_under_way_and_share_the_next():
    from jsm_autopilot.store.group_commit import GroupCommit

    batches: list[list] = []
    under_way, release = threading.Event(), threading.Event()

    def commit(rows: list[dict]) -> list:
        batches.append([row["n"] for row in rows])
        if len(batches) == 1:
            under_way.set()
            release.wait(10)
        return [row["n"] * 10 for row in rows]

    class Line(list):
        """The group's line, saying when rows join it."""
        joined = threading.Event()

        def extend(self, rows) -> None:
            super().extend(rows)
            self.joined.set()

    group, outcomes = GroupCommit(commit), {}
    first = threading.Thread(target=lambda: outcomes.update(first=group.add({"n": 1})))
    first.start()
    assert under_way.wait(10)
    group._pending = line = Line()  # the first leader has taken its batch: the line is empty
    together = threading.Thread(target=lambda: outcomes.update(together=group.add_many([{"n": 2}, {"n": 3}])))
    together.start()
    assert line.joined.wait(10)
    release.set()
    first.join(10)
    together.join(10)
    assert batches == [[1], [2, 3]]
    assert outcomes == {"first": 10, "together": [20, 30]}


def test_concurrent_workers_never_take_the_same_event_or_ticket(store):
    for n in range(120):
        add(store, f"e{n}", f"SD-{n % 7}")
    taken: list[str] = []
    holding: dict[str, str] = {}
    overlap: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        idle = 0
        while idle < 50:
            event = store.claim(name, T0, LEASE)
            if event is None:
                idle += 1
                continue
            with lock:
                if event.issue in holding:
                    overlap.append(f"{event.issue} held by {holding[event.issue]} and {name}")
                holding[event.issue] = name
                taken.extend(event.batch)
            with lock:
                del holding[event.issue]
            store.complete(event, T0)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlap == []
    identifiers = {e.id: e.identifier for e in store.list_events()}
    assert sorted(identifiers[i] for i in taken) == sorted(f"e{n}" for n in range(120)), "each event taken exactly once"
    order = defaultdict(list)
    for event_id in taken:
        order[int(identifiers[event_id][1:]) % 7].append(event_id)
    assert all(ids == sorted(ids) for ids in order.values()), "each ticket's events in the order received"


def test_counts_by_status(store):
    add(store, "1")
    add(store, "2", handled=False)
    assert store.counts() == {"pending": 1, "ignored": 1}


def test_an_event_settles_before_a_worker_takes_it_with_its_burst(store):
    settle = timedelta(seconds=2)
    store.add("1", "jira:issue_updated", "SD-1", b"{}", True, T0, settle=settle)
    store.add("2", "comment_created", "SD-1", b"{}", True, T0 + timedelta(seconds=1), settle=settle)
    assert store.claim("w", T0 + timedelta(seconds=1), LEASE) is None
    taken = store.claim("w", T0 + settle, LEASE)
    assert taken.identifier == "1" and len(taken.batch) == 2  # the later one rides along


def test_deliveries_arriving_together_share_commits_and_each_is_stored_once(store):
    """Group commit (issue 16): requests that arrive while one commit is flushed share the next;
    each still learns whether its delivery was new, and a re-delivery in the same batch is not."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(8)

    def send(n: int) -> bool:
        if n < 8:
            start.wait()
        return store.add(f"id-{n % 150}", "comment_created", f"SD-{n % 7 + 1}", b"{}", True, T0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, range(300)))
    assert sum(answers) == 150  # each identifier new exactly once
    assert len(store.list_events(limit=1000)) == 150


def test_deliveries_go_on_after_postgresql_dropped_the_intake_connection():
    """The intake pool skips the ping before each use (issue 16); a connection the server dropped
    (a restart, an idle timeout) is replaced and the batch written again, not answered 503."""
    from sqlalchemy import text

    from tests.conftest import empty_postgres_store

    store = empty_postgres_store()
    store.migrate()
    assert add(store, "before") is True
    with store.engine.begin() as connection:
        dropped = connection.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert dropped >= 1
    assert add(store, "after") is True
    assert add(store, "after") is False
    assert sorted(e.identifier for e in store.list_events()) == ["after", "before"]
    store.dispose()


def test_a_delivery_is_stored_as_the_rest_of_the_store_reads_it(store):
    """Deliveries are written on the driver's connection, not through SQLAlchemy's execution
    (issue 16); the rows must still be what SQLAlchemy would have stored: times in UTC whatever
    zone they came in, the body's bytes unchanged, the event taken when its settle time is over."""
    berlin = timezone(timedelta(hours=2))
    body = bytes(range(256)) + b'{"webhookEvent": "comment_created"}'
    assert store.add("zoned", "comment_created", "SD-4", body, True, T0.astimezone(berlin), settle=timedelta(seconds=30)) is True
    [stored] = store.list_events()
    assert stored.received == T0 and stored.received.utcoffset() == timedelta(0)
    assert stored.body == body and (stored.event, stored.issue, stored.status, stored.attempts) == ("comment_created", "SD-4", "pending", 0)
    assert store.claim("w", T0 + timedelta(seconds=29), LEASE) is None
    assert store.claim("w", T0 + timedelta(seconds=30), LEASE).identifier == "zoned"


def test_a_batch_larger_than_one_statement_is_stored_whole_and_names_what_was_new(store):
    from jsm_autopilot.store.delivery_writer import ROWS_PER_STATEMENT

    def row(n: int) -> dict:
        return dict(identifier=f"id-{n}", event="comment_created", issue="SD-1", status="pending", received=T0,
                    available_at=T0, attempts=0, delivery_retry=0, updated=T0, body=b"{}")

    already = [row(n) for n in range(0, 2 * ROWS_PER_STATEMENT + 50, 7)]
    assert store._deliveries.write(already) == {r["identifier"] for r in already}
    everything = [row(n) for n in range(2 * ROWS_PER_STATEMENT + 50)]
    new = store._deliveries.write(everything)
    assert new == {r["identifier"] for r in everything} - {r["identifier"] for r in already}
    assert store.counts()["pending"] == len(everything)


def test_a_claim_costs_the_same_however_many_events_wait(tmp_path):
    """Work proportional to change (issue 16): a claim walks its index to the first free event.
    The single query it replaced sorted every due event, its two subqueries run for each: 20 ms
    with 4,000 waiting, under the write lock that intake needs too. Counted here in SQLite's own
    virtual-machine instructions, which do not depend on the machine's speed."""
    from sqlalchemy import event

    def instructions_to_claim(waiting: int) -> int:
        store = EventStore(f"sqlite:///{tmp_path / f'{waiting}.db'}")
        counted = [0]

        def count(dbapi_connection, _record):
            dbapi_connection.set_progress_handler(lambda: counted.__setitem__(0, counted[0] + 1), 10)

        event.listen(store.engine, "connect", count)  # the claim's engine; deliveries have their own
        store.migrate()
        for n in range(waiting):
            add(store, f"id-{n}", issue=f"SD-{n // 10 + 1}")  # ten events a ticket, as many tickets as it takes
        first = store.claim("w1", T0, LEASE)  # the oldest; its ticket's later events ride along
        counted[0] = 0
        second = store.claim("w2", T0, LEASE)
        store.dispose()
        assert (first.identifier, second.identifier) == ("id-0", "id-10")
        return counted[0]

    few, many = instructions_to_claim(30), instructions_to_claim(3000)
    assert many < 2 * few, (few, many)


def test_migrating_from_version_8_replaces_the_claim_indexes(store):
    """Stores made before schema 9 have the indexes the claim used to sort with: `migrate` drops
    them (each index costs every delivery's insert) and makes the new ones, keeping every event."""
    from sqlalchemy import inspect, text, update

    from jsm_autopilot.store.schema import RETIRED_INDEXES, SCHEMA_VERSION, events, schema_versions

    add(store, "kept")
    with store.engine.begin() as connection:
        for index in events.indexes:
            connection.execute(text(f"DROP INDEX {index.name}"))
        connection.execute(text("CREATE INDEX ix_webhook_events_claim ON webhook_events (status, available_at)"))
        connection.execute(text("CREATE INDEX ix_webhook_events_issue ON webhook_events (issue, id)"))
        connection.execute(update(schema_versions).values(version=8))
    store.migrate()
    names = {index["name"] for index in inspect(store.engine).get_indexes("webhook_events")}
    assert names >= {index.name for index in events.indexes} and not names & set(RETIRED_INDEXES)
    assert [e.identifier for e in store.list_events()] == ["kept"]
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT max(version) FROM jsm_autopilot_schema")).scalar() == SCHEMA_VERSION
