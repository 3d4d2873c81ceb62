"""Every error the service raises on purpose, in one tree (as httpx keeps its own):

    AutomationError
    ├── SetUpError                  the site's set-up must change before a new run can pass
    │   ├── SettingsError           app.yaml: source, problems (one "key.path: what" each), keys
    │   ├── TemplateProblem *       a template is missing or does not compile: where, problem
    │   ├── CredentialsError        the environment does not say how to reach Jira: variables
    │   ├── ServiceConfigurationError   serve cannot start as configured: variable
    │   └── SiteNotReached          at a command's start, JIRA_URL gives no answer (a wrong host, port
    │                                   or scheme is the usual cause), does not answer as Jira, or Jira
    │                                   refuses the credentials; nothing was done: status, answer
    ├── InputError *                what a user, a caller or Jira's JSON gave is malformed
    │   ├── DeliveryRequestError    a Delivery ticket request: field, problem
    │   ├── WebhookUrlError         an address deliveries cannot reach: url
    │   ├── IssueMappingError       a ticket's JSON lacks what the rules need: issue, field, problem
    │   ├── DeliveryRejected        a webhook delivery refused: status (HTTP), reason (safe to answer)
    │   └── SignInRefused           a console sign-in Jira or its groups do not allow: status (HTTP)
    ├── CallFailed                  a service we call did not do what was asked:
    │   │                               method, path, status (None: no answer), answer
    │   ├── JiraError               ... Jira; `issue` is the ticket the call was about, if any
    │   │   ├── JiraRefused         an answer no retry changes: a 4xx (bad request, permission, not
    │   │   │   │                       found), an answer Jira never gives, a path not sent
    │   │   │   └── ScreenFieldsMissing   a transition screen requires a field with no value set
    │   │   └── JiraUnavailable     429, 5xx or no answer until the retry budget ran out
    │   │       └── JiraAmbiguous   a write that may have landed: check before sending it again
    │   │           └── WriteUncertain  a customer-visible one, not seen in Jira at the first look:
    │   │                               kept until limits.uncertain_settle, never sent again blindly
    │   └── AlertFailed             the on-call channel (never read as Jira being away)
    ├── NotifyFailed                an admin channel (SMTP, chat webhook) did not take a message: channel
    ├── StoreUnavailable            the store cannot be reached, or refused the operation
    │   ├── StoreMissing            a reading command found no store where it looked
    │   └── StoreNotWritable        the store cannot be written here: path
    └── Busy                        someone else holds it now; the same run later can pass
        ├── AlreadyRunning          another sweep of the project holds its lock: project, lock
        ├── TicketBusy              another actor kept the ticket too long: key
        └── DeliveryUncertain       an earlier creation may have landed: retry_after (seconds)

    * also a ValueError, so pydantic validators and parsers that expect one report it as theirs.

Commands turn the tree into exit statuses and one-line messages in one place
(`jsm_autopilot.cli.common.exit_status`); the HTTP API answers with `DeliveryRejected.status`.
The sandbox's own error stands for Jira's answers, not for ours, and stays outside the tree.
"""

from __future__ import annotations

import re

# A ticket key in a REST path, whole or relative: /rest/api/2/issue/SD-12/transitions, issue/SD-12 -> SD-12.
_ISSUE_IN_PATH = re.compile(r"(?:^|/)issue/([A-Z][A-Z0-9_]*-[0-9]+)(?:/|$|\?)")
_KEY_OF_PROBLEM = re.compile(r"^([A-Za-z0-9_.\-\[\]]+):")


class AutomationError(Exception):
    """Root of every error the service raises on purpose."""


# --- set-up -------------------------------------------------------------------------------------


class SetUpError(AutomationError):
    """The site's set-up (app.yaml, the environment, JIRA_URL) must change before a new run can pass."""


class SettingsError(SetUpError):
    """app.yaml is unusable; `problems` holds one `key.path: what is wrong` line each."""

    def __init__(self, source: str, problems: list[str]):
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems

    @property
    def keys(self) -> list[str]:
        """The app.yaml keys the problems name, in their order (a problem without one is left out)."""
        return [match.group(1) for match in map(_KEY_OF_PROBLEM.match, self.problems) if match]


