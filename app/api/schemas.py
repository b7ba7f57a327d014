"""What the ingest API accepts, validated strictly at the edge (pydantic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
)

from geo_data.catalogue import load_categories
from geo_data.models import CHANNELS

MAX_BATCH = 1000
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # reported_at bounds: a deadline computed from it
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # must stay a timestamp Python can read back


def no_nul(value: str | None) -> str | None:
    """Refuse U+0000: PostgreSQL text cannot hold it (it was a 503/500 from the store)."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


NoNul = AfterValidator(no_nul)


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
    description: Annotated[str, Field(max_length=2000), NoNul] = ""
    reporter_name: Annotated[str | None, Field(max_length=64), NoNul] = None
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

    @field_validator("reported_at")
    @classmethod
    def plausible_time(cls, value: datetime) -> datetime:
        """In UTC (PostgreSQL refuses offsets beyond 15:59) and from 1970 to 2099 (a case
        reported at 9999-12-31 had a deadline past year 9999 that no read could load)."""
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("must be from 1970 to 2099") from None
        if not EARLIEST <= utc < LATEST:
            raise ValueError("must be from 1970 to 2099")
        return utc


class BatchIn(BaseModel):
    """Up to 1,000 events; with ``atomic`` all are stored or none."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[dict], Field(min_length=1, max_length=MAX_BATCH)]
    atomic: bool = False
