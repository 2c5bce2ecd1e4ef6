"""The base of every Novita response model, and the small pieces several models share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from novictl.novita.fields import Text

__all__ = ["EnvVar", "NovitaModel"]


class NovitaModel(BaseModel):
    """Base of every response model: camelCase aliases, snake_case names, unknown fields kept."""

    # defer_build: the schema is built on first use, so commands that never parse a Novita answer
    # (list and show from the store, touch) do not pay for building every model at import.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", defer_build=True
    )


class EnvVar(NovitaModel):
    """An environment variable; its value is kept out of ``repr`` because env vars often carry tokens."""

    key: str
    value: Text = Field(default="", repr=False)
