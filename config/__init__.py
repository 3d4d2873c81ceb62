"""Settings from app.yaml and secrets from the environment, validated once at start."""

from jsm_autopilot.config.durations import Duration
from jsm_autopilot.config.loader import load_settings, settings_from_mapping
from jsm_autopilot.config.settings import Settings
from jsm_autopilot.errors import SettingsError

__all__ = ["Duration", "Settings", "SettingsError", "load_settings", "settings_from_mapping"]
