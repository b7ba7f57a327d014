"""partial spatial index over open original cases (duplicate check)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 12:12:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Ingest slowed from ~4,700 to ~1,800 reports/s as open cases piled up: the
    # duplicate check scanned every open case per report. This index holds only the
    # candidates (open originals), so the check is one small index lookup.
    op.create_index(
        "ix_cases_open_originals_geom",
        "cases",
        ["geom"],
        postgresql_using="gist",
        postgresql_where=sa.text(
            "status NOT IN ('closed', 'rejected', 'merged') AND duplicate_of_id IS NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_open_originals_geom", table_name="cases")
