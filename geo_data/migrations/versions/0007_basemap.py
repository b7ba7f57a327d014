"""the basemap: roads, water and landuse, drawn as vector tiles under the map

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen here: a later change of the kinds needs its own migration.
KINDS = {
    "roads": ("motorway", "trunk", "primary", "secondary", "tertiary", "residential", "service"),
    "water": ("river", "canal", "lake", "pond"),
    "landuse": ("park", "green", "forest", "farmland"),
}
GEOMETRY = {"roads": "MULTILINESTRING", "water": "MULTIPOLYGON", "landuse": "MULTIPOLYGON"}
CHECK_NAME = {
    "roads": "road_kind_known",
    "water": "water_kind_known",
    "landuse": "landuse_kind_known",
}


def upgrade() -> None:
    # The demo generator's street pattern and real OSM-style extracts land here; the tile
    # layers of the same names read them (GeoAlchemy2 adds each geom's GIST index).
    for table, kinds in KINDS.items():
        op.create_table(
            table,
            sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
            sa.Column("kind", sa.Text(), nullable=False),
            sa.Column("name_zh", sa.Text(), nullable=True),
            sa.Column("name_en", sa.Text(), nullable=True),
            sa.Column(
                "geom",
                geoalchemy2.types.Geometry(
                    geometry_type=GEOMETRY[table],
                    srid=4326,
                    dimension=2,
                    from_text="ST_GeomFromEWKT",
                    name="geometry",
                    nullable=False,
                ),
                nullable=False,
            ),
            sa.CheckConstraint(
                "kind IN ({})".format(", ".join(repr(k) for k in kinds)), name=CHECK_NAME[table]
            ),
            sa.PrimaryKeyConstraint("id"),
        )


def downgrade() -> None:
    for table in reversed(KINDS):
        op.drop_table(table)
