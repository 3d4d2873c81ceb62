"""The durable event store: every acknowledged delivery, its processing state, its dead letters.

One small interface over SQLAlchemy Core, chosen by the URL in `JSM_AUTOPILOT_DB`: SQLite (WAL) as
the embedded default, PostgreSQL for several replicas. Workers claim events so that two never
hold the same event, nor two events of the same ticket, at once: PostgreSQL skips rows another
worker has locked (`FOR UPDATE SKIP LOCKED`); on both, the claim is a conditional UPDATE that only
one claimant can win.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, bindparam, create_engine, delete, event, exists, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateIndex

from jsm_autopilot.errors import StoreMissing, StoreNotWritable, StoreUnavailable
from jsm_autopilot.store.delivery_writer import DeliveryWriter
from jsm_autopilot.store.group_commit import GroupCommit, Locked
from jsm_autopilot.store.location import (  # noqa: F401  (where the store is: part of the store's interface)
    DATABASE_ENVIRONMENT_VARIABLE,
    STATE_DIRECTORY_NAME,
    database_url,
    default_database_path,
    file_exists,
    require_writable_file,
    sqlite_file,
)
from jsm_autopilot.store.schema import (  # noqa: F401  (the tables are part of the store's interface)
    RETIRED_INDEXES,
    SCHEMA_VERSION,
    deliveries,
    events,
    late_notes,
    learned,
    leases,
    metadata,
    schema_versions,
    shadow_firings,
    sweep_marks,
    ticket_schedule,
)


@dataclass(frozen=True)
class StoredEvent:
    id: int
    identifier: str
    event: str
    issue: str | None
    status: str
    received: datetime
    attempts: int
    error: str | None
    body: bytes
    # Every event of this ticket taken with it: one re-read of the ticket answers them all.
    batch: tuple[int, ...] = ()

    def as_json(self) -> dict:
        return {"identifier": self.identifier, "event": self.event, "issue": self.issue, "status": self.status,
                "received": self.received.isoformat(), "attempts": self.attempts, "error": self.error}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers do not block the writer. FULL: a commit is on disk before the 202 goes out.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def one_line(error: BaseException) -> str:
    """A database error as one line: the driver's own words, without SQLAlchemy's SQL and link."""
    said = str(getattr(error, "orig", None) or error).strip()
    return said.splitlines()[0] if said else type(error).__name__


SQLITE_CONNECT = {"check_same_thread": False, "timeout": 30}
# What a delivery's row is given on arrival; the rest stays at its column's default.
DELIVERY_COLUMNS = ("identifier", "event", "issue", "status", "received", "available_at", "attempts", "delivery_retry", "updated", "body")


class EventStore:
    def __init__(self, url: str | None = None, create: bool = True):
        """`create=False` for commands that only read: a missing SQLite file is `StoreMissing`."""
        self.url = url or database_url()
        file = sqlite_file(self.url)
        if file is not None:
            if not file_exists(file) and not create:
                raise StoreMissing(f"no store at {file} (set {DATABASE_ENVIRONMENT_VARIABLE} to the one `serve` uses)")
            if create:
                require_writable_file(file)
        try:
            sqlite = self.url.startswith("sqlite")
            if sqlite:
                self.engine: Engine = create_engine(self.url, connect_args=SQLITE_CONNECT)
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10)
            # Deliveries have an engine of their own, in autocommit: the batch is one INSERT, atomic
            # by itself, so one statement instead of BEGIN, INSERT, COMMIT (and, on PostgreSQL, one
            # round trip and no ping before each use). One leader commits at a time (GroupCommit),
            # so one connection serves; one the server dropped is replaced and the batch written
            # again (DeliveryWriter).
            self._intake_engine = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=2,
                                                **({"connect_args": SQLITE_CONNECT} if sqlite else {"pool_pre_ping": False}))
            if sqlite:
                event.listen(self._intake_engine, "connect", _sqlite_pragmas)
        except (SQLAlchemyError, ImportError) as error:
            raise StoreUnavailable(f"cannot open {self._safe_url()}: {one_line(error)}") from None
        self.is_postgres = self.engine.dialect.name == "postgresql"
        # SQLite has one writer at a time, and its busy handler waits in growing sleeps (up to
        # 100 ms) when threads collide; queueing this process's writers on a lock instead keeps
        # acknowledgement latency flat. Other processes still meet the busy timeout.
        self._writing = nullcontext() if self.is_postgres else threading.Lock()
        self._deliveries = DeliveryWriter(self._intake_engine, events, DELIVERY_COLUMNS, "identifier", self._writing)
        self._group = GroupCommit(self._insert_deliveries)
        self._claim_statements = _claim_statements(self.is_postgres)

    def _insert(self, table: Table):
        """INSERT with this backend's ON CONFLICT DO NOTHING."""
        return postgresql_insert(table) if self.is_postgres else sqlite_insert(table)

    def _write(self):
        """A write transaction, queued behind this process's other writers on SQLite."""
        return Locked(self._writing, self.engine)

    @property
    def location(self) -> str:
        """Where the store is, as a person reads it (never a password)."""
        file = sqlite_file(self.url)
        return str(file) if file is not None else self._safe_url()

    def _safe_url(self) -> str:
        # Never log a password that may be in the URL.
        try:
            return self.engine.url.render_as_string(hide_password=True)
        except AttributeError:
            return self.url.split("@")[-1]

    def migrate(self) -> None:
        """Create the schema, or bring an older one up to date."""
        try:
            metadata.create_all(self.engine)
            with self.engine.begin() as connection:
                for retired in RETIRED_INDEXES:
                    connection.execute(text(f"DROP INDEX IF EXISTS {retired}"))
                for index in events.indexes:  # create_all makes no index for a table that exists
                    connection.execute(CreateIndex(index, if_not_exists=True))
                current = connection.execute(select(func.max(schema_versions.c.version))).scalar()
                if current is None:
                    connection.execute(insert(schema_versions).values(version=SCHEMA_VERSION))
                elif current < SCHEMA_VERSION:
                    # Versions so far only added tables and indexes, made just above.
                    connection.execute(update(schema_versions).values(version=SCHEMA_VERSION))
                elif current > SCHEMA_VERSION:
                    raise StoreUnavailable(f"the database has schema {current}, newer than this version knows ({SCHEMA_VERSION})")
        except SQLAlchemyError as error:
            self._diagnose_files()
            raise StoreUnavailable(f"cannot prepare {self._safe_url()}: {one_line(error)}") from None

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def writable(self, now: datetime) -> bool:
        """Whether a write commits now (a read-only file, a full disk or a replica in recovery say no)."""
        try:
            self._probe_write(now)
            return True
        except SQLAlchemyError:
            return False

    def _probe_write(self, now: datetime) -> None:
        probe = "probe:writable"
        with self._write() as connection:
            connection.execute(self._insert(leases).values(name=probe, holder=None, expires_at=now).on_conflict_do_nothing(index_elements=["name"]))
            connection.execute(update(leases).where(leases.c.name == probe).values(expires_at=now))

    def require_writable(self, now: datetime) -> None:
        """Raise StoreNotWritable, in one line that names the store, the variable and the fix, unless
        a write commits now. Call it after `migrate` (the probe writes a row of the schema)."""
        try:
            self._probe_write(now)
        except SQLAlchemyError as error:
            self._diagnose_files()
            raise StoreNotWritable(f"cannot write the store at {self.location} ({one_line(error)}): set {DATABASE_ENVIRONMENT_VARIABLE} "
                                   f"to a store this account may write", str(self.location)) from None

    def _diagnose_files(self) -> None:
        """After a failed write to SQLite: StoreNotWritable naming the file or directory at fault,
        which the database's own error ("unable to open database file") does not."""
        file = sqlite_file(self.url)
        if file is not None:
            require_writable_file(file)

    def add(self, identifier: str, event_name: str, issue: str | None, body: bytes, handled: bool,
            now: datetime, delivery_retry: int = 0, settle: timedelta = timedelta(0)) -> bool:
        """Store a delivery once; False when that identifier was already stored (a re-delivery).
        A worker takes it `settle` after receipt, with whatever else came for its ticket meanwhile."""
        return self.add_many([(identifier, event_name, issue, body, handled, delivery_retry)], now, settle)[0]

    def add_many(self, deliveries: list[tuple[str, str, str | None, bytes, bool, int]], now: datetime,
                 settle: timedelta = timedelta(0)) -> list[bool]:
        """`add` for several deliveries (identifier, event, issue, body, handled, retry) in one
        commit: whether each was new."""
        available_at = now + settle
        return self._group.add_many([
            dict(identifier=identifier, event=event_name, issue=issue, status="pending" if handled else "ignored",
                 received=now, available_at=available_at, attempts=0, delivery_retry=retry, updated=now, body=body)
            for identifier, event_name, issue, body, handled, retry in deliveries])

    def _insert_deliveries(self, batch: list[dict]) -> list[bool]:
        """One statement, one commit, one disk flush, for every delivery that arrived while the last one committed."""
        firsts: dict[str, dict] = {}
        for values in batch:
            firsts.setdefault(values["identifier"], values)
        inserted = self._deliveries.write(list(firsts.values()))
        stored, seen = [], set()
        for values in batch:  # a re-delivery within the same batch is a duplicate too
            stored.append(values["identifier"] in inserted and values["identifier"] not in seen)
            seen.add(values["identifier"])
        return stored

    def claim(self, worker: str, now: datetime, lease: timedelta) -> StoredEvent | None:
        """The oldest event that is due, whose ticket no other worker holds and has nothing older waiting."""
        candidates, take = self._claim_statements
        times = {"claim_now": now, "claim_until": now + lease}
        try:
            with self._write() as connection:
                found = min((id_ for query in candidates if (id_ := connection.execute(query, times).scalar()) is not None), default=None)
                if found is None:
                    return None
                won = connection.execute(take, {**times, "claim_id": found, "claim_worker": worker}).rowcount
                if won != 1:
                    return None
                row = connection.execute(select(events).where(events.c.id == found)).one()
                # The ticket's later events ride along, settled or not: they all say "ticket X
                # changed", and the worker reads the ticket only after this claim. Events waiting
                # for a retry keep their own time.
                companions = select(events.c.id).where(events.c.issue == row.issue, events.c.id > found,
                                                       events.c.status == "pending", events.c.attempts == 0)
                batch = (found, *connection.execute(companions).scalars())
                if len(batch) > 1:
                    connection.execute(update(events).where(events.c.id.in_(batch[1:])).values(
                        status="processing", locked_by=worker, locked_until=now + lease, updated=now))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot claim an event: {error}") from None
        return _stored(row, batch)

    def _finish(self, claimed: StoredEvent, now: datetime, **values) -> None:
        ids = claimed.batch or (claimed.id,)
        try:
            with self._write() as connection:
                connection.execute(update(events).where(events.c.id.in_(ids)).values(updated=now, locked_by=None, locked_until=None, **values))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot update event {claimed.identifier}: {error}") from None

    def complete(self, claimed: StoredEvent, now: datetime) -> None:
        self._finish(claimed, now, status="done", error=None)

    def retry_later(self, claimed: StoredEvent, now: datetime, at: datetime, error: str, attempt: bool = True) -> None:
        """Processing failed (one more attempt counted), or, with `attempt=False`, could not start
        (the ticket was busy): an interrupted or refused claim is no attempt."""
        attempts = {"attempts": events.c.attempts + 1} if attempt else {}
        self._finish(claimed, now, status="pending", available_at=at, error=error, **attempts)

    def defer(self, claimed: StoredEvent, now: datetime, at: datetime) -> None:
        """Handled for now, but look at the ticket again at `at` (not a failure: no attempt counted)."""
        self._finish(claimed, now, status="pending", available_at=at, attempts=0, error=None)

    def fail(self, claimed: StoredEvent, now: datetime, error: str) -> None:
        """The dead letter: kept with its reason, taken again only by `replay`."""
        self._finish(claimed, now, status="failed", error=error, attempts=events.c.attempts + 1)

    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease `name` for `holder`; False while someone else holds it."""
        try:
            with self._write() as connection:
                connection.execute(self._insert(leases).values(name=name, holder=None, expires_at=now).on_conflict_do_nothing(index_elements=["name"]))
                return connection.execute(update(leases).where(
                    leases.c.name == name, or_(leases.c.holder.is_(None), leases.c.holder == holder, leases.c.expires_at < now)
                ).values(holder=holder, expires_at=now + ttl)).rowcount == 1
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot take lease {name}: {error}") from None

    def drop_lease(self, name: str, holder: str, wrote_at: datetime | None = None) -> None:
        values: dict = {"holder": None}
        if wrote_at is not None:
            values["last_write"] = wrote_at
        try:
            with self._write() as connection:
                connection.execute(update(leases).where(leases.c.name == name, leases.c.holder == holder).values(**values))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot drop lease {name}: {error}") from None

    def last_write(self, name: str) -> datetime | None:
        try:
            with self.engine.connect() as connection:
                return connection.execute(select(leases.c.last_write).where(leases.c.name == name)).scalar()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read lease {name}: {error}") from None

    def delivery_record(self, name: str) -> tuple[str | None, datetime] | None:
        """The issue key recorded under `name` and when, or None when nothing was recorded."""
        try:
            with self.engine.connect() as connection:
                row = connection.execute(select(deliveries.c.issue_key, deliveries.c.recorded).where(deliveries.c.name == name)).first()
                return (row[0], row[1]) if row is not None else None
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read delivery {name}: {error}") from None

    def remember_delivery(self, name: str, issue_key: str | None, now: datetime) -> None:
        try:
            with self._write() as connection:
                connection.execute(self._insert(deliveries).values(name=name, issue_key=issue_key, recorded=now)
                                   .on_conflict_do_nothing(index_elements=["name"]))
                connection.execute(update(deliveries).where(deliveries.c.name == name).values(issue_key=issue_key, recorded=now))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot record delivery {name}: {error}") from None

    def holders(self) -> set[str]:
        """Names of the workers holding events right now."""
        try:
            with self.engine.connect() as connection:
                return {name for name in connection.execute(
                    select(events.c.locked_by).where(events.c.status == "processing").distinct()).scalars() if name}
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot list holders: {error}") from None

    def lease_holders(self) -> set[str]:
        """Who holds a lease (a sweep, a ticket) right now, expired or not."""
        try:
            with self.engine.connect() as connection:
                return {h for h in connection.execute(select(leases.c.holder).where(leases.c.holder.is_not(None)).distinct()).scalars()}
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot list lease holders: {error}") from None

    def release_leases(self, process: str) -> int:
        """Drop the leases of a process known to be gone (its name, or its threads' `name/...`)."""
        try:
            with self._write() as connection:
                return connection.execute(update(leases).where(
                    or_(leases.c.holder == process, leases.c.holder.startswith(f"{process}/", autoescape=True))).values(holder=None)).rowcount
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot release the leases of {process}: {error}") from None

    def release(self, holder: str, now: datetime) -> int:
        """Give back the events of a worker known to be dead, without waiting for its lease."""
        try:
            with self._write() as connection:
                return connection.execute(update(events).where(events.c.status == "processing", events.c.locked_by == holder).values(
                    status="pending", locked_by=None, locked_until=None, available_at=now, updated=now)).rowcount
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot release events of {holder}: {error}") from None

    def replay(self, now: datetime, identifier: str | None = None, failed: bool = False) -> int:
        """Put events back in the queue: one by identifier, or every failed one."""
        condition = events.c.identifier == identifier if identifier is not None else events.c.status == "failed"
        if not failed and identifier is None:
            return 0
        try:
            with self._write() as connection:
                return connection.execute(update(events).where(condition, events.c.status != "processing").values(
                    status="pending", available_at=now, attempts=0, updated=now, locked_by=None, locked_until=None)).rowcount
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot replay: {error}") from None

    def find_event(self, identifier: str) -> StoredEvent | None:
        """The stored event with this identifier (the webhook's delivery identifier), if any."""
        try:
            with self.engine.connect() as connection:
                row = connection.execute(select(events).where(events.c.identifier == identifier)).first()
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read event {identifier}: {one_line(error)}") from None
        return _stored(row) if row is not None else None

    def list_events(self, failed_only: bool = False, limit: int = 1000) -> list[StoredEvent]:
        query = select(events).order_by(events.c.id.desc()).limit(limit)
        if failed_only:
            query = query.where(events.c.status == "failed")
        try:
            with self.engine.connect() as connection:
                return [_stored(row) for row in connection.execute(query)]
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot list events: {error}") from None

    def counts(self) -> dict[str, int]:
        try:
            with self.engine.connect() as connection:
                return {status: n for status, n in connection.execute(select(events.c.status, func.count()).group_by(events.c.status))}
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot count events: {error}") from None

    def save_learned(self, name: str, model: str, now: datetime) -> None:
        try:
            with self._write() as connection:
                connection.execute(self._insert(learned).values(name=name, model=model, learned_at=now)
                                   .on_conflict_do_nothing(index_elements=["name"]))
                connection.execute(update(learned).where(learned.c.name == name).values(model=model, learned_at=now))
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot keep the learned {name}: {error}") from None

    def forget_learned(self, name: str) -> bool:
        """Drop what was learned under `name`; whether there was anything."""
        try:
            with self._write() as connection:
                return connection.execute(delete(learned).where(learned.c.name == name)).rowcount > 0
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot forget the learned {name}: {error}") from None

    def learned(self, name: str) -> tuple[str, datetime] | None:
        """What was learned under `name`, and when; None when nothing was."""
        try:
            with self.engine.connect() as connection:
                row = connection.execute(select(learned.c.model, learned.c.learned_at).where(learned.c.name == name)).first()
                return (row[0], row[1]) if row is not None else None
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot read the learned {name}: {error}") from None

    def has_work(self, now: datetime) -> bool:
        """An event is being handled, or a worker could claim one by `now`: not one deferred to
        later, nor one queued behind an older event of its ticket."""
        e, older = events.alias("e"), events.alias("older")
        older_waiting = exists().where(older.c.issue == e.c.issue, older.c.id < e.c.id,
                                       older.c.status.in_(("pending", "processing")))
        due = or_(e.c.status == "processing", and_(e.c.status == "pending", e.c.available_at <= now, ~older_waiting))
        try:
            with self.engine.connect() as connection:
                return bool(connection.execute(select(exists().where(due))).scalar())
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot look for work: {error}") from None

    def dispose(self) -> None:
        self._deliveries.close()
        self.engine.dispose()
        self._intake_engine.dispose()


def _claim_statements(is_postgres: bool) -> tuple[list, object]:
    """The claim's queries, built once (building them anew was two fifths of a claim's CPU): the
    first free event of each claimable status, and taking it."""
    now, until = bindparam("claim_now", type_=events.c.updated.type), bindparam("claim_until", type_=events.c.updated.type)
    e, busy, older = events.alias("e"), events.alias("busy"), events.alias("older")
    ticket_busy = exists().where(busy.c.issue == e.c.issue, busy.c.status == "processing", busy.c.id != e.c.id,
                                 busy.c.locked_until >= now)
    older_waiting = exists().where(older.c.issue == e.c.issue, older.c.status.in_(("pending", "processing")),
                                   older.c.id < e.c.id)
    free = and_(e.c.available_at <= now, ~ticket_busy, ~older_waiting)
    # One query per status, each walking its index in id order to the first free event. One query
    # for both sorted every due event, its subqueries run for each, before taking the first: 20 ms
    # with 4,000 events waiting, under the write lock that intake needs too.
    candidates = [select(e.c.id).where(e.c.status == "pending", free).order_by(e.c.id).limit(1),
                  select(e.c.id).where(e.c.status == "processing", e.c.locked_until < now, free).order_by(e.c.id).limit(1)]
    if is_postgres:
        candidates = [query.with_for_update(skip_locked=True, of=e) for query in candidates]
    still_claimable = or_(events.c.status == "pending", and_(events.c.status == "processing", events.c.locked_until < now))
    take = update(events).where(events.c.id == bindparam("claim_id"), still_claimable).values(
        status="processing", locked_by=bindparam("claim_worker"), locked_until=until, updated=now)
    return candidates, take


def _stored(row, batch: tuple[int, ...] = ()) -> StoredEvent:
    return StoredEvent(row.id, row.identifier, row.event, row.issue, row.status, row.received, row.attempts, row.error, row.body, batch)
