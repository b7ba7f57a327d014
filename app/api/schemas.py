"""What the ingest API accepts, validated strictly at the edge (pydantic)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from geo_data.catalogue import load_categories
from geo_data.models import CHANNELS

MAX_BATCH = 1000
Channel = Literal[CHANNELS]  # type: ignore[valid-type]


class EventIn(BaseModel):
    """One report of an incident from a channel."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    external_id: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
    ]
    category: Annotated[str, Field(min_length=1, max_length=16)]
    severity: Annotated[int, Field(ge=1, le=4, strict=True)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    reported_at: AwareDatetime
    description: Annotated[str, Field(max_length=2000)] = ""
    reporter_name: Annotated[str | None, Field(max_length=64)] = None
    reporter_phone: Annotated[
        str | None, Field(max_length=20, pattern=r"^\+?[0-9][0-9 \-]{4,19}$")
    ] = None
    media_url: Annotated[HttpUrl | None, Field(max_length=2000)] = None

    @field_validator("category")
    @classmethod
    def known_category(cls, value: str) -> str:
        if value not in {c.code for c in load_categories()}:
            raise ValueError("unknown category (see /api/v1/categories)")
        return value


class BatchIn(BaseModel):
    """Up to 1,000 events; with ``atomic`` all are stored or none."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[dict], Field(min_length=1, max_length=MAX_BATCH)]
    atomic: bool = False
