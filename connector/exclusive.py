"""One sweep per project at a time on this host.

Jira offers no compare-and-set, so two sweeps that read the same ticket before either writes would
both act. `sweep --once` therefore holds an exclusive lock for its project; the service's own
scheduler and, across replicas, the store's lease take this role (issue 6).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from jsm_autopilot.errors import AlreadyRunning

LOCK_ENVIRONMENT_VARIABLE = "JSM_AUTOPILOT_LOCK_DIR"


def lock_path(project_key: str) -> Path:
    directory = Path(os.environ.get(LOCK_ENVIRONMENT_VARIABLE) or tempfile.gettempdir())
    return directory / f"jsm-autopilot-{project_key}.lock"


@contextmanager
def exclusive_sweep(project_key: str) -> Iterator[Path]:
    path = lock_path(project_key)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another sweep of {project_key} is running (lock {path}); this one did nothing", project_key, str(path)) from None
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
