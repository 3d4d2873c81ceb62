"""The shipped example `examples/search-jql.json`, built here so that it cannot drift.

Regenerate with: python -m tests.example_issues > examples/search-jql.json
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.jira_json import AUTOMATION, IssueBuilder, user

BERLIN = ZoneInfo("Europe/Berlin")
EXAMPLE_AT = "2026-11-20T09:00:00+01:00"

ANNA = user("712020:agent-anna", "Anna Agent")
BOT = user(AUTOMATION, "Service Desk Automation", "app")
CLAIRE = user("qm:7f1c2a:claire", "Claire Customer", "customer")
MAX = user("qm:3b9e11:max", "Max Mustermann", "customer")
ERIKA = user("qm:88aa02:erika", "Erika Beispiel", "customer")


def t(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def _waiting(key, org, reporter, since, issue_type="Incident", summary="Users cannot upload SCORM packages"):
    issue = IssueBuilder(key, issue_type, "Clarification required / On hold", t(since.month, since.day, 8), reporter, summary=summary, organisation=org)
    issue.moved(t(since.month, since.day, 9), "Opened", "In Review by Service Desk")
    issue.commented(since, ANNA, "Could you please send us the log file and the package?")
    issue.moved(since, "In Review by Service Desk", "Clarification required / On hold")
    return issue


def example_issues() -> list[dict]:
    reminder = "clarification.reminder"
    issues = []

    # 12 days without feedback: the first reminder is due.
    issues.append(_waiting("SD-101", "Acme Learning Ltd", CLAIRE, t(11, 8)))

    # Three reminders, the last 11 days ago: closing is due (German organisation; a DST change inside).
    sd102 = _waiting("SD-102", "Muster AG", MAX, t(10, 10), summary="Import der Benutzer schlägt fehl")
    for day in ((10, 20), (10, 30), (11, 9)):
        sd102.commented(t(*day, 10, 5), BOT, "Erinnerung", rule=reminder)
    issues.append(sd102)

    # One reminder, then the customer replied: the clock restarts, agents get a note.
    sd103 = _waiting("SD-103", "Acme Learning Ltd", CLAIRE, t(10, 20), issue_type="Request", summary="Question about course catalogue settings")
    sd103.commented(t(10, 30, 10, 5), BOT, "Reminder", rule=reminder)
    sd103.commented(t(11, 18, 14, 30), CLAIRE, "Sorry for the delay, I will send the screenshots tomorrow.")
    issues.append(sd103)

    # Resolved 51 days ago without feedback: closing is due.
    sd104 = IssueBuilder("SD-104", "Support Request", "Resolved", t(9, 1), CLAIRE, organisation="Acme Learning Ltd", resolved=t(9, 30))
    sd104.moved(t(9, 2), "Opened", "In Review by Service Desk").moved(t(9, 30), "In Review by Service Desk", "Resolved")
    sd104.commented(t(9, 30), ANNA, "The report is available under Reports > Learning progress.")
    issues.append(sd104)

    # Resolved, and the customer confirms: closed at once.
    sd105 = IssueBuilder("SD-105", "Software Defect", "Resolved", t(10, 1), CLAIRE, organisation="Acme Learning Ltd", priority="P3", resolved=t(11, 17))
    sd105.moved(t(10, 2), "Opened", "In Progress").moved(t(11, 17), "Delivery Pending", "Resolved")
    sd105.commented(t(11, 19, 16, 40), CLAIRE, "Thanks, the upload works now. The ticket can be closed.")
    issues.append(sd105)

    # Resolved, and the customer says it still fails: back to the agents (German organisation).
    sd106 = IssueBuilder("SD-106", "Non-Software Defect", "Resolved", t(11, 2), ERIKA, organisation="Beispiel GmbH", priority="P2", resolved=t(11, 16))
    sd106.moved(t(11, 2, 11), "Opened", "In Progress").moved(t(11, 16), "In Progress", "Resolved")
    sd106.commented(t(11, 19, 8, 15), ERIKA, "Leider tritt der Fehler weiterhin auf.")
    issues.append(sd106)

    # Being worked on: nothing to do.
    sd107 = IssueBuilder("SD-107", "Customisation", "In Progress", t(10, 5), MAX, organisation="Muster AG")
    sd107.moved(t(10, 6), "Ordered", "In Progress")
    issues.append(sd107)

    # One reminder ten days ago: the second is due, in German.
    sd108 = _waiting("SD-108", "Beispiel GmbH", ERIKA, t(10, 30), summary="Zertifikate werden nicht erzeugt")
    sd108.commented(t(11, 9, 10, 5), BOT, "Erinnerung", rule=reminder)
    issues.append(sd108)

    # Waiting five days, an agent added a note: nothing is due yet.
    sd109 = _waiting("SD-109", "Acme Learning Ltd", CLAIRE, t(11, 15))
    sd109.commented(t(11, 16), ANNA, "Internal: asked the hosting team as well.", public=False)
    issues.append(sd109)

    # Accepted on Wednesday 09:30 as a P2 defect: 80% of its 2d (18h of working time) resolution
    # target has run by Thursday 14:54: the team lead is warned (sla.resolution).
    sd110 = IssueBuilder("SD-110", "Non-Software Defect", "In Progress", t(11, 18, 9), MAX, organisation="Muster AG", priority="P2",
                         summary="Kursbuchungen werden nicht gespeichert")
    sd110.commented(t(11, 18, 9, 30), ANNA, "Wir sehen uns das an.")
    sd110.moved(t(11, 18, 9, 30), "Opened", "In Progress")
    issues.append(sd110)

    return [issue.json() for issue in issues]


if __name__ == "__main__":
    print(json.dumps({"isLast": True, "issues": example_issues()}, indent=2, ensure_ascii=False))
