"""`serve --watch-config`: reload app.yaml when the file changes, without a signal.

Polls the file's status rather than subscribing to file-system events: a Kubernetes ConfigMap
changes by swapping a symlink two levels up, which an inotify watch on the file never sees, while
`stat` (which follows links) does. Every couple of seconds costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger("jsm_autopilot.serve")


def _signature(path: Path) -> tuple | None:
    try:
        status = os.stat(path)
    except OSError:
        return None  # gone for a moment (an editor's save, a symlink swap): the next look decides
    return status.st_ino, status.st_size, status.st_mtime_ns


class ConfigWatch:
    def __init__(self, path: Path, on_change: Callable[[], object], every: float = 2.0):
        self.path, self.on_change, self.every = path, on_change, every
        self._seen = _signature(path)

    def look(self) -> bool:
        """Reload if the file differs from the last look; True when it did."""
        now = _signature(self.path)
        if now is None or now == self._seen:
            return False
        self._seen = now
        log.info("%s changed: reloading", self.path, extra={"reload": "file changed"})
        self.on_change()
        return True

    def run_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.every):
            self.look()
