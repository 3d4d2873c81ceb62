"""Settings from app.yaml and secrets from the environment, validated once at start."""

from config.durations import Duration
from config.loader import SettingsError, load_settings, settings_from_mapping
from config.settings import Settings

__all__ = ["Duration", "Settings", "SettingsError", "load_settings", "settings_from_mapping"]
