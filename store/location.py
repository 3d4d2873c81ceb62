"""Where the store lives, and whether this account can write there: the database URL from
`JSM_AUTOPILOT_DB`, else an SQLite file in the state directory; an SQLite file's directory and file
checked before the first write, so that every command that writes says in one line which path
fails, why, and what to do, instead of a database error or a traceback."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jsm_autopilot.errors import StoreNotWritable, StoreUnavailable

DATABASE_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_DB"
STATE_DIRECTORY_NAME = "jsm-autopilot"


def default_database_path(environ=os.environ) -> Path:
    """In the user's state directory (XDG Base Directory: `$XDG_STATE_HOME`, else ~/.local/state),
    never the working directory: the service finds the same store wherever it is started from."""
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / STATE_DIRECTORY_NAME / "jsm-autopilot.db"


def database_url(environ=os.environ) -> str:
    return environ.get(DATABASE_ENVIRONMENT_VARIABLE) or f"sqlite:///{default_database_path(environ)}"


def _cannot_write(file: Path, cause: str, blocked: Path) -> StoreNotWritable:
    return StoreNotWritable(f"cannot write the store at {file} ({cause}): set {DATABASE_ENVIRONMENT_VARIABLE} to a writable path, "
                            f"or make {blocked} writable", str(file))


def _cause(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


def require_writable_file(file: Path) -> None:
    """Raise StoreNotWritable unless SQLite can write `file`: its directory exists (made here if it
    can be) and takes new files (SQLite keeps its journal beside the database), and the file and its
    journal, where they exist, open for writing. Root ignores file modes, but not a read-only file
    system."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        # The directory it could not make lies in one this account may not write.
        blocked = Path(error.filename).parent if error.filename else file.parent.parent
        raise _cannot_write(file, _cause(error), blocked) from None
    try:
        with tempfile.TemporaryFile(dir=file.parent, prefix=".jsm-autopilot-probe-"):
            pass
    except OSError as error:
        raise _cannot_write(file, _cause(error), file.parent) from None
    # The write-ahead log and its index, or a rollback journal, left by another account count too.
    for part in (file, *(file.with_name(file.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        try:
            with open(part, "r+b"):
                pass
        except FileNotFoundError:
            continue  # made by the first write
        except OSError as error:
            raise _cannot_write(file, _cause(error), part) from None


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for PostgreSQL or an in-memory database)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    return Path(path.removeprefix("file:")) if path and path != ":memory:" else None


def file_exists(file: Path) -> bool:
    """Whether the store's file exists; StoreUnavailable when a directory on the way may not be searched."""
    try:
        return file.exists()
    except OSError as error:
        raise StoreUnavailable(f"cannot read the store at {file} ({_cause(error)}): set {DATABASE_ENVIRONMENT_VARIABLE} to the store "
                               f"`serve` uses, or let this account read {file.parent}") from None
