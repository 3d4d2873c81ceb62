"""The functional core: pure rules from a ticket snapshot, the time and the settings to actions.

Nothing here reads the clock, the network, files or Jira's JSON; a test enforces the imports.
"""

from jsm_autopilot.rules.actions import Action, FieldChange, InternalComment, PublicComment, Transition
from jsm_autopilot.rules.model import Comment, Role, Ticket

__all__ = [
    "Action",
    "Comment",
    "FieldChange",
    "InternalComment",
    "PublicComment",
    "Role",
    "Ticket",
    "Transition",
]
