"""Whether the service can do its work, for `/readyz`, and the pause when Jira refuses its
credentials. `/healthz` says only that the process answers (liveness): restarting a service
whose token was revoked fixes nothing, while taking it out of rotation tells the admin.

A revoked token must not turn every pending event into a dead letter: on a 401 (or a 403 that
`GET /myself` confirms is about the account, not one ticket) workers pause, events stay pending,
one line says what to fix, and work resumes by itself once Jira accepts the credentials again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from connector.client import JiraClient, JiraError, JiraRefused
from webhooks.store import EventStore

log = logging.getLogger("jsm_autopilot.health")
CREDENTIALS_FIX = ("create a new API token for the automation account and set JIRA_USER and JIRA_API_TOKEN (Cloud), "
                   "or a new personal access token in JIRA_PAT (Data Center), then nothing else: work resumes by itself")


@dataclass
class Health:
    store: EventStore
    client: JiraClient
    clock: Callable[[], datetime]
    credentials_refused: str | None = None  # what Jira answered, while it refuses the credentials
    unreachable: str | None = None  # how the last call failed, while Jira gives no answer
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def paused(self) -> bool:
        return self.credentials_refused is not None

    def heard(self, error: JiraError) -> bool:
        """Note a failed Jira call; True when it means Jira refuses the credentials (pause)."""
        if isinstance(error, JiraRefused) and error.status in (401, 403):
            if error.status == 403 and self._account_works():
                return False  # no permission on one ticket: that ticket's problem, not the account's
            self._refused(f"{error.status} on {error.method} {error.path}")
            return True
        if error.status is None or error.status >= 500:
            with self._lock:
                self.unreachable = str(error)[:300]
        return False

    def answered(self) -> None:
        """A call succeeded: whatever stopped us is over."""
        with self._lock:
            was_refused, self.credentials_refused, self.unreachable = self.credentials_refused, None, None
        if was_refused:
            log.warning("Jira accepts the credentials again: workers resume", extra={"jira": "credentials accepted"})

    def probe(self) -> None:
        """Ask Jira who we are; the answer sets or clears the causes."""
        try:
            self.client.myself()
        except JiraError as error:
            self.heard(error)
            return
        self.answered()

    def causes(self) -> list[str]:
        """Why the service cannot do its work now; empty when it can."""
        found = []
        if not self.store.writable(self.clock()):
            found.append("store not writable")
        if self.credentials_refused:
            found.append("jira credentials refused")
        elif self.unreachable:
            found.append("jira unreachable")
        return found

    def _account_works(self) -> bool:
        try:
            self.client.myself()
        except JiraError:
            return False
        return True

    def _refused(self, what: str) -> None:
        with self._lock:
            first = self.credentials_refused is None
            self.credentials_refused = what
        if first:  # one line per outage, not one per event or sweep
            log.error("Jira refuses the automation account's credentials (%s): %s. Workers are paused and events "
                      "kept pending meanwhile.", what, CREDENTIALS_FIX, extra={"jira": "credentials refused"})
