"""The console's settings (`console:` in app.yaml): who may use it, and how people sign in."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from jsm_autopilot.config.sections import Name, Section


class ConsoleSettings(Section):
    """The web console under /console/ (console/): admins and release managers sign in through
    Jira; what they may do comes from their Jira groups, read at sign-in."""

    # Serve the console under /console/.
    enabled: bool = False
    # Jira groups whose members are the console's admins (all pages).
    admins: list[Name] = ["jira-administrators"]
    # Jira groups whose members may use the Delivery page.
    release_managers: list[Name] = ["release-managers"]
    # "oauth": Atlassian's OAuth 2.0 (3LO) on Cloud, Jira's own OAuth 2.0 provider (an incoming
    # application link) on Data Center; "token": a personal access token checked against /myself
    # (Data Center). None: oauth on Cloud, token on Data Center.
    sign_in: Literal["oauth", "token"] | None = None
    # The console's address as browsers reach it (through the reverse proxy): the OAuth callback
    # registered with Atlassian is this plus /console/signed-in, exactly.
    public_url: Annotated[str, Field(pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")] | None = None
    # Where Atlassian's sign-in and API gateway are (the sandbox stands in for both in tests).
    auth_url: Annotated[str, Field(pattern=r"^https?://[^?#\s]+$")] = "https://auth.atlassian.com"
    # Atlassian's API gateway (accessible resources, and Jira through /ex/jira/<cloudId>).
    api_url: Annotated[str, Field(pattern=r"^https?://[^?#\s]+$")] = "https://api.atlassian.com"
    # A signed-in session ends after this long (Atlassian's access token lives one hour).
    session_minutes: Annotated[int, Field(ge=5, le=24 * 60)] = 60

    @model_validator(mode="after")
    def _roles_named(self) -> "ConsoleSettings":
        if self.enabled and not (self.admins or self.release_managers):
            raise ValueError("console.admins and console.release_managers: name at least one Jira group")
        return self

    @property
    def callback_url(self) -> str | None:
        return None if self.public_url is None else self.public_url.rstrip("/") + "/console/signed-in"
