"""Read area, building, camera, worker, case and basemap files into checked GeoDataFrames.

Accepts GeoJSON, GeoPackage, Shapefile (via pyogrio) and CSV with lon/lat columns.
Everything is reprojected to WGS-84 (EPSG:4326); GCJ-02 input is converted when the
user says so. Each problem is reported with the file, the row and what is wrong, and
nothing is returned unless the whole file is good.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from etl.gcj02 import gcj02_to_wgs84
from geo_data.loaders import LoadError
from geo_data.models import (
    CAMERA_STATUSES,
    CAMERA_TIERS,
    CASE_STATUSES,
    CHANNELS,
    LANDUSE_KINDS,
    LEVELS,
    ROAD_KINDS,
    WATER_KINDS,
    WORKER_STATUSES,
)

Kind = Literal["areas", "buildings", "cameras", "workers", "cases", "roads", "water", "landuse"]
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb"}
LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")  # timestamps outside are refused: PostgreSQL
LATEST = pd.Timestamp("2100-01-01", tz="UTC")  # holds them, but deadlines past 9999 cannot be read
INT4 = (-(2**31), 2**31 - 1)  # the stored integer columns' range, unless a field says less
TRUE_WORDS = {"true", "t", "1", "yes", "y", "是"}
FALSE_WORDS = {"false", "f", "0", "no", "n", "否"}


@dataclass(frozen=True)
class Field:
    name: str
    type: Literal["str", "int", "datetime", "bool"] = "str"
    required: bool = False
    choices: tuple[str, ...] | None = None
    default: object = None
    low: int | None = None
    high: int | None = None
    max_length: int | None = None  # of the column the text is stored in


@dataclass(frozen=True)
class Spec:
    geometry: Literal["polygon", "point", "line"]
    fields: tuple[Field, ...]


def _basemap_spec(geometry: Literal["polygon", "line"], kinds: tuple[str, ...]) -> Spec:
    return Spec(
        geometry,
        (Field("kind", required=True, choices=kinds), Field("name_zh"), Field("name_en")),
    )


SPECS: dict[str, Spec] = {
    "areas": Spec(
        "polygon",
        (
            Field("code", required=True, max_length=32),
            Field("level", required=True, choices=LEVELS),
            Field("parent_code"),
            Field("name_zh", required=True, max_length=128),
            Field("name_en", max_length=128),
            Field("population", "int", low=0),
            Field("households", "int", low=0),
        ),
    ),
    "buildings": Spec(
        "polygon",
        (
            Field("code", required=True, max_length=48),
            Field("name_zh", max_length=128),
            Field("name_en", max_length=128),
            Field("floors", "int", low=0, high=200),
            Field("use", max_length=24),
        ),
    ),
    "cameras": Spec(
        "point",
        (
            Field("code", required=True, max_length=48),
            Field("name_zh", max_length=128),
            Field("tier", required=True, choices=CAMERA_TIERS),
            Field("status", choices=CAMERA_STATUSES, default="online"),
            Field("stream_url"),
        ),
    ),
    "workers": Spec(
        "point",
        (
            Field("code", required=True, max_length=48),
            Field("name_zh", required=True, max_length=64),
            Field("tier", "int", required=True, low=1, high=3),
            Field("home_grid_code", required=True),
            Field("status", choices=WORKER_STATUSES, default="available"),
            Field("phone", max_length=32),
            Field("last_seen_at", "datetime"),
        ),
    ),
    "cases": Spec(
        "point",
        (
            Field("external_id", required=True, max_length=64),
            Field("channel", required=True, choices=CHANNELS),
            Field("category_code", required=True),
            Field("severity", "int", required=True, low=1, high=4),
            Field("status", choices=CASE_STATUSES, default="closed"),
            Field("reported_at", "datetime", required=True),
            Field("accepted_at", "datetime"),
            Field("dispatched_at", "datetime"),
            Field("handled_at", "datetime"),
            Field("closed_at", "datetime"),
            Field("satisfied", "bool"),
            Field("description", default="", max_length=4000),
            Field("reporter_name", max_length=64),
            Field("reporter_phone", max_length=32),
            Field("duplicate_of_channel", choices=CHANNELS),
            Field("duplicate_of_external_id"),
            Field("assignee_code"),
        ),
    ),
    "roads": _basemap_spec("line", ROAD_KINDS),
    "water": _basemap_spec("polygon", WATER_KINDS),
    "landuse": _basemap_spec("polygon", LANDUSE_KINDS),
}

# Basemap files are often OpenStreetMap extracts: their column names stand in for ours
# (the first non-empty of them, row by row), and their common values for our kinds.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "roads": {"kind": ("highway",)},
    "water": {"kind": ("water", "waterway")},
    "landuse": {"kind": ("landuse", "leisure")},
}
NAME_ALIASES = {"name_zh": ("name:zh", "name"), "name_en": ("name:en",)}
KIND_SYNONYMS: dict[str, dict[str, str]] = {
    "roads": {
        "motorway_link": "motorway",
        "trunk_link": "trunk",
        "primary_link": "primary",
        "secondary_link": "secondary",
        "tertiary_link": "tertiary",
        "unclassified": "tertiary",
        "living_street": "residential",
    },
    "water": {"reservoir": "lake", "basin": "pond"},
    "landuse": {
        "grass": "green",
        "meadow": "green",
        "recreation_ground": "green",
        "village_green": "green",
        "garden": "park",
        "wood": "forest",
    },
}


@dataclass
class ReadResult:
    frame: gpd.GeoDataFrame
    notes: list[str]


def read_layer(
    path: str | Path,
    kind: Kind,
    *,
    crs: str | None = None,
    level: str | None = None,
    timezone: str = "Asia/Shanghai",
) -> ReadResult:
    """Read and check ``path`` as ``kind``.

    ``crs`` overrides the file's coordinate system: an EPSG code, any pyproj string, or
    ``"gcj02"`` for GCJ-02 longitude/latitude. ``level`` fills the level column of an
    areas file holding one level. Naive timestamps are taken in ``timezone``.
    """
    path = Path(path)
    source = str(path)
    spec = SPECS[kind]
    if not path.exists():
        raise LoadError(source, "file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise LoadError(source, "the file is empty")
    gcj = crs is not None and crs.lower() in {"gcj02", "gcj-02"}
    target_crs = None if crs is None or gcj else _parse_crs(source, crs)
    _check_timezone(source, timezone)

    if path.suffix.lower() in {".csv", ".txt"}:
        frame, row_word = _read_csv(path, source, target_crs), "row"
    elif path.suffix.lower() in VECTOR_SUFFIXES:
        frame, row_word = _read_vector(path, source), "feature"
    else:
        raise LoadError(
            source,
            f"unsupported file type {path.suffix!r}: use GeoJSON, GeoPackage, "
            "Shapefile or CSV with lon/lat columns",
        )
    if len(frame) == 0:
        raise LoadError(source, "the file has no rows")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = frame.set_geometry("geometry")
    if kind == "areas" and level is not None:
        frame["level"] = level
    if kind in ALIASES:
        frame = _osm_columns(frame, kind)

    missing = [f.name for f in spec.fields if f.required and f.name not in frame.columns]
    if missing:
        found = ", ".join(c for c in frame.columns if c not in {"geometry", "row"})
        named = [
            " or ".join([m, *ALIASES.get(kind, {}).get(m, ())]) for m in missing
        ]  # fmt: skip
        raise LoadError(source, f"missing column(s): {', '.join(named)} (found: {found})")

    frame = _place(frame, source, row_word, target_crs, gcj)
    notes: list[str] = []
    frame, repaired = _check_geometry(frame, source, row_word, spec.geometry)
    if repaired:
        notes.append(f"{repaired} invalid geometries repaired with make_valid")
    frame = _check_fields(frame, source, row_word, spec, timezone)
    return ReadResult(frame, notes)


def _osm_columns(frame: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """Our basemap columns from OSM-style ones where ours are absent (``highway`` is the
    road's kind, ``name`` its Chinese name, ``name:en`` its English one; ours first, row
    by row), and OSM's
    common values as our kinds (``primary_link`` a primary road, ``wood`` forest)."""
    frame = frame.copy()
    for column, aliases in (ALIASES[kind] | NAME_ALIASES).items():
        present = [a for a in (column, *aliases) if a in frame.columns]
        if present in ([], [column]):
            continue
        values = pd.Series(None, index=frame.index, dtype=object)
        for alias in present:
            text = frame[alias].astype("string").str.strip()
            values = values.where(values.notna(), text.where(text != "").astype(object))
        frame[column] = values.where(values.notna(), None)
    if "kind" in frame.columns:
        text = frame["kind"].astype("string").str.strip().str.lower()
        frame["kind"] = text.replace(KIND_SYNONYMS[kind]).astype(object).where(text.notna(), None)
    return frame


# -- reading ---------------------------------------------------------------------------


def _parse_crs(source: str, crs: str) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise LoadError(source, f"unknown coordinate system {crs!r}: {exc}") from exc


def _check_timezone(source: str, timezone: str) -> None:
    try:
        pd.Timestamp("2026-01-01").tz_localize(timezone)
    except (KeyError, ValueError, IndexError, TypeError, OSError) as exc:  # zoneinfo's, pytz's
        raise LoadError(source, f"unknown time zone {timezone!r}: use e.g. Asia/Shanghai") from exc


def _read_vector(path: Path, source: str) -> gpd.GeoDataFrame:
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise LoadError(source, f"cannot be read as a vector file: {exc}") from exc
    frame["row"] = np.arange(1, len(frame) + 1)
    return frame


def _read_csv(path: Path, source: str, crs: CRS | None) -> gpd.GeoDataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise LoadError(source, "the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LoadError(source, f"cannot be read as UTF-8 CSV: {exc}") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    rows = np.arange(2, len(table) + 2)  # line numbers: the header is line 1
    if "wkt" in table.columns:
        geoms = []
        problems = []
        for row, wkt in zip(rows, table["wkt"], strict=True):
            try:
                geoms.append(shapely.from_wkt(wkt) if wkt.strip() else None)
            except shapely.errors.GEOSException as exc:
                problems.append(f"row {row}: wkt cannot be parsed ({exc})")
                geoms.append(None)
        if problems:
            raise LoadError(source, "bad WKT geometry", problems)
        geometry = gpd.GeoSeries(geoms)
    else:
        lon_col = next((c for c in LON_NAMES if c in table.columns), None)
        lat_col = next((c for c in LAT_NAMES if c in table.columns), None)
        if lon_col is None or lat_col is None:
            raise LoadError(
                source,
                "missing coordinate columns: need lon and lat (or lng/longitude/x and "
                "latitude/y), or a wkt column",
            )
        problems = []
        coords = {}
        for col in (lon_col, lat_col):
            values = pd.to_numeric(table[col].str.strip(), errors="coerce")
            for row, raw in zip(rows[values.isna()], table[col][values.isna()], strict=True):
                problems.append(f"row {row}: {col} {raw!r} is not a number")
            coords[col] = values.to_numpy()
        if problems:
            raise LoadError(source, "non-numeric coordinates", sorted(problems, key=_row_key))
        geometry = gpd.GeoSeries(gpd.points_from_xy(coords[lon_col], coords[lat_col]))
        table = table.drop(columns=[lon_col, lat_col])
    frame = gpd.GeoDataFrame(table, geometry=geometry.values, crs=crs)
    frame["row"] = rows
    return frame


def _row_key(problem: str) -> int:
    return int(problem.split(":")[0].split()[-1])


# -- coordinates -----------------------------------------------------------------------


def _place(
    frame: gpd.GeoDataFrame, source: str, row_word: str, crs: CRS | None, gcj: bool
) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326 (or convert GCJ-02), refusing impossible coordinates."""
    if crs is not None:
        frame = frame.set_crs(crs, allow_override=True)
    elif frame.crs is None:
        frame = frame.set_crs(4326)
    if gcj:
        frame = frame.set_crs(4326, allow_override=True)
    if frame.crs.is_geographic:
        _refuse_out_of_range(frame, source, row_word, declared=str(frame.crs.to_string()))
    frame = frame.to_crs(4326)
    _refuse_out_of_range(frame, source, row_word, declared="EPSG:4326 after reprojection")
    if gcj:
        frame["geometry"] = shapely.transform(
            frame.geometry.values, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1]))
        )
    return frame


