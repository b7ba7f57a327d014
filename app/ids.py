"""Component ids, defined once for the layout, the callbacks and the tests."""

URL = "url"
PAGE = "page"
STATS_TABLE = "stats-table"

# The map page
MAP_PAGE = "map-page"
MAP_GRAPH = "map-graph"
MAP_LAYERS = "map-layers"
MAP_METRIC = "map-metric"
MAP_WINDOW = "map-window"
MAP_BREADCRUMB = "map-breadcrumb"
MAP_PANEL = "map-panel"
MAP_MESSAGE = "map-message"
MAP_LANG = "map-lang"
