"""The Jira webhook receiver (issue 5): verify, de-duplicate, store, acknowledge fast."""
