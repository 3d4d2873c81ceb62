"""Settings from app.yaml and secrets from the environment, validated once at start."""

from jsm_autopilot.config.durations import Duration
from jsm_autopilot.config.loader import SettingsError, load_settings, settings_from_mapping
from jsm_autopilot.config.settings import Settings

__all__ = ["Duration", "Settings", "SettingsError", "load_settings", "settings_from_mapping"]
