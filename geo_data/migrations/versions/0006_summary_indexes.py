"""indexes for the leader summary: cases by closing time, reopen events by time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Closed per day, the weekly worker leaderboard and "overdue 24 hours ago" select
    # cases by closed_at; without an index each read the whole table.
    op.create_index(
        "ix_cases_closed_cover",
        "cases",
        ["closed_at"],
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
    )
    op.create_index(
        "ix_case_events_reopen_at",
        "case_events",
        ["at"],
        postgresql_where=sa.text("action = 'reopen'"),
    )


def downgrade() -> None:
    op.drop_index("ix_case_events_reopen_at", table_name="case_events")
    op.drop_index("ix_cases_closed_cover", table_name="cases")