def _refuse_out_of_range(
    frame: gpd.GeoDataFrame, source: str, row_word: str, declared: str
) -> None:
    bounds = frame.geometry.bounds
    bad = (
        ~np.isfinite(bounds.to_numpy()).all(axis=1) & frame.geometry.notna().to_numpy()
        | (bounds["minx"] < -180)
        | (bounds["maxx"] > 180)
        | (bounds["miny"] < -90)
        | (bounds["maxy"] > 90)
    )
    if bad.any():
        problems = [
            f"{row_word} {row}: coordinates ({b.minx:.6g}, {b.miny:.6g}) are not longitude/latitude"
            for row, b in zip(frame["row"][bad], bounds[bad].itertuples(), strict=True)
        ]
        raise LoadError(
            source,
            f"coordinates out of range for {declared}: the file is probably in a projected "
            "coordinate system; give it with --crs (for example --crs EPSG:32648)",
            problems,
        )


# -- geometry and fields ---------------------------------------------------------------


def _check_geometry(
    frame: gpd.GeoDataFrame, source: str, row_word: str, want: str
) -> tuple[gpd.GeoDataFrame, int]:
    geoms = frame.geometry.to_numpy()
    problems: list[str] = []
    rows = frame["row"].to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    problems += [f"{row_word} {r}: geometry is missing or empty" for r in rows[missing]]
    types = shapely.get_type_id(geoms)
    allowed = {"polygon": {3, 6}, "line": {1, 5}, "point": {0}}[want]
    wrong = ~missing & ~np.isin(types, list(allowed))
    names = {
        0: "Point",
        1: "LineString",
        2: "LinearRing",
        3: "Polygon",
        4: "MultiPoint",
        5: "MultiLineString",
        6: "MultiPolygon",
        7: "GeometryCollection",
    }
    expected = {
        "polygon": "Polygon or MultiPolygon",
        "line": "LineString or MultiLineString",
        "point": "Point",
    }[want]
    problems += [
        f"{row_word} {r}: geometry is a {names.get(t, t)}, expected {expected}"
        for r, t in zip(rows[wrong], types[wrong], strict=True)
    ]
    if problems:
        raise LoadError(source, "bad geometries", sorted(problems, key=_row_key))
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        repaired = shapely.make_valid(geoms[invalid])
        if want == "polygon":
            repaired = np.array([_polygonal(g) for g in repaired], dtype=object)
            unusable = shapely.is_empty(repaired) | (shapely.area(repaired) <= 0)
        elif want == "line":
            repaired = np.array([_linear(g) for g in repaired], dtype=object)
            unusable = shapely.is_empty(repaired) | (shapely.length(repaired) <= 0)
        else:
            unusable = np.ones(len(repaired), dtype=bool)
        if unusable.any():
            raise LoadError(
                source,
                "invalid geometries that cannot be repaired",
                [
                    f"{row_word} {r}: {reason}"
                    for r, reason in zip(rows[invalid][unusable], reasons[unusable], strict=True)
                ],
            )
        geoms = geoms.copy()
        geoms[invalid] = repaired
        frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
    if want in ("polygon", "line"):
        frame = frame.set_geometry(
            gpd.GeoSeries(
                shapely.force_2d(
                    np.array([_as_multi(g) for g in frame.geometry.to_numpy()], dtype=object)
                ),
                index=frame.index,
                crs=frame.crs,
            )
        )
    return frame, int(invalid.sum())


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a repaired geometry (make_valid may add lines or points)."""
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    parts = [
        p
        for p in getattr(geom, "geoms", [])
        if isinstance(p, shapely.Polygon | shapely.MultiPolygon)
    ]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _linear(geom: shapely.Geometry) -> shapely.Geometry:
    """The linear part of a repaired line (make_valid turns a degenerate one into a point)."""
    if isinstance(geom, shapely.LineString | shapely.MultiLineString):
        return geom
    parts = [
        p
        for p in getattr(geom, "geoms", [])
        if isinstance(p, shapely.LineString | shapely.MultiLineString)
    ]
    return shapely.line_merge(shapely.union_all(parts)) if parts else shapely.LineString()


def _as_multi(geom: shapely.Geometry) -> shapely.Geometry:
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if isinstance(geom, shapely.LineString):
        return shapely.MultiLineString([geom])
    return geom


def _check_fields(
    frame: gpd.GeoDataFrame, source: str, row_word: str, spec: Spec, timezone: str
) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame({"row": frame["row"].to_numpy()}, geometry=frame.geometry.values)
    out = out.set_crs(4326, allow_override=True)
    problems: list[str] = []
    rows = frame["row"].to_numpy()
    for field in spec.fields:
        if field.name not in frame.columns:
            out[field.name] = field.default
            continue
        raw = frame[field.name]
        text = raw.astype("string").str.strip()
        blank = raw.isna().to_numpy() | (text == "").fillna(True).to_numpy()
        if field.required:
            problems += [f"{row_word} {r}: {field.name} is empty" for r in rows[blank]]
        if field.type == "str":
            nul = ~blank & text.str.contains("\x00", regex=False).fillna(False).to_numpy()
            problems += [  # PostgreSQL text cannot hold it (the load failed in COPY)
                f"{row_word} {r}: {field.name} contains the NUL character (U+0000)"
                for r in rows[nul]
            ]
            if field.max_length is not None:  # longer failed the INSERT, not with a LoadError
                long = ~blank & (text.str.len() > field.max_length).fillna(False).to_numpy()
                problems += [
                    f"{row_word} {r}: {field.name} is longer than {field.max_length} characters"
                    for r in rows[long]
                ]
            values = text.where(~blank, None).astype(object)
            if field.default is not None:
                values = values.where(~blank, field.default)
            if field.choices:
                bad = ~blank & ~values.isin(field.choices).to_numpy()
                allowed = ", ".join(field.choices)
                problems += [
                    f"{row_word} {r}: {field.name} {v!r} is not one of {allowed}"
                    for r, v in zip(rows[bad], values[bad], strict=True)
                ]
            out[field.name] = values.to_numpy()
        elif field.type == "int":
            # As float64 with NaN: nullable NA in the masks made them unusable as indices
            # (an empty optional cell raised IndexError).
            numbers = pd.Series(
                pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan),
                index=text.index,
            )
            not_int = ~blank & (numbers.isna() | (numbers % 1 != 0)).to_numpy()
            problems += [
                f"{row_word} {r}: {field.name} {v!r} is not a whole number"
                for r, v in zip(rows[not_int], raw[not_int], strict=True)
            ]
            ok = ~blank & ~not_int
            low = field.low if field.low is not None else INT4[0]
            high = field.high if field.high is not None else INT4[1]
            outside = ok & ((numbers < low) | (numbers > high)).to_numpy()
            problems += [
                f"{row_word} {r}: {field.name} {v:.0f} is outside {low}-{high}"
                for r, v in zip(rows[outside], numbers[outside], strict=True)
            ]
            ok &= ~outside
            out[field.name] = pd.array(numbers.where(ok).to_numpy(), dtype="Int64")
        elif field.type == "datetime":
            stamps = _parse_times(text.where(~blank), timezone)
            bad = ~blank & stamps.isna().to_numpy()
            problems += [
                f"{row_word} {r}: {field.name} {v!r} is not a date and time from 1970 to 2099"
                for r, v in zip(rows[bad], raw[bad], strict=True)
            ]
            out[field.name] = stamps.to_numpy()
        elif field.type == "bool":
            lowered = text.str.lower()
            truth = lowered.isin(TRUE_WORDS).to_numpy()
            falsity = lowered.isin(FALSE_WORDS).to_numpy()
            bad = ~blank & ~truth & ~falsity
            problems += [
                f"{row_word} {r}: {field.name} {v!r} is not true or false"
                for r, v in zip(rows[bad], raw[bad], strict=True)
            ]
            out[field.name] = pd.array(np.where(blank, None, truth), dtype="boolean")
    if problems:
        raise LoadError(source, "bad values", sorted(problems, key=_row_key))
    return out


def _parse_times(values: pd.Series, timezone: str) -> pd.Series:
    """Timestamps as UTC; those without an offset are taken in ``timezone``; those before
    1970 or after 2099 are NaT (refused). Parsed at microseconds: years beyond pandas'
    nanosecond range (1677-2262) raised OutOfBoundsDatetime instead of being refused."""
    if pd.api.types.is_datetime64_any_dtype(values):  # vector files may carry real datetimes
        stamps = values.dt.as_unit("us")
        stamps = stamps if stamps.dt.tz is not None else stamps.dt.tz_localize(timezone)
        return _bounded(stamps.dt.tz_convert("UTC"))
    values = values.astype("string")
    aware = values.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    if aware.any():
        parsed = pd.to_datetime(values[aware], errors="coerce", utc=True, format="mixed")
        out[aware] = parsed.dt.as_unit("us")
    naive = ~aware & values.notna()
    if naive.any():
        local = pd.to_datetime(values[naive], errors="coerce", format="mixed").dt.as_unit("us")
        out[naive] = local.dt.tz_localize(
            timezone, ambiguous="NaT", nonexistent="NaT"
        ).dt.tz_convert("UTC")
    return _bounded(out)


def _bounded(stamps: pd.Series) -> pd.Series:
    """``stamps`` (UTC) from 1970 to 2099, others NaT, at nanoseconds as before."""
    inside = (stamps >= EARLIEST) & (stamps < LATEST)
    return stamps.where(inside).dt.as_unit("ns")
