"""A realistic JSM project for the demo: some 50 tickets over every status and type, customer
organisations in English and German, and a script of what customers and agents do over 60 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jsm_autopilot.config.settings import Settings

AGENT = "anna.agent@vendor.example"
BOT = "autopilot@vendor.example"
ORGANISATIONS = {  # name: (language, customers)
    "Acme Learning Ltd": ("en", ["claire@acme.example", "tom@acme.example"]),
    "Northwind Academy": ("en", ["priya@northwind.example"]),
    "Muster AG": ("de", ["max@muster.example", "lena@muster.example"]),
    "Beispiel GmbH": ("de", ["erika@beispiel.example"]),
}
SUMMARIES = {
    "en": ["Users cannot upload SCORM packages", "Report export times out", "Login via SSO fails for new users",
           "Course catalogue shows old prices", "Certificates show the wrong date", "Question about learning paths",
           "Please add a field to the user profile", "Notification e-mails arrive twice"],
    "de": ["Import der Benutzer schlägt fehl", "Zertifikate werden nicht erzeugt", "Kurskatalog lädt sehr langsam",
           "Frage zur Konfiguration der Lernpfade", "Anmeldung über SSO nicht möglich", "Bitte neues Feld im Profil ergänzen",
           "Berichte zeigen falsche Summen", "E-Mail-Benachrichtigungen kommen doppelt"],
}
# (status role, type role, days in that status before the demo starts, how many); the names come
# from app.yaml (`statuses`, `issue_types`), so a German site's demo shows its own names.
LAYOUT = [
    ("clarification", "incident", 2, 3), ("clarification", "request", 9, 3),
    ("clarification", "software_defect", 18, 2), ("clarification", "consulting_request", 33, 2),
    ("resolved", "support_request", 3, 3), ("resolved", "non_software_defect", 20, 3), ("resolved", "software_defect", 45, 3),
    ("opened", "incident", 0, 3), ("opened", "request", 1, 2), ("in_review", "incident", 2, 3),
    ("in_progress", "software_defect", 6, 4), ("in_progress", "customisation", 12, 2), ("delivery_pending", "software_defect", 8, 3),
    ("delivery_pending", "consulting_request", 5, 1), ("estimation_in_progress", "customisation", 4, 2),
    ("estimation_available", "customisation", 7, 1), ("ordered", "customisation", 10, 1), ("planned", "delivery", 3, 2),
    ("closed", "suggestion", 30, 2), ("closed", "support_request", 60, 2),
]


# Delivery versions of the seeded tickets waiting for a delivery, and of the Planned Delivery tickets.
DELIVERY_VERSIONS = {"software_defect": "14.21.3.1", "consulting_request": "CUSTOM", "delivery": "14.21.3.1"}


def demo_seed(start: datetime, settings: "Settings") -> dict:
    organisations = list(ORGANISATIONS.items())
    statuses, types, fields = settings.statuses, settings.issue_types, settings.fields
    issues = []
    number = 0
    for status_role, type_role, days, count in LAYOUT:
        for _ in range(count):
            name, (language, customers) = organisations[number % len(organisations)]
            since = start - timedelta(days=days, hours=number % 5)
            issue = {
                "type": getattr(types, type_role), "summary": SUMMARIES[language][number % len(SUMMARIES[language])],
                "reporter": customers[number % len(customers)], "organisation": name, "agent": AGENT,
                "created": (since - timedelta(days=2)).isoformat(), "status": getattr(statuses, status_role),
                "status_since": since.isoformat(), "priority": settings.priorities.p3 if "defect" in type_role else None,
            }
            if status_role in ("delivery_pending", "planned"):
                issue["custom_fields"] = {fields.delivery_version: DELIVERY_VERSIONS[type_role]}
                if type_role == "delivery":
                    issue["custom_fields"][fields.estimated_delivery_date] = (start + timedelta(days=20)).date().isoformat()
                    issue["reporter"] = AGENT
            if status_role == "clarification":
                question = "Könnten Sie uns bitte die Protokolldatei senden?" if language == "de" else "Could you please send us the log file?"
                issue["comments"] = [{"author": AGENT, "body": question, "created": since.isoformat()}]
            issues.append(issue)
            number += 1
    # A ticket that came in by e-mail an hour ago, typed Incident by the mail handler (intake.email_request).
    issues.append({"type": types.incident, "summary": "Kurs lässt sich nicht öffnen", "reporter": "erika@beispiel.example",
                   "organisation": "Beispiel GmbH", "created": (start - timedelta(hours=1)).isoformat(), "channel": "email"})
    return {"now": start.isoformat(), "users": [{"email": BOT, "displayName": "Service Desk Automation", "agent": True},
                                        {"email": AGENT, "displayName": "Anna Agent", "agent": True}],
            "organisations": list(ORGANISATIONS), "issues": issues}


@dataclass(frozen=True)
class Step:
    day: int
    number: int  # the ticket's number in the project (0: a new ticket or a delivery)
    who: str  # "customer", "agent" or "release manager"
    # "comment"; "status:<role>"; "type:<role>"; "priority:<role>"; "version:<version>"; "confidential";
    # "maintenance:<ISO date-time>"; "new:<type role>[:<priority role>]" (a customer raises `text`,
    # "summary|description"); and, for the release
    # manager through the service's API, "delivery:<organisation>|<version>|<estimated date>"
    what: str
    text: str = ""


def demo_script() -> list[Step]:
    """What people do during the 60 days (numbers follow the seed's order: SD-1 is the first)."""
    return [
        Step(2, 20, "agent", "comment", "Thank you, we are looking into it."),
        Step(4, 28, "agent", "priority:p1"),
        Step(3, 9, "customer", "comment", "Sorry for the delay, I will send the log file this week."),
        Step(5, 0, "customer", "new:incident", "Import crashes with an error|Since the update the user import crashes "
                                                "with an exception and a stack trace; the error message says the file is broken."),
        # Saturday evening in Melbourne: raised on the portal, so without a priority; its text says
        # outage (oncall.outage_phrases), and the on-call service is paged.
        Step(5, 0, "customer", "new:incident", "Platform down for all users|Since this morning nobody can log in; "
                                               "the whole learning platform is unreachable."),
        Step(6, 12, "customer", "comment", "Danke, funktioniert jetzt. Das Ticket kann geschlossen werden."),
        Step(7, 23, "agent", "type:suggestion"),
        Step(8, 5, "agent", "type:consulting_request"),
        Step(8, 24, "agent", "type:consulting_request"),
        Step(9, 15, "customer", "comment", "Unfortunately the error still occurs."),
        # An e-mail reply: the new text says nothing is better; the close it quotes is the agent's, not the customer's.
        Step(10, 16, "customer", "comment", "Leider dasselbe Bild wie gestern.\n\nAm 11.11.2026 um 10:12 schrieb Anna Agent "
                                            "<anna.agent@vendor.example>:\n> Wir haben den Export korrigiert. Sie können das "
                                            "Ticket schließen."),
        Step(9, 25, "agent", "confidential"),
        Step(11, 32, "agent", "status:delivery_pending"),
        Step(13, 29, "agent", "version:14.21.3.1"),
        Step(13, 29, "agent", "status:delivery_pending"),
        Step(14, 30, "agent", "status:clarification", "Which browser version do you use?"),
        Step(14, 31, "agent", "status:clarification", "Können Sie uns einen Screenshot schicken?"),
        Step(20, 43, "release manager", "maintenance:2026-11-26T20:00:00.000+0100"),
        Step(21, 26, "agent", "status:resolved", "The fix is included in patch 14.21.3.1."),
        Step(21, 27, "agent", "status:resolved", "Die Konfiguration wurde angepasst."),
        Step(28, 30, "customer", "comment", "We use Chrome 131."),
        Step(35, 26, "customer", "comment", "Thanks, you can close the ticket."),
        Step(17, 1, "customer", "comment", "I am still collecting the data."),
        Step(16, 2, "customer", "comment", "This is unacceptable, we have been waiting for weeks. Please escalate."),
        # SD-28, a P2 defect since day 4, is accepted on Wednesday of week 4: its 2d resolution time
        # (18h of working time) reaches 80% on Friday, and the team lead is warned (sla.resolution).
        # Christmas Day: the thanks arrive on a holiday; the ticket is closed on the next working morning.
        Step(53, 27, "customer", "comment", "Vielen Dank, es funktioniert wieder. Das Ticket kann geschlossen werden."),
        Step(23, 28, "agent", "comment", "Wir haben die Ursache gefunden und arbeiten an der Korrektur."),
        # Deliveries: SD-42 (Northwind) and SD-43 (Muster AG) were planned before the demo began.
        Step(10, 0, "release manager", "delivery:Acme Learning Ltd|14.21.3.1|2026-12-04"),
        Step(12, 0, "release manager", "delivery:Acme Learning Ltd|14.21.3.1|2026-12-11"),
        Step(22, 42, "release manager", "status:delivered"),
        Step(24, 43, "release manager", "status:stage_installation_completed"),
        Step(31, 43, "release manager", "status:installation_completed"),
    ]
