"""The web console under /console/: admins and release managers, signed in through Jira."""
