"""Whether the service can do its work, for `/readyz`, and the pause when Jira refuses its
credentials. `/healthz` says only that the process answers (liveness): restarting a service
whose token was revoked fixes nothing, while taking it out of rotation tells the admin.

A revoked token must not turn every pending event into a dead letter: on a 401 (or a 403 that
`GET /myself` confirms is about the account, not one ticket) workers pause, events stay pending,
one line says what to fix, and work resumes by itself once Jira accepts the credentials again.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from jsm_autopilot.config.environment import credentials_fix
from jsm_autopilot.connector.client import JiraClient, jira_away
from jsm_autopilot.errors import JiraError, JiraRefused
from jsm_autopilot.store.event_store import EventStore

log = logging.getLogger("jsm_autopilot.health")


NOT_JIRA = "is not a Jira site"  # what JiraClient.reach says when serverInfo answers 404, HTML or no serverTime


@dataclass
class Health:
    store: EventStore
    client: JiraClient
    clock: Callable[[], datetime]
    credentials_refused: str | None = None  # what Jira answered, while it refuses the credentials
    unreachable: str | None = None  # why no answer came (connection refused, unknown host, 503, ...)
    not_jira: str | None = None  # JIRA_URL answers, but not as Jira (a wrong path: 404s, HTML)
    # False until the first check of Jira has come to a verdict: /readyz is never "ready" on trust.
    checked: bool = False
    # A check that decides (at start, and after a failure) gives up this soon, not after the normal
    # retry budget: a refused connection or an unknown host is a verdict at once.
    quick_budget: float = 5.0
    # What the site says is wrong with app.yaml's names (doctor's checks, run at start and after
    # each reload): a misspelt status makes its rules dead, so readiness says so.
    settings_problems: tuple[str, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def paused(self) -> bool:
        """Jira cannot do anything for us now: workers keep events pending and sweeps wait."""
        return bool(self.credentials_refused or self.unreachable or self.not_jira)

    @property
    def jira_url(self) -> str:
        return self.client.base_url

    def heard(self, error: JiraError) -> bool:
        """Note a failed Jira call; True when it means Jira refuses the credentials (pause)."""
        if isinstance(error, JiraRefused) and error.status in (401, 403):
            if error.status == 403 and self._account_works():
                return False  # no permission on one ticket: that ticket's problem, not the account's
            self._refused(f"{error.status} on {error.method} {error.path}")
            return True
        if isinstance(error, JiraRefused) and NOT_JIRA in error.answer:
            with self._lock:
                first, self.not_jira = self.not_jira is None, error.answer[:200]
            if first:
                log.error("JIRA_URL (%s) %s: check the address (the site's base URL, no path such as /jira/rest). Events are "
                          "kept pending meanwhile.", self.jira_url, error.answer.split(NOT_JIRA, 1)[1].strip(" ()") or NOT_JIRA,
                          extra={"jira": "not a jira site"})
            return False
        if jira_away(error):
            with self._lock:
                first, self.unreachable = self.unreachable is None, _cause_of(error)
            if first:  # one line per outage
                log.error("Jira at JIRA_URL (%s) is unreachable: %s. Webhooks are still received and kept; work resumes by "
                          "itself when Jira answers (jsm-autopilot doctor says more).", self.jira_url, self.unreachable,
                          extra={"jira": "unreachable"})
        return False

    def answered(self) -> None:
        """A call succeeded: whatever stopped us is over."""
        with self._lock:
            was = self.credentials_refused or self.unreachable or self.not_jira
            was_refused = self.credentials_refused
            self.credentials_refused, self.unreachable, self.not_jira = None, None, None
        if was_refused:
            log.warning("Jira accepts the credentials again: workers resume", extra={"jira": "credentials accepted"})
        elif was:
            log.warning("Jira at JIRA_URL (%s) answers again: workers resume", self.jira_url, extra={"jira": "answers"})

    def probe(self) -> None:
        """Ask Jira whether it is a Jira site and who we are; the answer sets or clears the causes.
        Quick (no long retries): the first verdict comes within seconds, and so does Jira going away."""
        try:
            self.client.reach(budget_seconds=self.quick_budget)
            self.client.myself()
        except JiraError as error:
            self.heard(error)
        else:
            self.answered()
        finally:
            self.checked = True

    def causes(self) -> list[str]:
        """Why the service cannot do its work now, in words an admin acts on; empty when it can."""
        found = []
        if not self.store.writable(self.clock()):
            found.append("store not writable")
        if not self.checked:
            found.append("starting: jira not checked yet")
        elif self.credentials_refused:
            found.append("jira credentials refused")
        elif self.not_jira:
            found.append(f"not a Jira site: JIRA_URL ({self.jira_url}) answers, but not as Jira")
        elif self.unreachable:
            found.append(f"jira unreachable: {self.unreachable} (JIRA_URL {self.jira_url})")
        found.extend(f"app.yaml: {problem}" for problem in self.settings_problems)
        return found

    def check_names(self, settings) -> bool:
        """Run doctor's name checks against the site; each problem is a cause and one ERROR line.
        False when Jira could not be asked (away): the checks are run again once it answers."""
        from jsm_autopilot.connector.doctor import name_findings

        try:
            failed = name_findings(self.client, settings)
        except JiraError as error:
            self.heard(error)
            return False
        problems = tuple(f"{f.what} — fix: {f.fix}" if f.fix else f.what for f in failed)
        for problem in problems:
            if problem not in self.settings_problems:
                log.error("app.yaml does not match the site: %s (jsm-autopilot doctor shows every check)", problem,
                          extra={"settings": "name not found"})
        self.settings_problems = problems
        return True

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
                      "kept pending meanwhile.", what, f"{credentials_fix(self.client.deployment)}; then nothing else: work "
                      "resumes by itself", extra={"jira": "credentials refused"})


def _cause_of(error: JiraError) -> str:
    """"connection refused", "unknown host jira.invalid", "answer 503": what an admin looks for."""
    if error.status is not None:
        return f"answer {error.status}"
    found = re.search(r"\(([^()]*)\)\s*$", error.answer)  # JiraClient.reach: "no answer from URL (cause)"
    return (found.group(1) if found else error.answer)[:200]
