"""The only code that speaks to Jira: JSON mapping, and (later) the HTTP client and executor."""
