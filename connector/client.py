"""The HTTP client for Jira: atlassian-python-api underneath, tenacity owning every retry.

The library's own retries are off (`backoff_and_retry=False`, `retry_with_header=False`): it would
otherwise sleep on Retry-After inside the call and retry POSTs blindly (JIRA-CONTRACT.md 4.2).
Reads retry on 408, 429 and 5xx. Writes retry only where the status proves nothing was applied
(429, 503); any other failure of a write is ambiguous and raised as `JiraAmbiguous`, so that the
executor checks Jira's state before sending it again. Nothing else is retried (400, 401, 403, 404,
413, ...). Each call has a time budget across its retries.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator

import requests
from atlassian import Jira
from tenacity import RetryCallState, Retrying, retry_if_exception

from jsm_autopilot.config.environment import JiraCredentials, credential_variables, credentials_fix
from jsm_autopilot.errors import CallFailed, JiraAmbiguous, JiraRefused, JiraUnavailable

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

UNSAFE_PATH = re.compile(r"(^|/)\.{1,2}(/|$)|//|[?#%\\\s\x00-\x1f]")
log = logging.getLogger("jsm_autopilot.connector")


def jira_away(error: CallFailed) -> bool:
    """No answer, or one that says Jira serves nobody now (5xx, 429): maybe all of Jira, not one ticket."""
    if not error.concerns_jira:
        return False  # another service's failure (the on-call channel): Jira itself is fine
    return error.status is None or error.status >= 500 or error.status == 429


def connection_cause(error: Exception) -> str:
    """What went wrong below HTTP, in words an admin acts on."""
    text = str(error)
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS failed: the address may speak plain HTTP (try http://) or have a certificate this machine does not trust"
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if any(marker in text for marker in ("Name or service not known", "nodename nor servname", "NameResolutionError",
                                         "Temporary failure in name resolution", "getaddrinfo failed")):
        return "unknown host"
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "Connection reset" in text:
        return "the connection was closed without an answer"
    return f"{type(error).__name__}: {text[:200]}"


class _Failed(Exception):
    def __init__(self, status: int | None, answer: str, retry_after: float | None):
        super().__init__(answer)
        self.status, self.answer, self.retry_after = status, answer, retry_after


RETRY_READ = frozenset({408, 429}) | frozenset(range(500, 600))
RETRY_WRITE = frozenset({429, 503})


def _answer_of(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "").strip()[:300]
    if isinstance(body, dict):
        messages = list(body.get("errorMessages") or [])
        if isinstance(body.get("errors"), dict):
            messages += [f"{k}: {v}" for k, v in body["errors"].items()]
        if body.get("errorMessage"):
            messages.append(str(body["errorMessage"]))
        if messages:
            return "; ".join(messages)
    return str(body)[:300]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _drain(issues: list) -> Iterator[dict]:
    """Hand out a page's issues, dropping each once handed out, so that a page is gone before
    the next is fetched: memory holds one page, whatever the size of the project."""
    issues.reverse()
    while issues:
        yield issues.pop()


class JiraClient:
    """One site; `sleep` and `clock` are injectable so tests never wait."""

    def __init__(
        self,
        credentials: JiraCredentials,
        deployment: str = "cloud",
        *,
        timeout: float = 30,
        budget_seconds: float = 120,
        max_attempts: int = 8,
        backoff_cap: float = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ):
        self.deployment = deployment
        self.version = "3" if deployment == "cloud" else "2"
        # Any: the library annotates `timeout` as int, and hands it on to requests, which takes seconds as a float.
        common: dict[str, Any] = dict(timeout=timeout, backoff_and_retry=False, retry_with_header=False)
        if deployment == "cloud":
            self._jira = Jira(credentials.url, username=credentials.user, password=credentials.api_token,
                              cloud=True, api_version="3", **common)
        else:
            self._jira = Jira(credentials.url, token=credentials.personal_access_token, cloud=False, api_version="2", **common)
        self.budget_seconds = budget_seconds
        self.max_attempts = max_attempts
        self.backoff_cap = backoff_cap
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self.calls: Counter[int] = Counter()  # by HTTP status; 0 for no answer
        self.retries = 0
        self._stopping: threading.Event | None = None
        self._give_up: Callable[[], bool] = lambda: False
        self._counting = threading.Lock()
        self._zone: ZoneInfo | None = None  # the searching account's time zone, for JQL dates

    @property
    def base_url(self) -> str:
        """The site's address, for links people follow (…/browse/KEY)."""
        return str(self._jira.url).rstrip("/")

    def reach(self, budget_seconds: float = 15) -> dict:
        """`serverInfo`, quickly: a first contact that fails within the budget and says why (a
        wrong JIRA_URL must not mean a minute of silence and a connection library's traceback)."""
        saved = self.budget_seconds, self.max_attempts
        self.budget_seconds, self.max_attempts = budget_seconds, 3
        try:
            info = self.call("GET", self.api("serverInfo"))
        except JiraRefused as refused:
            if refused.status == 401:  # Jira answers 401 on every resource, serverInfo included, to a revoked token
                raise JiraRefused("GET", self.api("serverInfo"), 401, self.credentials_refused()) from None
            raise JiraRefused("GET", self.api("serverInfo"), refused.status,
                              f"{self.base_url} is not a Jira site (serverInfo answered {refused.status}: {refused.answer[:80]})") from None
        except JiraUnavailable as unavailable:
            where = f"answer {unavailable.status} from {self.base_url}" if unavailable.status else f"no answer from {self.base_url}"
            raise JiraUnavailable("GET", self.api("serverInfo"), unavailable.status, f"{where} ({unavailable.answer})") from None
        finally:
            self.budget_seconds, self.max_attempts = saved
        if not isinstance(info, dict) or "serverTime" not in info:
            raise JiraRefused("GET", self.api("serverInfo"), 200, f"{self.base_url} is not a Jira site (serverInfo has no serverTime)")
        return info

    def credentials_refused(self) -> str:
        """What a 401 means, in words an admin acts on: which variables, and the fix."""
        return (f"Jira refused the credentials in {credential_variables(self.deployment)} (401 from {self.base_url}): "
                f"{credentials_fix(self.deployment)}")

    def _count(self, status: int) -> None:
        with self._counting:  # several sweep threads share one client
            self.calls[status] += 1

    def pause(self, seconds: float) -> None:
        """Wait as the client waits between retries (injected in tests; cut short when draining)."""
        self._sleep(seconds)

    def stop_retrying_when(self, stopping: threading.Event) -> None:
        """Once `stopping` is set, waits end at once and no call is retried (a draining service).
        A wait injected by a test stays as it is: only the real one becomes interruptible."""
        self._stopping = stopping
        if self._sleep is time.sleep:
            self._sleep = self._interruptible_sleep

    def give_up_when(self, condition: Callable[[], bool]) -> None:
        """Retries end early once `condition` holds: the health check found Jira away, so a call
        in flight does not spend its whole budget (minutes) before the pause."""
        self._give_up = condition

    def _interruptible_sleep(self, seconds: float) -> None:
        stopping = self._stopping
        remaining = seconds
        while remaining > 0 and stopping is not None and not stopping.is_set() and not self._give_up():
            stopping.wait(min(1.0, remaining))
            remaining -= 1.0

    # -- the one place that sends -------------------------------------------------------------

    def call(self, method: str, path: str, *, body: Any = None, params: dict | None = None, write: bool | None = None) -> Any:
        """Send one request with retries; return the decoded JSON (None for an empty answer)."""
        if UNSAFE_PATH.search(path):
            # A key or id from a webhook or a ticket must not steer the request elsewhere (SD-1/../SD-5).
            raise JiraRefused(method, path[:120], None, "not sent: the path holds a segment that is no key or id")
        is_write = method != "GET" if write is None else write
        retryable = RETRY_WRITE if is_write else RETRY_READ
        started = self._clock()

        def attempt() -> Any:
            try:
                response = self._jira.request(method, path, data=body, params=params, advanced_mode=True)
            except (requests.ConnectionError, requests.Timeout) as error:
                self._count(0)
                raise _Failed(None, connection_cause(error), None) from None
            self._count(response.status_code)
            if response.status_code >= 400:
                raise _Failed(response.status_code, _answer_of(response), _retry_after(response))
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise JiraRefused(method, path, response.status_code, "answer is not JSON") from None

        def should_retry(error: BaseException) -> bool:
            if not isinstance(error, _Failed):
                return False
            # A failed connection on a read is safe to repeat; on a write it is ambiguous.
            return error.status in retryable if error.status is not None else not is_write

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            backoff = min(self.backoff_cap, 0.5 * 2 ** (state.attempt_number - 1)) * (0.5 + self._jitter())
            retry_after = getattr(error, "retry_after", None) or 0.0
            return max(retry_after, backoff)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts or (self._stopping is not None and self._stopping.is_set()):
                return True
            if self._give_up():
                return True
            return self._clock() - started + wait(state) > self.budget_seconds

        def before_sleep(state: RetryCallState) -> None:
            self.retries += 1
            assert state.outcome is not None  # tenacity sleeps only after an attempt
            error = state.outcome.exception()
            # What failed, in words: the status Jira answered, else why no answer came (connection refused, ...).
            what = getattr(error, "status", None) or getattr(error, "answer", None) or type(error).__name__
            log.info("retrying %s %s after %s (attempt %d)", method, path, what, state.attempt_number)

        retrying = Retrying(retry=retry_if_exception(should_retry), wait=wait, stop=stop, sleep=self._sleep,
                            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(attempt)
        except _Failed as failure:
            if failure.status is not None and 400 <= failure.status < 500 and failure.status not in (408, 429):
                raise JiraRefused(method, path, failure.status, failure.answer) from None
            if is_write and failure.status not in RETRY_WRITE:
                raise JiraAmbiguous(method, path, failure.status, failure.answer) from None
            raise JiraUnavailable(method, path, failure.status, failure.answer) from None

    # -- the operations jsm-autopilot uses ----------------------------------------------------

    def api(self, tail: str) -> str:
        return f"rest/api/{self.version}/{tail}"

    def server_time(self) -> datetime:
        info = self.call("GET", self.api("serverInfo"))
        return datetime.fromisoformat(info["serverTime"])

    def myself(self) -> dict:
        return self.call("GET", self.api("myself"))

    def jql_time(self, instant: datetime) -> str:
        """An instant as JQL reads it: minutes, in the time zone of the account that searches
        (Jira's rule for dates in JQL); asked once from `GET /myself`."""
        if self._zone is None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                self._zone = ZoneInfo(str(self.myself().get("timeZone") or "UTC"))
            except (ZoneInfoNotFoundError, ValueError):
                self._zone = ZoneInfo("UTC")
        return instant.astimezone(self._zone).strftime("%Y-%m-%d %H:%M")

    def search(self, jql: str, fields: list[str], expand: str | None = None, properties: list[str] | None = None,
               page_size: int = 100) -> Iterator[dict]:
        """Issues matching `jql`, one page in memory at a time."""
        if self.deployment == "cloud":
            token = None
            while True:
                body = {"jql": jql, "fields": fields, "maxResults": page_size}
                if expand:
                    body["expand"] = expand
                if properties:
                    body["properties"] = properties
                if token:
                    body["nextPageToken"] = token
                page = self.call("POST", "rest/api/3/search/jql", body=body, write=False)
                token = None if page.get("isLast", True) else page.get("nextPageToken")
                yield from _drain(page.pop("issues", []))
                del page
                if not token:
                    return
        start = 0
        while True:
            body = {"jql": jql, "fields": fields, "startAt": start, "maxResults": page_size}
            if expand:
                body["expand"] = [e for e in expand.split(",") if e]
            if properties:
                body["properties"] = properties
            page = self.call("POST", self.api("search"), body=body, write=False)
            issues, total = page.pop("issues", []), page.get("total", 0)
            del page
            start += len(issues)
            yield from _drain(issues)
            if start >= total or not issues:
                return

    def get_issue(self, key: str, fields: list[str], expand: str | None = None, properties: list[str] | None = None) -> dict:
        params = {"fields": ",".join(fields)}
        if expand:
            params["expand"] = expand
        if properties:
            params["properties"] = ",".join(properties)
        return self.call("GET", self.api(f"issue/{key}"), params=params)

    def transitions(self, key: str) -> list[dict]:
        """The transitions offered now, with the fields their screens ask for."""
        return self.call("GET", self.api(f"issue/{key}/transitions"), params={"expand": "transitions.fields"}).get("transitions", [])

    def transition(self, key: str, body: dict) -> None:
        self.call("POST", self.api(f"issue/{key}/transitions"), body=body)

    def edit(self, key: str, body: dict) -> None:
        self.call("PUT", self.api(f"issue/{key}"), body=body)

    def add_comment(self, key: str, body: dict) -> dict:
        return self.call("POST", self.api(f"issue/{key}/comment"), body=body)

    def comments(self, key: str) -> Iterator[dict]:
        """Every comment of the issue, with its properties (Data Center keeps visibility there)."""
        start = 0
        while True:
            page = self.call("GET", self.api(f"issue/{key}/comment"), params={"startAt": start, "maxResults": 100, "expand": "properties"})
            comments = page.get("comments") or []
            yield from comments
            start += len(comments)
            if not comments or start >= int(page.get("total") or 0):
                return

    def issue_property(self, key: str, property_key: str) -> Any:
        try:
            return self.call("GET", self.api(f"issue/{key}/properties/{property_key}"))["value"]
        except JiraRefused as refused:
            if refused.status == 404:
                return None
            raise

    def set_issue_property(self, key: str, property_key: str, value: Any) -> None:
        # PUT of a whole value is idempotent, so it may be retried like a read.
        self.call("PUT", self.api(f"issue/{key}/properties/{property_key}"), body=value, write=False)


def paged_values(client: JiraClient, path: str, params: dict | None = None) -> Iterator[dict]:
    """Every value of a servicedeskapi page series (start, limit, isLastPage)."""
    start = 0
    while True:
        page = client.call("GET", path, params={**(params or {}), "start": start, "limit": 50})
        values = page.get("values") or []
        yield from values
        if page.get("isLastPage", True) or not values:
            return
        start += len(values)
