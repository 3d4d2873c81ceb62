"""What every section of app.yaml shares: unknown keys are errors (a typo must not fall back to a
default silently), and settings never change once read."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["en", "de"]
Name = Annotated[str, Field(min_length=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
