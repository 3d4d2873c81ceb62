"""A realistic JSM project for the demo: some 50 tickets over every status and type, customer
organisations in English and German, and a script of what customers and agents do over 60 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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
# (status, type, days in that status before the demo starts, how many)
LAYOUT = [
    ("Clarification required / On hold", "Incident", 2, 3), ("Clarification required / On hold", "Request", 9, 3),
    ("Clarification required / On hold", "Software Defect", 18, 2), ("Clarification required / On hold", "Consulting Request", 33, 2),
    ("Resolved", "Support Request", 3, 3), ("Resolved", "Non-Software Defect", 20, 3), ("Resolved", "Software Defect", 45, 3),
    ("Opened", "Incident", 0, 3), ("Opened", "Request", 1, 2), ("In Review by Service Desk", "Incident", 2, 3),
    ("In Progress", "Software Defect", 6, 4), ("In Progress", "Customisation", 12, 2), ("Delivery Pending", "Software Defect", 8, 3),
    ("Delivery Pending", "Consulting Request", 5, 1), ("Estimation in progress", "Customisation", 4, 2),
    ("Estimation available", "Customisation", 7, 1), ("Ordered", "Customisation", 10, 1), ("Planned", "Delivery", 3, 2),
    ("Closed", "Suggestion", 30, 2), ("Closed", "Support Request", 60, 2),
]


# Delivery versions of the seeded tickets waiting for a delivery, and of the Planned Delivery tickets.
DELIVERY_VERSIONS = {"Software Defect": "14.21.3.1", "Consulting Request": "CUSTOM", "Delivery": "14.21.3.1"}


def demo_seed(start: datetime, version_field: str = "customfield_10100", date_field: str = "customfield_10101") -> dict:
    organisations = list(ORGANISATIONS.items())
    issues = []
    number = 0
    for status, issue_type, days, count in LAYOUT:
        for _ in range(count):
            name, (language, customers) = organisations[number % len(organisations)]
            since = start - timedelta(days=days, hours=number % 5)
            issue = {
                "type": issue_type, "summary": SUMMARIES[language][number % len(SUMMARIES[language])],
                "reporter": customers[number % len(customers)], "organisation": name, "agent": AGENT,
                "created": (since - timedelta(days=2)).isoformat(), "status": status, "status_since": since.isoformat(),
                "priority": "P3" if "Defect" in issue_type else None,
            }
            if status in ("Delivery Pending", "Planned"):
                issue["custom_fields"] = {version_field: DELIVERY_VERSIONS[issue_type]}
                if issue_type == "Delivery":
                    issue["custom_fields"][date_field] = (start + timedelta(days=20)).date().isoformat()
                    issue["reporter"] = AGENT
            if status.startswith("Clarification"):
                question = "Könnten Sie uns bitte die Protokolldatei senden?" if language == "de" else "Could you please send us the log file?"
                issue["comments"] = [{"author": AGENT, "body": question, "created": since.isoformat()}]
            issues.append(issue)
            number += 1
    return {"now": start.isoformat(), "users": [{"email": BOT, "displayName": "Service Desk Automation"}, {"email": AGENT, "displayName": "Anna Agent"}],
            "organisations": list(ORGANISATIONS), "issues": issues}


@dataclass(frozen=True)
class Step:
    day: int
    key: str
    who: str  # "customer", "agent" or "release manager"
    # "comment", "priority:<name>", a status to move to, or (release manager, through the service's
    # API) "delivery:<organisation>|<version>|<estimated date>"
    what: str
    text: str = ""


def demo_script() -> list[Step]:
    """What people do during the 60 days (keys follow the seed's order)."""
    return [
        Step(2, "SD-20", "agent", "comment", "Thank you, we are looking into it."),
        Step(4, "SD-28", "agent", "priority:P1"),
        Step(3, "SD-9", "customer", "comment", "Sorry for the delay, I will send the log file this week."),
        Step(6, "SD-12", "customer", "comment", "Danke, funktioniert jetzt. Das Ticket kann geschlossen werden."),
        Step(9, "SD-15", "customer", "comment", "Unfortunately the error still occurs."),
        Step(14, "SD-30", "agent", "Clarification required / On hold", "Which browser version do you use?"),
        Step(14, "SD-31", "agent", "Clarification required / On hold", "Können Sie uns einen Screenshot schicken?"),
        Step(21, "SD-26", "agent", "Resolved", "The fix is included in patch 14.21.3.1."),
        Step(21, "SD-27", "agent", "Resolved", "Die Konfiguration wurde angepasst."),
        Step(28, "SD-30", "customer", "comment", "We use Chrome 131."),
        Step(35, "SD-26", "customer", "comment", "Thanks, you can close the ticket."),
        Step(17, "SD-1", "customer", "comment", "I am still collecting the data."),
        # Deliveries: SD-42 (Northwind) and SD-43 (Muster AG) were planned before the demo began.
        Step(10, "", "release manager", "delivery:Acme Learning Ltd|14.21.3.1|2026-12-04"),
        Step(12, "", "release manager", "delivery:Acme Learning Ltd|14.21.3.1|2026-12-11"),
        Step(22, "SD-42", "release manager", "Delivered"),
        Step(24, "SD-43", "release manager", "Stage installation completed"),
        Step(31, "SD-43", "release manager", "Installation completed"),
    ]
