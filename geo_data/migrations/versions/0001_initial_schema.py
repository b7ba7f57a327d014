"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 10:50:53.977943
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # GeoAlchemy2 creates each geometry column's GIST index along with its table.
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column(
            "level_rank",
            sa.SmallInteger(),
            sa.Computed(
                "CASE level WHEN 'city' THEN 0 WHEN 'district' THEN 1 WHEN 'street' THEN 2 WHEN 'community' THEN 3 WHEN 'grid' THEN 4 WHEN 'courtyard' THEN 5 END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "label_point",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("city_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "level IN ('city', 'district', 'street', 'community', 'grid', 'courtyard')",
            name="area_level_known",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["areas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_areas_community_id"), "areas", ["community_id"], unique=False)
    op.create_index(op.f("ix_areas_district_id"), "areas", ["district_id"], unique=False)
    op.create_index(op.f("ix_areas_level"), "areas", ["level"], unique=False)
    op.create_index(op.f("ix_areas_parent_id"), "areas", ["parent_id"], unique=False)
    op.create_index(op.f("ix_areas_street_id"), "areas", ["street_id"], unique=False)
    op.create_table(
        "categories",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("class_code", sa.String(length=16), nullable=False),
        sa.Column("class_zh", sa.String(length=64), nullable=False),
        sa.Column("class_en", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=96), nullable=False),
        sa.Column("sla_hours_s1", sa.Float(), nullable=False),
        sa.Column("sla_hours_s2", sa.Float(), nullable=False),
        sa.Column("sla_hours_s3", sa.Float(), nullable=False),
        sa.Column("sla_hours_s4", sa.Float(), nullable=False),
        sa.Column("default_severity", sa.SmallInteger(), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=True),
        sa.Column("name_en", sa.String(length=128), nullable=True),
        sa.Column("floors", sa.SmallInteger(), nullable=True),
        sa.Column("use", sa.String(length=24), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("courtyard_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["courtyard_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["areas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_buildings_community_id"), "buildings", ["community_id"], unique=False)
    op.create_index(op.f("ix_buildings_courtyard_id"), "buildings", ["courtyard_id"], unique=False)
    op.create_index(op.f("ix_buildings_district_id"), "buildings", ["district_id"], unique=False)
    op.create_index(op.f("ix_buildings_grid_id"), "buildings", ["grid_id"], unique=False)
    op.create_index(op.f("ix_buildings_street_id"), "buildings", ["street_id"], unique=False)
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="online", nullable=False),
        sa.Column("stream_url", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("courtyard_id", sa.Integer(), nullable=True),
        sa.Column("h3_r7", sa.BigInteger(), nullable=False),
        sa.Column("h3_r8", sa.BigInteger(), nullable=False),
        sa.Column("h3_r9", sa.BigInteger(), nullable=False),
        sa.Column("h3_r10", sa.BigInteger(), nullable=False),
        sa.Column("h3_r11", sa.BigInteger(), nullable=False),
        sa.Column("h3_r12", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("status IN ('online', 'offline', 'fault')", name="camera_status_known"),
        sa.CheckConstraint(
            "tier IN ('district', 'street', 'community', 'courtyard')", name="camera_tier_known"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["courtyard_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["areas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_cameras_community_id"), "cameras", ["community_id"], unique=False)
    op.create_index(op.f("ix_cameras_courtyard_id"), "cameras", ["courtyard_id"], unique=False)
    op.create_index(op.f("ix_cameras_district_id"), "cameras", ["district_id"], unique=False)
    op.create_index(op.f("ix_cameras_grid_id"), "cameras", ["grid_id"], unique=False)
    op.create_index(op.f("ix_cameras_h3_r10"), "cameras", ["h3_r10"], unique=False)
    op.create_index(op.f("ix_cameras_h3_r11"), "cameras", ["h3_r11"], unique=False)
    op.create_index(op.f("ix_cameras_h3_r12"), "cameras", ["h3_r12"], unique=False)
    op.create_index(op.f("ix_cameras_h3_r7"), "cameras", ["h3_r7"], unique=False)
    op.create_index(op.f("ix_cameras_h3_r8"), "cameras", ["h3_r8"], unique=False)
    op.create_index(op.f("ix_cameras_h3_r9"), "cameras", ["h3_r9"], unique=False)
    op.create_index(op.f("ix_cameras_street_id"), "cameras", ["street_id"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('operator', 'supervisor', 'leader', 'admin')", name="user_role_known"
        ),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["areas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("home_grid_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="available", nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("courtyard_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('available', 'en_route', 'on_site', 'off_duty')", name="worker_status_known"
        ),
        sa.CheckConstraint("tier BETWEEN 1 AND 3", name="worker_tier_range"),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["courtyard_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["home_grid_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["areas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_workers_community_id"), "workers", ["community_id"], unique=False)
    op.create_index(op.f("ix_workers_courtyard_id"), "workers", ["courtyard_id"], unique=False)
    op.create_index(op.f("ix_workers_district_id"), "workers", ["district_id"], unique=False)
    op.create_index(op.f("ix_workers_grid_id"), "workers", ["grid_id"], unique=False)
    op.create_index(op.f("ix_workers_home_grid_id"), "workers", ["home_grid_id"], unique=False)
    op.create_index(op.f("ix_workers_street_id"), "workers", ["street_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "handling_level", sa.String(length=16), server_default="community", nullable=False
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True),
        sa.Column("report_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("reporter_name", sa.String(length=64), nullable=True),
        sa.Column("reporter_phone", sa.String(length=32), nullable=True),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("street_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("courtyard_id", sa.Integer(), nullable=True),
        sa.Column("h3_r7", sa.BigInteger(), nullable=False),
        sa.Column("h3_r8", sa.BigInteger(), nullable=False),
        sa.Column("h3_r9", sa.BigInteger(), nullable=False),
        sa.Column("h3_r10", sa.BigInteger(), nullable=False),
        sa.Column("h3_r11", sa.BigInteger(), nullable=False),
        sa.Column("h3_r12", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('hotline', 'web', 'app', 'wechat', 'grid_worker', 'iot_sensor', 'video_ai', 'walk_in')",
            name="case_channel_known",
        ),
        sa.CheckConstraint(
            "handling_level IN ('community', 'street', 'district')", name="case_level_known"
        ),
        sa.CheckConstraint(
            "status IN ('reported', 'accepted', 'dispatched', 'in_progress', 'handled', 'verified', 'closed', 'rejected', 'escalated', 'reopened', 'merged')",
            name="case_status_known",
        ),
        sa.CheckConstraint("char_length(description) <= 4000", name="case_description_length"),
        sa.CheckConstraint(
            "duplicate_of_id IS NULL OR duplicate_of_id <> id", name="case_not_self_duplicate"
        ),
        sa.CheckConstraint("severity BETWEEN 1 AND 4", name="case_severity_range"),
        sa.CheckConstraint("version >= 1", name="case_version_positive"),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["workers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["categories.code"],
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["courtyard_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["areas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["areas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id", name="case_external_id_per_channel"),
    )
    op.create_index(op.f("ix_cases_assignee_id"), "cases", ["assignee_id"], unique=False)
    op.create_index(op.f("ix_cases_category_code"), "cases", ["category_code"], unique=False)
    op.create_index(op.f("ix_cases_community_id"), "cases", ["community_id"], unique=False)
    op.create_index(op.f("ix_cases_courtyard_id"), "cases", ["courtyard_id"], unique=False)
    op.create_index(op.f("ix_cases_district_id"), "cases", ["district_id"], unique=False)
    op.create_index(op.f("ix_cases_duplicate_of_id"), "cases", ["duplicate_of_id"], unique=False)
    op.create_index(op.f("ix_cases_grid_id"), "cases", ["grid_id"], unique=False)
    op.create_index(op.f("ix_cases_h3_r10"), "cases", ["h3_r10"], unique=False)
    op.create_index(op.f("ix_cases_h3_r11"), "cases", ["h3_r11"], unique=False)
    op.create_index(op.f("ix_cases_h3_r12"), "cases", ["h3_r12"], unique=False)
    op.create_index(op.f("ix_cases_h3_r7"), "cases", ["h3_r7"], unique=False)
    op.create_index(op.f("ix_cases_h3_r8"), "cases", ["h3_r8"], unique=False)
    op.create_index(op.f("ix_cases_h3_r9"), "cases", ["h3_r9"], unique=False)
    op.create_index(
        "ix_cases_open_due",
        "cases",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status NOT IN ('closed', 'rejected', 'merged')"),
    )
    op.create_index(
        "ix_cases_open_grid",
        "cases",
        ["grid_id"],
        unique=False,
        postgresql_where=sa.text("status NOT IN ('closed', 'rejected', 'merged')"),
    )
    op.create_index(op.f("ix_cases_reported_at"), "cases", ["reported_at"], unique=False)
    op.create_index(op.f("ix_cases_status"), "cases", ["status"], unique=False)
    op.create_index(op.f("ix_cases_street_id"), "cases", ["street_id"], unique=False)
    op.create_table(
        "data_loads",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"], unique=False)

    # The audit log is append-only, enforced by the database itself: whatever the
    # application does, history cannot be rewritten.
    op.execute(
        """
        CREATE FUNCTION case_events_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'case_events is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER case_events_no_update_delete
            BEFORE UPDATE OR DELETE ON case_events
            FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
        CREATE TRIGGER case_events_no_truncate
            BEFORE TRUNCATE ON case_events
            FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();
        """
    )
    # The actor of automatic work (ETL, demo load, SLA escalation); it cannot sign in.
    op.execute(
        "INSERT INTO users (username, display_name, role) VALUES ('system', 'System', 'admin')"
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f("ix_case_events_case_id"), table_name="case_events")
    op.execute("DROP TRIGGER case_events_no_update_delete ON case_events")
    op.execute("DROP TRIGGER case_events_no_truncate ON case_events")
    op.execute("DROP FUNCTION case_events_append_only()")
    op.drop_table("case_events")
    op.drop_table("data_loads")
    op.drop_index(op.f("ix_cases_street_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_status"), table_name="cases")
    op.drop_index(op.f("ix_cases_reported_at"), table_name="cases")
    op.drop_index(
        "ix_cases_open_grid",
        table_name="cases",
        postgresql_where=sa.text("status NOT IN ('closed', 'rejected', 'merged')"),
    )
    op.drop_index(
        "ix_cases_open_due",
        table_name="cases",
        postgresql_where=sa.text("status NOT IN ('closed', 'rejected', 'merged')"),
    )
    op.drop_index(op.f("ix_cases_h3_r9"), table_name="cases")
    op.drop_index(op.f("ix_cases_h3_r8"), table_name="cases")
    op.drop_index(op.f("ix_cases_h3_r7"), table_name="cases")
    op.drop_index(op.f("ix_cases_h3_r12"), table_name="cases")
    op.drop_index(op.f("ix_cases_h3_r11"), table_name="cases")
    op.drop_index(op.f("ix_cases_h3_r10"), table_name="cases")
    op.drop_index(op.f("ix_cases_grid_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_duplicate_of_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_district_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_courtyard_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_community_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_category_code"), table_name="cases")
    op.drop_index(op.f("ix_cases_assignee_id"), table_name="cases")
    op.drop_table("cases")
    op.drop_index(op.f("ix_workers_street_id"), table_name="workers")
    op.drop_index(op.f("ix_workers_home_grid_id"), table_name="workers")
    op.drop_index(op.f("ix_workers_grid_id"), table_name="workers")
    op.drop_index(op.f("ix_workers_district_id"), table_name="workers")
    op.drop_index(op.f("ix_workers_courtyard_id"), table_name="workers")
    op.drop_index(op.f("ix_workers_community_id"), table_name="workers")
    op.drop_table("workers")
    op.drop_table("users")
    op.drop_index(op.f("ix_cameras_street_id"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_h3_r9"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_h3_r8"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_h3_r7"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_h3_r12"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_h3_r11"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_h3_r10"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_grid_id"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_district_id"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_courtyard_id"), table_name="cameras")
    op.drop_index(op.f("ix_cameras_community_id"), table_name="cameras")
    op.drop_table("cameras")
    op.drop_index(op.f("ix_buildings_street_id"), table_name="buildings")
    op.drop_index(op.f("ix_buildings_grid_id"), table_name="buildings")
    op.drop_index(op.f("ix_buildings_district_id"), table_name="buildings")
    op.drop_index(op.f("ix_buildings_courtyard_id"), table_name="buildings")
    op.drop_index(op.f("ix_buildings_community_id"), table_name="buildings")
    op.drop_table("buildings")
    op.drop_table("categories")
    op.drop_index(op.f("ix_areas_street_id"), table_name="areas")
    op.drop_index(op.f("ix_areas_parent_id"), table_name="areas")
    op.drop_index(op.f("ix_areas_level"), table_name="areas")
    op.drop_index(op.f("ix_areas_district_id"), table_name="areas")
    op.drop_index(op.f("ix_areas_community_id"), table_name="areas")
    op.drop_table("areas")
    # ### end Alembic commands ###
