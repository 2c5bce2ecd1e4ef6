"""The base of every Novita response model, and the small pieces several models share."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from novictl.novita.fields import to_optional_str

__all__ = ["EnvVar", "NovitaModel"]


class NovitaModel(BaseModel):
    """Base of every response model: camelCase aliases, snake_case names, unknown fields kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class EnvVar(NovitaModel):
    """An environment variable; its value is kept out of ``repr`` because env vars often carry tokens."""

    key: str
    value: str = Field(default="", repr=False)

    @field_validator("value", mode="before")
    @classmethod
    def _value_as_text(cls, value: Any) -> str:
        return to_optional_str(value) or ""
