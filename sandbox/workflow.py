"""The sandbox project's workflow, built from app.yaml's status names (the guide's process).

Like a Jira workflow it offers, from each status, only some transitions; each transition has a
name, an id and a target status. Names follow the guide; a German site gets its own status names.
"""

from __future__ import annotations

from dataclasses import dataclass

from jsm_autopilot.config.settings import Settings


@dataclass(frozen=True)
class WorkflowTransition:
    id: str
    name: str
    to_status: str
    # JSM's default workflows put a screen asking for the Resolution on the transitions into
    # Resolved and Closed; without it Jira answers 400 (sandbox/REAL_JIRA.md).
    requires_resolution: bool = False


# Jira's default resolutions (Cloud and Data Center: Done, Won't Do, Duplicate, Cannot Reproduce).
RESOLUTIONS = {"10000": "Done", "10001": "Won't Do", "10002": "Duplicate", "10003": "Cannot Reproduce"}


# Role names of statuses (keys of `statuses` in app.yaml) and where each may go.
_FLOW = {
    "opened": ["in_review", "clarification", "in_progress", "resolved", "closed"],
    "in_review": ["clarification", "in_progress", "delivery_pending", "estimation_in_progress", "resolved", "closed"],
    "clarification": ["in_review", "in_progress", "resolved", "closed"],
    "in_progress": ["clarification", "in_review", "delivery_pending", "resolved"],
    "delivery_pending": ["in_progress", "resolved", "closed"],
    "resolved": ["in_review", "in_progress", "closed"],
    "closed": [],
    "estimation_in_progress": ["estimation_available", "clarification"],
    "estimation_available": ["ordered", "closed"],
    "ordered": ["in_progress"],
    "planned": ["delivered", "stage_installation_completed"],
    "stage_installation_completed": ["installation_completed"],
    "delivered": [],
    "installation_completed": [],
}
_NAMES = {
    "in_review": "Back to review",
    "clarification": "Request clarification",
    "in_progress": "Start progress",
    "delivery_pending": "Pending delivery",
    "resolved": "Resolve",
    "closed": "Close",
    "estimation_in_progress": "Estimate",
    "estimation_available": "Estimation done",
    "ordered": "Order",
    "delivered": "Deliver",
    "stage_installation_completed": "Installed on stage",
    "installation_completed": "Installed",
}
_DONE = {"resolved", "closed", "delivered", "installation_completed"}
_SCREEN_WITH_RESOLUTION = {"resolved", "closed"}


class Workflow:
    def __init__(self, settings: Settings):
        statuses = settings.statuses.model_dump(exclude={"hand_back_to"})
        self._role_of = {name: role for role, name in statuses.items()}
        self._name_of = statuses
        self._ids = {name: str(10000 + index) for index, name in enumerate(statuses.values())}
        self.delivery_type = settings.issue_types.delivery
        types = settings.issue_types
        # The workflow scheme: which workflow each type uses. JSM's templates give incidents and
        # service requests workflows of their own; a seed may change this (`workflow_of`).
        self.workflow_of = {
            types.incident: "Incident workflow", types.software_defect: "Incident workflow",
            types.non_software_defect: "Incident workflow", types.request: "Service request workflow",
            types.consulting_request: "Service request workflow", types.support_request: "Service request workflow",
            types.customisation: "Service request workflow", types.suggestion: "Service request workflow",
            types.delivery: "Delivery workflow",
        }
        self._transition_ids = {role: str(11 + 10 * index) for index, role in enumerate(_NAMES)}

    def same_workflow(self, one_type: str, other_type: str) -> bool:
        return self.workflow_of.get(one_type, "default") == self.workflow_of.get(other_type, "default")

    @property
    def statuses(self) -> list[str]:
        return list(self._name_of.values())

    def status_id(self, name: str) -> str:
        return self._ids.get(name, "1")

    def category(self, name: str) -> dict:
        role = self._role_of.get(name)
        if role in _DONE:
            return {"id": 3, "key": "done", "colorName": "green", "name": "Done"}
        if role in ("opened", "planned"):
            return {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}
        return {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"}

    def is_done(self, name: str) -> bool:
        return self._role_of.get(name) in _DONE

    def initial_status(self, issue_type: str) -> str:
        return self._name_of["planned"] if issue_type == self.delivery_type else self._name_of["opened"]

    def transitions_from(self, status: str) -> list[WorkflowTransition]:
        role = self._role_of.get(status)
        return [
            WorkflowTransition(self._transition_ids[target], _NAMES[target], self._name_of[target], target in _SCREEN_WITH_RESOLUTION)
            for target in _FLOW.get(role, [])
        ]
