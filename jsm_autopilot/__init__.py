"""jsm-autopilot: runs a Jira Service Management project's service-desk process.

The repository keeps its folders at the top (`rules/`, `connector/`, `webhooks/`, ...); installed,
each is a subpackage of this one (pyproject.toml maps them), so no generic top-level name such as
`rules` or `config` goes into site-packages.
"""
