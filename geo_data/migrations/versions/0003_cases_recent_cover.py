"""covering index for windowed case figures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The side panel's 30-day figures scanned the whole window from the heap (~85k rows
    # for a district at a million cases a year); with this index they read it index-only.
    op.create_index(
        "ix_cases_recent_cover",
        "cases",
        ["reported_at"],
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
    )


def downgrade() -> None:
    op.drop_index("ix_cases_recent_cover", table_name="cases")
