"""GCJ-02 conversion against pairs published by the widely used open-source converters.

Distances are great-circle metres from a haversine written here, independent of the module.
"""

from __future__ import annotations

import numpy as np
import pytest

from etl.gcj02 import gcj02_to_wgs84, in_china, wgs84_to_gcj02

EARTH_RADIUS_M = 6_371_008.8

# (label, wgs_lon, wgs_lat, gcj_lon, gcj_lat): published WGS-84 -> GCJ-02 pairs computed
# with the formula itself, so a correct implementation matches them to well under 0.5 m.
REFERENCE_PAIRS = [
    # googollee/eviltransform, go/transform_test.go and python/test.py (`tests`, lat/lng
    # order there): the three cities every port of eviltransform tests against.
    ("shanghai", 121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    ("shenzhen", 113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    ("beijing", 116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    # wandergis/coordtransform, README.md usage example:
    # wgs84togcj02(116.404, 39.915) -> [116.41024449916938, 39.91640428150164].
    ("beijing_tiananmen", 116.404, 39.915, 116.41024449916938, 39.91640428150164),
    # hujiulong/gcoord, test/unit/crs/WGS84.spec.ts ("WGS84 to GCJ02"):
    # WGS84.to.GCJ02([123, 45]) -> [123.00607541, 45.00197815] (checked to 5 decimals).
    ("gcoord_123_45", 123.0, 45.0, 123.00607541, 45.00197815),
]

# hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts: GCJ02.to.WGS84([123, 45]) is
# [122.99395597, 44.99804071] (gcoord's inverse iterates to 1e-6 degrees).
GCOORD_INVERSE = ((123.0, 45.0), (122.99395597, 44.99804071))

# hujiulong/gcoord, test/fixtures/china-cities.json: WGS84 and GCJ02 of city centres, to 7
# decimals, spanning the country (the pairs above are all in the east). These were not
# produced by the formula alone: every entry sits about 0.66 m from it in the same
# direction, and gcoord's transform.spec.ts only checks them to 4 decimals (about 5 m).
# So they are held to 1 m, as a regional cross-check of sign and size, not of precision.
CITY_FIXTURE_PAIRS = [
    ("zhumadian", 114.0164322, 33.0133556, 114.022306, 33.0115324),
    ("nagqu", 92.0499619, 31.4784436, 92.0512438, 31.4762063),
    ("jiuquan", 98.4937175, 39.7319946, 98.4943595, 39.7328234),
    ("xichang", 102.2658401, 27.8850446, 102.2673386, 27.8816151),
    ("shenyang", 123.4253306, 41.8032629, 123.4314787, 41.8057023),
    ("xilinhot", 116.0414035, 43.9312805, 116.0482308, 43.9334573),
    ("qinzhou", 108.6503952, 21.9828281, 108.6541485, 21.9799392),
    ("quanzhou", 118.6711365, 24.8770487, 118.6756787, 24.8741363),
]

OUTSIDE_CHINA = [
    (183.0, 45.0),  # gcoord's own "not in China" case (GCJ02.spec.ts)
    (-0.1278, 51.5074),  # London
    (139.6917, 35.6895),  # Tokyo: east of the box
    (151.2093, -33.8688),  # Sydney
    (100.0, 60.0),  # Siberia: north of the box
]


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (sphere of mean Earth radius)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2)
    )
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def random_points_in_china(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points over mainland China's extent, kept off the edges of the GCJ box."""
    rng = np.random.default_rng(seed)
    return rng.uniform(73.5, 134.8, n), rng.uniform(18.0, 53.5, n)


@pytest.mark.parametrize(("label", "w_lon", "w_lat", "g_lon", "g_lat"), REFERENCE_PAIRS)
def test_forward_matches_published_pair(label, w_lon, w_lat, g_lon, g_lat):
    lon, lat = wgs84_to_gcj02(w_lon, w_lat)
    assert haversine_m(lon, lat, g_lon, g_lat) < 0.5, label


@pytest.mark.parametrize(("label", "w_lon", "w_lat", "g_lon", "g_lat"), REFERENCE_PAIRS)
def test_inverse_recovers_published_wgs84_point(label, w_lon, w_lat, g_lon, g_lat):
    lon, lat = gcj02_to_wgs84(g_lon, g_lat)
    assert haversine_m(lon, lat, w_lon, w_lat) < 1.0, label


def test_inverse_matches_gcoord_published_inverse():
    (g_lon, g_lat), (w_lon, w_lat) = GCOORD_INVERSE
    lon, lat = gcj02_to_wgs84(g_lon, g_lat)
    assert haversine_m(lon, lat, w_lon, w_lat) < 1.0


@pytest.mark.parametrize(("label", "w_lon", "w_lat", "g_lon", "g_lat"), CITY_FIXTURE_PAIRS)
def test_city_fixture_agrees_within_a_metre_both_ways(label, w_lon, w_lat, g_lon, g_lat):
    lon, lat = wgs84_to_gcj02(w_lon, w_lat)
    assert haversine_m(lon, lat, g_lon, g_lat) < 1.0, label
    lon, lat = gcj02_to_wgs84(g_lon, g_lat)
    assert haversine_m(lon, lat, w_lon, w_lat) < 1.0, label


def test_offset_is_hundreds_of_metres_so_identity_would_fail():
    w_lon, w_lat = np.array([p[1:3] for p in REFERENCE_PAIRS + CITY_FIXTURE_PAIRS]).T
    g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
    assert (haversine_m(w_lon, w_lat, g_lon, g_lat) > 100).all()


def test_round_trip_over_random_points_is_within_a_centimetre():
    lon, lat = random_points_in_china(20_000, seed=30428)
    back_lon, back_lat = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 0.01
    w_lon, w_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert haversine_m(lon, lat, w_lon, w_lat).max() < 0.01


def test_one_step_inverse_would_fail_the_round_trip_test():
    # The naive inverse g - (forward(g) - g), which is what we must not ship, misses by
    # metres; this keeps the centimetre test above meaningful.
    lon, lat = random_points_in_china(20_000, seed=30428)
    f_lon, f_lat = wgs84_to_gcj02(lon, lat)
    naive_lon, naive_lat = 2 * lon - f_lon, 2 * lat - f_lat
    back_lon, back_lat = wgs84_to_gcj02(naive_lon, naive_lat)
    assert haversine_m(lon, lat, back_lon, back_lat).max() > 1.0


def test_tolerance_is_honoured():
    lon, lat = random_points_in_china(2_000, seed=7)
    w_lon, w_lat = gcj02_to_wgs84(lon, lat, tol_m=1e-4)
    back_lon, back_lat = wgs84_to_gcj02(w_lon, w_lat)
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 1e-4


@pytest.mark.parametrize("convert", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_array_shape_is_preserved(convert):
    lon, lat = random_points_in_china(12, seed=1)
    out_lon, out_lat = convert(lon.reshape(3, 4), lat.reshape(3, 4))
    assert out_lon.shape == out_lat.shape == (3, 4)
    flat_lon, flat_lat = convert(lon, lat)
    np.testing.assert_array_equal(out_lon.ravel(), flat_lon)
    np.testing.assert_array_equal(out_lat.ravel(), flat_lat)


@pytest.mark.parametrize("convert", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_scalars_give_scalars_and_lists_give_arrays(convert):
    lon, lat = convert(116.4, 39.9)
    assert np.ndim(lon) == np.ndim(lat) == 0
    assert isinstance(float(lon), float)
    lons, lats = convert([116.4, 104.07], [39.9, 30.67])
    assert lons.shape == lats.shape == (2,)
    assert float(lons[0]) == float(lon)


@pytest.mark.parametrize("convert", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_scalar_latitude_broadcasts_against_longitudes(convert):
    out_lon, out_lat = convert(np.array([104.0, 104.1, 104.2]), 30.6)
    assert out_lon.shape == out_lat.shape == (3,)


@pytest.mark.parametrize("convert", [wgs84_to_gcj02, gcj02_to_wgs84])
@pytest.mark.parametrize(("lon", "lat"), OUTSIDE_CHINA)
def test_points_outside_china_are_unchanged(convert, lon, lat):
    assert not in_china(lon, lat)
    assert convert(lon, lat) == (lon, lat)


@pytest.mark.parametrize("convert", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_mixed_batch_shifts_only_points_inside_china(convert):
    lon = np.array([116.404, -0.1278, 104.066, 139.6917])
    lat = np.array([39.915, 51.5074, 30.657, 35.6895])
    out_lon, out_lat = convert(lon, lat)
    moved = haversine_m(lon, lat, out_lon, out_lat)
    assert (moved[[0, 2]] > 100).all()
    np.testing.assert_array_equal(moved[[1, 3]], 0.0)


def test_inputs_are_not_modified():
    lon = np.array([116.404, 104.066])
    lat = np.array([39.915, 30.657])
    gcj02_to_wgs84(lon, lat)
    wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(lon, [116.404, 104.066])
    np.testing.assert_array_equal(lat, [39.915, 30.657])


@pytest.mark.parametrize("convert", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_missing_coordinates_pass_through_as_nan(convert):
    out_lon, out_lat = convert(np.array([np.nan, 116.404]), np.array([39.9, np.nan]))
    assert np.isnan(out_lon[0])
    assert np.isnan(out_lat[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tol_m": 0.0}, "tol_m"),
        ({"tol_m": float("nan")}, "tol_m"),
        ({"max_iter": 0}, "max_iter"),
    ],
)
def test_inverse_rejects_bad_iteration_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gcj02_to_wgs84(116.4, 39.9, **kwargs)
