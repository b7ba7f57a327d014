"""Component ids, defined once for the layout, the callbacks and the tests."""

URL = "url"
PAGE = "page"
STATS_TABLE = "stats-table"