class TemplateProblem(SetUpError, ValueError):
    """A template is missing or does not compile; `where` names the file."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class CredentialsError(SetUpError):
    """The environment does not say how to reach Jira; `variables` names what to set."""

    def __init__(self, message: str, variables: tuple[str, ...] = ()):
        super().__init__(message)
        self.variables = variables


class ServiceConfigurationError(SetUpError):
    """The service cannot start as configured; the message says what to set, `variable` names it."""

    def __init__(self, message: str, variable: str | None = None):
        super().__init__(message)
        self.variable = variable


class SiteNotReached(SetUpError):
    """Checked before a command does anything: JIRA_URL gives no answer, does not answer as Jira,
    or Jira refuses the credentials. A set-up error (exit 2), since a wrong address or token is the
    usual cause; Jira going away later in a run is JiraUnavailable. `status` is Jira's (None: no answer)."""

    def __init__(self, message: str, status: int | None, answer: str):
        super().__init__(message)
        self.status, self.answer = status, answer


# --- input --------------------------------------------------------------------------------------


class InputError(AutomationError, ValueError):
    """What a user, a caller or Jira's JSON gave is malformed; nothing was done with it."""


class DeliveryRequestError(InputError):
    """A delivery request that cannot be carried out; `field` names the part at fault."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


class WebhookUrlError(InputError):
    """A delivery address the service cannot receive at."""

    def __init__(self, message: str, url: str | None = None):
        super().__init__(message)
        self.url = url


class IssueMappingError(InputError):
    """An issue's JSON lacks what the rules need; names the issue and the field."""

    def __init__(self, issue: str, field: str, problem: str):
        super().__init__(f"{issue}: {field}: {problem}")
        self.issue = issue
        self.field = field
        self.problem = problem


class DeliveryRejected(InputError):
    """The delivery is refused with `status`; `reason` is short and safe to send back."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class SignInRefused(InputError):
    """Said to the person signing in to the console (safe to show them); never stops the service."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


# --- calls to other services --------------------------------------------------------------------


class CallFailed(AutomationError):
    """A service we call did not do what was asked; says what was sent and what it answered."""

    # Whether the failure tells anything about Jira (an on-call channel's does not).
    concerns_jira = False

    def __init__(self, method: str, path: str, status: int | None, answer: str):
        where = f"{method} {path}"
        super().__init__(f"{where} -> {status if status is not None else 'no answer'}: {answer}")
        self.method, self.path, self.status, self.answer = method, path, status, answer


class JiraError(CallFailed):
    """Jira did not do what was asked; says what was sent and what Jira answered."""

    concerns_jira = True

    @property
    def issue(self) -> str | None:
        """The ticket the call was about, when its path names one."""
        found = _ISSUE_IN_PATH.search(self.path)
        return found.group(1) if found else None


class JiraRefused(JiraError):
    """An answer retrying cannot change: a 4xx (bad request, no permission, not found, too large),
    an answer Jira does not give (200 without what it always holds), or a path refused before sending."""


class ScreenFieldsMissing(JiraRefused):
    """A transition's screen requires a field the settings give no value for."""


class JiraUnavailable(JiraError):
    """Jira kept failing (429, 5xx, network) until the call's retries or time budget ran out."""


class JiraAmbiguous(JiraUnavailable):
    """A write failed in a way that does not prove it was not applied; check before resending."""


class WriteUncertain(JiraAmbiguous):
    """A customer-visible write got no answer and was not seen in Jira within the first look."""


class AlertFailed(CallFailed):
    """The on-call service did not take the alert (after retries), or none is configured. Its
    words name the on-call channel: it is never read as Jira's answer, nor as Jira being away."""

    def __init__(self, method: str, path: str, status: int | None, answer: str):
        super().__init__(method, path, status, answer)
        said = f"answered {status}" if status is not None else "no answer"
        self.args = (f"on-call channel {path}: {said}: {answer}" if path else f"on-call channel: {answer}",)


class NotifyFailed(AutomationError):
    """A channel to the admins did not take the message; `channel` names it (smtp, webhook)."""

    def __init__(self, message: str, channel: str | None = None):
        super().__init__(message)
        self.channel = channel


# --- the store ----------------------------------------------------------------------------------


class StoreUnavailable(AutomationError):
    """The database cannot be reached or refused the operation."""


class StoreMissing(StoreUnavailable):
    """A command that only reads found no store where it looked (and made none)."""


class StoreNotWritable(StoreUnavailable):
    """The store cannot be written here; the message names the path, the variable and the fix."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


# --- held elsewhere -----------------------------------------------------------------------------


class Busy(AutomationError):
    """Someone else holds what this needs now; the same run later can pass."""


class AlreadyRunning(Busy):
    """Another sweep of the same project holds the lock."""

    def __init__(self, message: str, project: str | None = None, lock: str | None = None):
        super().__init__(message)
        self.project, self.lock = project, lock


class TicketBusy(Busy):
    """Another actor kept the ticket longer than we were willing to wait."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class DeliveryUncertain(Busy):
    """An earlier creation failed so that it may have landed, and Jira's search does not show it
    yet: creating now could make a second ticket. Try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
