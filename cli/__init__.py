"""The jsm-autopilot command line."""
