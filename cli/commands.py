"""The command group with every command registered: what `jsm-autopilot` runs and the docs' CLI
reference lists (mkdocs-click reads `cli` here)."""

from __future__ import annotations

import jsm_autopilot.cli.audit  # noqa: F401  (registers audit and events show)
import jsm_autopilot.cli.confirm  # noqa: F401  (registers confirm)
import jsm_autopilot.cli.deliveries  # noqa: F401  (registers delivery)
import jsm_autopilot.cli.live  # noqa: F401  (registers sweep and sandbox)
import jsm_autopilot.cli.triage  # noqa: F401  (registers triage)
import jsm_autopilot.cli.why  # noqa: F401  (registers why)
from jsm_autopilot.cli.main import main as cli

__all__ = ["cli"]
