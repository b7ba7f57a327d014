"""The spatial data model: areas, buildings, cameras, workers, cases and their log, and
the basemap they are drawn on (roads, water, landuse).

SRID 4326 everywhere. Each located thing carries the id of the area it lies in at every
level (district to grid, courtyard when in one), resolved by PostGIS when it is loaded,
so views aggregate with a GROUP BY on an indexed column instead of a spatial join.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

LEVELS = ("city", "district", "street", "community", "grid", "courtyard")
TILING_LEVELS = ("district", "street", "community", "grid")
CHANNELS = ("hotline", "web", "app", "wechat", "grid_worker", "iot_sensor", "video_ai", "walk_in")
CASE_STATUSES = (
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "handled",
    "verified",
    "closed",
    "rejected",
    "escalated",
    "reopened",
    "merged",
)
CLOSED_STATUSES = ("closed", "rejected", "merged")
HANDLING_LEVELS = ("community", "street", "district")
CAMERA_TIERS = ("district", "street", "community", "courtyard")
CAMERA_STATUSES = ("online", "offline", "fault")
WORKER_STATUSES = ("available", "en_route", "on_site", "off_duty")
ROLES = ("operator", "supervisor", "leader", "admin")
H3_RESOLUTIONS = (7, 8, 9, 10, 11, 12)
# The basemap's kinds, as the tiles and the style draw them (main roads first).
ROAD_KINDS = ("motorway", "trunk", "primary", "secondary", "tertiary", "residential", "service")
WATER_KINDS = ("river", "canal", "lake", "pond")
LANDUSE_KINDS = ("park", "green", "forest", "farmland")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_LEVEL_RANK_SQL = (
    "CASE level "
    + " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(LEVELS))
    + " END"
)


class Base(DeclarativeBase):
    pass


class AreaRefs:
    """The area a located row lies in at each level (NULL where none)."""

    @declared_attr
    def district_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("areas.id"), index=True)

    @declared_attr
    def street_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("areas.id"), index=True)

    @declared_attr
    def community_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("areas.id"), index=True)

    @declared_attr
    def grid_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("areas.id"), index=True)

    @declared_attr
    def courtyard_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("areas.id"), index=True)


class H3Cells:
    """The H3 cells (resolutions 7-12) of a point, as indexed 64-bit integers."""

    h3_r7: Mapped[int] = mapped_column(BigInteger, index=True)
    h3_r8: Mapped[int] = mapped_column(BigInteger, index=True)
    h3_r9: Mapped[int] = mapped_column(BigInteger, index=True)
    h3_r10: Mapped[int] = mapped_column(BigInteger, index=True)
    h3_r11: Mapped[int] = mapped_column(BigInteger, index=True)
    h3_r12: Mapped[int] = mapped_column(BigInteger, index=True)


class Area(Base):
    """An administrative area: city > district > street > community > grid > courtyard."""

    __tablename__ = "areas"
    __table_args__ = (CheckConstraint(_in("level", LEVELS), name="area_level_known"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    level_rank: Mapped[int] = mapped_column(SmallInteger, Computed(_LEVEL_RANK_SQL, persisted=True))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    population: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    label_point = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    # Ancestors (and self) at each level, so any row joins up the tree without recursion.
    city_id: Mapped[int | None] = mapped_column(Integer)
    district_id: Mapped[int | None] = mapped_column(Integer, index=True)
    street_id: Mapped[int | None] = mapped_column(Integer, index=True)
    community_id: Mapped[int | None] = mapped_column(Integer, index=True)
    grid_id: Mapped[int | None] = mapped_column(Integer)


class Building(AreaRefs, Base):
    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name_zh: Mapped[str | None] = mapped_column(String(128))
    name_en: Mapped[str | None] = mapped_column(String(128))
    floors: Mapped[int | None] = mapped_column(SmallInteger)
    use: Mapped[str | None] = mapped_column(String(24))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)


class Camera(AreaRefs, H3Cells, Base):
    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint(_in("tier", CAMERA_TIERS), name="camera_tier_known"),
        CheckConstraint(_in("status", CAMERA_STATUSES), name="camera_status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name_zh: Mapped[str | None] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="online")
    stream_url: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)


class Worker(AreaRefs, Base):
    """A grid worker; tier 1 paid full-time, 2 volunteers, 3 building heads and residents."""

    __tablename__ = "workers"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 3", name="worker_tier_range"),
        CheckConstraint(_in("status", WORKER_STATUSES), name="worker_status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    tier: Mapped[int] = mapped_column(SmallInteger)
    home_grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="available")
    phone: Mapped[str | None] = mapped_column(String(32))  # personal data
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))


class Category(Base):
    """A case category from the catalogue (``geo_data/catalogue/categories.csv``)."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    class_code: Mapped[str] = mapped_column(String(16))
    class_zh: Mapped[str] = mapped_column(String(64))
    class_en: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(96))
    sla_hours_s1: Mapped[float] = mapped_column(Float)
    sla_hours_s2: Mapped[float] = mapped_column(Float)
    sla_hours_s3: Mapped[float] = mapped_column(Float)
    sla_hours_s4: Mapped[float] = mapped_column(Float)
    default_severity: Mapped[int] = mapped_column(SmallInteger)
    urgent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="user_role_known"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Case(AreaRefs, H3Cells, Base):
    """A reported incident and where it stands in the workflow."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="case_external_id_per_channel"),
        CheckConstraint(_in("channel", CHANNELS), name="case_channel_known"),
        CheckConstraint(_in("status", CASE_STATUSES), name="case_status_known"),
        CheckConstraint(_in("handling_level", HANDLING_LEVELS), name="case_level_known"),
        CheckConstraint("severity BETWEEN 1 AND 4", name="case_severity_range"),
        CheckConstraint("version >= 1", name="case_version_positive"),
        CheckConstraint("char_length(description) <= 4000", name="case_description_length"),
        CheckConstraint(
            "duplicate_of_id IS NULL OR duplicate_of_id <> id", name="case_not_self_duplicate"
        ),
        Index(
            "ix_cases_open_grid",
            "grid_id",
            postgresql_where=text("status NOT IN ('closed', 'rejected', 'merged')"),
        ),
        # The duplicate check looks for an open original near each report: a spatial index
        # over open originals only stays small however large the history grows.
        Index(
            "ix_cases_open_originals_geom",
            "geom",
            postgresql_using="gist",
            postgresql_where=text(
                "status NOT IN ('closed', 'rejected', 'merged') AND duplicate_of_id IS NULL"
            ),
        ),
        # Windowed figures (received, closed, on time, top categories over N days) at any
        # level read only this index: the area ids and fields they count are included.
        Index(
            "ix_cases_recent_cover",
            "reported_at",
            postgresql_include=[
                "district_id",
                "street_id",
                "community_id",
                "grid_id",
                "courtyard_id",
                "status",
                "category_code",
                "closed_at",
                "due_at",
            ],
        ),
        Index(
            "ix_cases_open_due",
            "due_at",
            postgresql_where=text("status NOT IN ('closed', 'rejected', 'merged')"),
        ),
        # Figures by the time a case was closed (closed per day, the weekly worker
        # leaderboard, what was still open at an earlier time) read only this index.
        Index(
            "ix_cases_closed_cover",
            "closed_at",
            postgresql_include=[
                "district_id",
                "street_id",
                "community_id",
                "grid_id",
                "courtyard_id",
                "status",
                "category_code",
                "reported_at",
                "due_at",
                "assignee_id",
                "satisfied",
            ],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    severity: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    handling_level: Mapped[str] = mapped_column(String(16), server_default="community")
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    report_count: Mapped[int] = mapped_column(Integer, server_default="1")
    description: Mapped[str] = mapped_column(Text, server_default="")
    reporter_name: Mapped[str | None] = mapped_column(String(64))  # personal data
    reporter_phone: Mapped[str | None] = mapped_column(String(32))  # personal data
    media_url: Mapped[str | None] = mapped_column(Text)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CaseEvent(Base):
    """One entry of a case's audit log. Append-only: a trigger rejects UPDATE and DELETE."""

    __tablename__ = "case_events"
    # The weekly leaderboard counts reopened cases against their handler.
    __table_args__ = (
        Index("ix_case_events_reopen_at", "at", postgresql_where=text("action = 'reopen'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, server_default="")
    data: Mapped[dict | None] = mapped_column(JSONB)


class DataLoad(Base):
    """Who loaded which file into which table, and how many rows: the ETL's audit trail."""

    __tablename__ = "data_loads"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FeedEntry(Base):
    """One committed change to a case, in commit order: the source of every live update.

    ``seq`` is assigned under a transaction-scoped advisory lock held until commit, so
    seq order is commit order and a client that has applied ``seq`` N can ask for
    everything after N without missing a change that committed late.
    """

    __tablename__ = "case_feed"

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    district_id: Mapped[int | None] = mapped_column(Integer)
    street_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    grid_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSONB)


class ApiKey(Base):
    """A per-channel ingest key; only its SHA-256 is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_in("channel", CHANNELS), name="api_key_channel_known"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_per_minute: Mapped[int] = mapped_column(Integer, server_default="600")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UserSession(Base):
    """A signed-in session (browser cookie or terminal bearer token); only the token's
    SHA-256 is stored, so a copied table grants nothing. Logout or disabling the user
    ends it at once."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # browser | token
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Road(Base):
    """A road of the basemap: its kind sets when and how wide it is drawn."""

    __tablename__ = "roads"
    __table_args__ = (CheckConstraint(_in("kind", ROAD_KINDS), name="road_kind_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTILINESTRING", srid=4326, spatial_index=True), nullable=False)


class Water(Base):
    """A river, canal, lake or pond of the basemap."""

    __tablename__ = "water"
    __table_args__ = (CheckConstraint(_in("kind", WATER_KINDS), name="water_kind_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)


class Landuse(Base):
    """Green and open land of the basemap: parks, green belts, forest, farmland."""

    __tablename__ = "landuse"
    __table_args__ = (CheckConstraint(_in("kind", LANDUSE_KINDS), name="landuse_kind_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
