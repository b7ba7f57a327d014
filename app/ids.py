"""Component ids, defined once."""

STATS_TABLE = "stats-table"
