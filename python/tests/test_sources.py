"""Live data sources: STAC search against a loopback STAC API built from the real Earth Search
item in fixtures/stac (nothing reaches the internet), and the best scene per parcel from the real
Sentinel-2 SCL band, checked against exactextract."""
import copy
import http.server
import json
import pathlib
import tempfile
import threading

import numpy as np
import pytest

import landopp
from landopp import sources

ROOT = pathlib.Path(__file__).resolve().parents[2]
ITEM = json.loads((ROOT / "fixtures" / "stac" / "S2A_29RKH_20200219_0_L2A.stac.json").read_text())


class _Stac(http.server.BaseHTTPRequestHandler):
    """POST /search pages through `items` (next links with a merged body); GET /files/NAME
    serves `files`; `fail` makes /search answer that status."""

    protocol_version = "HTTP/1.1"
    items: list = []
    files: dict = {}
    fail: int | None = None
    requests = 0

    def _send(self, status, body, ctype="application/geo+json"):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.split("?")[0].removeprefix("/files/")
        if name in _Stac.files:
            self._send(200, _Stac.files[name], "image/tiff")
        else:
            self._send(404, b"{}")

    def do_POST(self):  # noqa: N802
        _Stac.requests += 1
        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if _Stac.fail:
            self._send(_Stac.fail, b"internal secret")
            return
        start, limit = req.get("token", 0), req["limit"]
        page = _Stac.items[start:start + limit]
        links = []
        if start + limit < len(_Stac.items):
            links.append({"rel": "next", "href": f"http://127.0.0.1:{self.server.server_address[1]}/search",
                          "method": "POST", "body": {"token": start + limit}, "merge": True})
        body = {"type": "FeatureCollection", "features": page, "links": links, "numberMatched": len(_Stac.items)}
        self._send(200, json.dumps(body).encode())

    def log_message(self, *args):
        pass


def _items(n, base):
    out = []
    for i in range(n):
        it = copy.deepcopy(ITEM)
        it["id"] = f"S2A_29RKH_2020_{i:03d}_L2A"
        it["properties"]["datetime"] = f"2020-02-{1 + i % 28:02d}T11:34:25Z"
        it["properties"]["eo:cloud_cover"] = float(i * 7 % 50)
        it["links"] = [{"rel": "self", "href": f"{base}/collections/s2/items/{it['id']}"}]
        it["assets"]["scl"]["href"] = f"/files/scl_{i % 2}.tif"
        out.append(it)
    return out


@pytest.fixture()
def stac():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stac)
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    _Stac.items, _Stac.files, _Stac.fail, _Stac.requests = _items(25, base), {}, None, 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield base
    srv.shutdown()


def test_a_search_pages_through_next_links_into_imagery_records(stac):
    found = sources.stac_search(stac, collections=["sentinel-2-l2a"], bbox=(-11.9, 24.3, -10.9, 25.3),
                                datetime="2020-02-01/2020-02-29", limit=10)
    assert [r["scene_id"] for r in found] == [f"S2A_29RKH_2020_{i:03d}_L2A" for i in range(25)]
    assert _Stac.requests == 3
    r = found[3]
    assert (r["platform"], r["cloud_cover"], r["resolution_m"], r["collection"]) == ("sentinel-2a", 21.0, 10.0,
                                                                                    "sentinel-2-l2a")
    assert r["assets"]["scl"]["href"] == f"{stac}/files/scl_1.tif"
    assert r["item_url"] == f"{stac}/collections/s2/items/S2A_29RKH_2020_003_L2A"
    # the cloud-cover limit holds on every record, whatever the server did with it
    low = sources.stac_search(stac, max_cloud_cover=20, limit=10)
    assert low and all(r["cloud_cover"] <= 20 for r in low)
    assert len(low) == sum(1 for i in range(25) if i * 7 % 50 <= 20)
    pd = pytest.importorskip("pandas")
    frame = sources.imagery_frame(found)
    assert len(frame) == 25 and str(frame.crs) == "EPSG:4326"
    assert frame["datetime"].iloc[0] == pd.Timestamp("2020-02-01T11:34:25Z")
    assert frame.geometry.iloc[0].bounds[0] == pytest.approx(-11.97923472537954)


def test_failures_raise_remote_error_with_the_status_never_the_body(stac):
    _Stac.fail = 502
    with pytest.raises(landopp.RemoteError) as e:
        sources.stac_search(f"{stac}/?sig=hush")
    assert e.value.code == "REMOTE"
    assert "(HTTP 502)" in str(e.value) and stac in str(e.value)
    assert "hush" not in str(e.value) and "secret" not in str(e.value)
    assert _Stac.requests == 4, "retried three times"
    with pytest.raises(landopp.InvalidInputError, match="max_cloud_cover"):
        sources.stac_search(stac, max_cloud_cover=150)
    with pytest.raises(landopp.InvalidInputError, match="datetime"):
        sources.stac_search(stac, datetime="yesterday")


def test_the_best_scene_per_parcel_matches_exactextract_on_the_real_scl(stac, tmp_path, shared):
    """Two scenes: the real SCL of tile 29RKH (a few clouds) and a copy clouded over its western
    third; every parcel's clear share equals exactextract's coverage-weighted mean of the clear
    cells, and the best scene is the one with the larger share."""
    gpd = pytest.importorskip("geopandas")
    rasterio = pytest.importorskip("rasterio")
    exactextract = pytest.importorskip("exactextract")
    import shapely

    scl_path = shared / "sentinel2_l2a_29RKH_2020-02-19" / "SCL.tif"
    with rasterio.open(scl_path) as src:
        scl, profile = src.read(1), src.profile
    cloudy = scl.copy()
    cloudy[:, : scl.shape[1] // 3] = 9
    paths = {"scl_0.tif": scl_path, "scl_1.tif": tmp_path / "scl_1.tif"}
    with rasterio.open(paths["scl_1.tif"], "w", **profile) as dst:
        dst.write(cloudy, 1)
    _Stac.files = {k: pathlib.Path(v).read_bytes() for k, v in paths.items()}
    found = sources.stac_search(stac, max_items=2)
    # parcels of 1–3 km across the tile (UTM 29N), off the cell grid
    rng = np.random.default_rng(7)
    x0, y0 = 199_980 + 5_000, 2_690_220 + 5_000
    boxes = []
    for _ in range(60):
        x, y = x0 + rng.uniform(0, 95_000), y0 + rng.uniform(0, 95_000)
        w, h = rng.uniform(1_000, 3_000, 2)
        boxes.append(shapely.box(x, y, x + w, y + h))
    parcels = gpd.GeoDataFrame({"id": range(60)}, geometry=boxes, crs="EPSG:32629")
    got = sources.best_scenes(parcels.to_crs(4326), found)
    masked = [0, 1, 3, 8, 9, 10, 11]
    want = []
    for name, arr in (("scl_0", scl), ("scl_1", cloudy)):
        clear = (~np.isin(arr, masked)).astype("float64")
        p = tmp_path / f"{name}_clear.tif"
        with rasterio.open(p, "w", **{**profile, "dtype": "float64", "nodata": None}) as dst:
            dst.write(clear, 1)
        # exactextract: the coverage-weighted mean of the clear cells (the parcels lie inside the tile)
        ee = exactextract.exact_extract(str(p), parcels, "mean", output="pandas")
        want.append(ee["mean"].to_numpy())
    for i in range(2):
        np.testing.assert_allclose(got[f"clear_{i}"].to_numpy(), want[i], rtol=0, atol=1e-9)
    west = parcels.geometry.bounds["maxx"] < 199_980 + 549 * 200 / 3
    assert (got["clear_1"][west] == 0).all() and (got["clear_0"][west] > 0).all()
    best = np.where(want[0] >= want[1], 0, 1)
    # equal shares go to the later capture: scene 1 (2020-02-02) over scene 0 (2020-02-01)
    best[want[0] == want[1]] = 1
    np.testing.assert_array_equal(got["scene"].to_numpy(), best)
    assert (got["scene_id"] == [found[b]["scene_id"] for b in best]).all()
    np.testing.assert_allclose(got["clear"], np.maximum(want[0], want[1]), atol=1e-9)


LULC = json.loads((ROOT / "fixtures" / "formats" / "slovenia_lulc.geojson").read_text())


class _Parcels(http.server.BaseHTTPRequestHandler):
    """An ArcGIS feature layer (…/FeatureServer/0) and an OGC API collection (…/items) serving
    the real Slovenian land-use parcels in pages, each with an `EDITED` date in epoch ms."""

    protocol_version = "HTTP/1.1"

    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/geo+json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        from urllib.parse import parse_qs, urlsplit

        u = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        feats = copy.deepcopy(LULC["features"])
        for i, f in enumerate(feats):
            f["properties"]["EDITED"] = None if i % 5 == 0 else 1_600_000_000_000 + i * 86_400_000
        if u.path.endswith("/FeatureServer/0"):
            self._send({"name": "lulc", "objectIdField": "OBJECTID", "maxRecordCount": 40, "fields": [
                {"name": "RABA_ID", "type": "esriFieldTypeInteger"}, {"name": "EDITED", "type": "esriFieldTypeDate"}]})
        elif u.path.endswith("/query"):
            off, n = int(q["resultOffset"]), int(q["resultRecordCount"])
            self._send({"type": "FeatureCollection", "crs": LULC["crs"], "features": feats[off:off + n],
                        "exceededTransferLimit": off + n < len(feats)})
        else:
            off, n = int(q.get("offset", 0)), int(q["limit"])
            links = [{"rel": "next", "href": f"items?limit={n}&offset={off + n}"}] if off + n < len(feats) else []
            self._send({"type": "FeatureCollection", "crs": LULC["crs"], "features": feats[off:off + n], "links": links})

    def log_message(self, *args):
        pass


def test_county_parcels_from_arcgis_and_ogc_api_equal_the_file():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("geopandas")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Parcels)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        local = landopp.read_layer(ROOT / "fixtures" / "formats" / "slovenia_lulc.geojson")
        arc = sources.arcgis_features(f"{base}/arcgis/rest/services/Lulc/FeatureServer/0")
        resume = pathlib.Path(tempfile.mkdtemp()) / "lulc.resume"
        ogc = sources.ogc_features(f"{base}/ogc", collection="lulc", limit=30, resume_file=resume)
        assert not resume.exists()  # kept only while a fetch is unfinished
        for got in (arc, ogc):
            assert len(got) == 88 and got.crs == local.crs
            assert got.geometry.geom_equals(local.geometry).all()
            pd.testing.assert_series_equal(got["RABA_ID"], local["RABA_ID"])
            pd.testing.assert_series_equal(got["DATE"], local["DATE"])
        # ArcGIS dates (epoch ms) are UTC timestamps; integers stay integers
        assert str(arc["EDITED"].dtype) == "datetime64[ms, UTC]"
        assert pd.isna(arc["EDITED"].iloc[0])
        assert arc["EDITED"].iloc[1] == pd.Timestamp(1_600_086_400_000, unit="ms", tz="UTC")
        with pytest.raises(landopp.RemoteError, match="max_features"):
            sources.ogc_features(f"{base}/ogc", collection="lulc", limit=30, max_features=50)
    finally:
        srv.shutdown()


def test_validate_reports_every_violation_of_a_table_schema_by_row():
    pytest.importorskip("geopandas")
    import shapely

    path = ROOT / "fixtures" / "slovenia" / "lulc_polygons.gpkg"
    schema = {"id_field": "index", "crs": "EPSG:32633", "geometry": {"types": ["Polygon", "MultiPolygon"]},
              "columns": [{"name": "AREA", "type": "number", "min": 0}, {"name": "RABA_ID", "type": "integer"}]}
    clean = landopp.validate(path, schema)
    assert clean.empty and clean.attrs["rows"] == 88
    frame = landopp.read_layer(path)
    assert landopp.validate(frame, schema).empty, "a GeoDataFrame checks as its file does"
    frame.loc[3, "index"] = frame.loc[1, "index"]
    frame.loc[5, "AREA"] = -1.0
    frame.loc[8, "geometry"] = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    frame.loc[9, "geometry"] = shapely.Point(0, 0)
    r = landopp.validate(frame, schema)
    columns = [None if not isinstance(c, str) else c for c in r["column"]]
    assert list(zip(r["row"], columns, r["rule"])) == [
        (3, "index", "duplicate"), (5, "AREA", "min"), (8, None, "geometry_invalid"), (9, None, "geometry_type")]
    wrong = landopp.validate(frame.to_crs(4326), {"crs": "EPSG:32633", "columns": [{"name": "OWNER"}]})
    table = wrong[wrong["row"] == -1]
    assert list(table["rule"]) == ["crs", "missing_column"] and list(wrong["rule"])[2:] == ["geometry_invalid"]
    with pytest.raises(landopp.InvalidInputError, match="min"):
        landopp.validate(path, {"columns": [{"name": "AREA", "min": 5, "max": 1}]})


class _Sda(http.server.BaseHTTPRequestHandler):
    """Soil Data Access on loopback: SQL in, ``JSON+COLUMNNAME`` tables out. ``units`` is a
    GeoDataFrame of map units (WGS 84, ``MUKEY``) selected with shapely by the request's WKT."""

    protocol_version = "HTTP/1.1"
    units = None
    fail: int | None = None
    queries: list = []

    def do_POST(self):  # noqa: N802
        import shapely
        import shapely.wkt

        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        sql = req["query"]
        _Sda.queries.append(sql)
        if _Sda.fail:
            body, status = b"secret", _Sda.fail
        else:
            status = 200
            if "FROM mupolygon" in sql:
                wkt = sql.split("STGeomFromText('")[1].split("'")[0]
                aoi = shapely.make_valid(shapely.wkt.loads(wkt))
                hit = _Sda.units[_Sda.units.intersects(aoi)]
                rows = [["mukey", "mupolygonkey", "wkt"]] + [
                    [str(m), str(1000 + int(i)), g.wkt] for i, m, g in zip(hit.index, hit["MUKEY"], hit.geometry)]
            else:
                keys = [k.strip("'") for k in sql.split("IN (")[1].split(")")[0].split(",")]
                if "FROM component" in sql:
                    rows = [["mukey", "cokey", "comppct_r", "majcompflag", "drainagecl", "hydgrp"]] + [
                        [k, k + "1", "85", "Yes", "Well drained", "B"] for k in keys] + [
                        [k, k + "2", None, "No", None, None] for k in keys]
                elif "FROM mapunit" in sql:
                    rows = [["mukey", "farmlndcl"]] + [[k, "Not prime farmland"] for k in keys]
                else:
                    rows = [["mukey", "slopegradwta"]] + [[k, str(int(k) % 17)] for k in keys]
            body = json.dumps({"Table": rows}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_soil_data_access_finds_the_map_units_shapely_finds(shared):
    gpd = pytest.importorskip("geopandas")
    bangor = shared / "bangor_me"
    _Sda.units = gpd.read_file(bangor / "soils_ssurgo_mapunits.gpkg")
    parcels = gpd.read_file(bangor / "parcels.gpkg", rows=250)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sda)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/tabular/post.rest"
    try:
        _Sda.queries = []
        got = sources.soil_data_access(parcels, url=url, muaggatt=["slopegradwta"], parcels_per_request=100)
        # 3 spatial chunks, then one query per table
        assert sum("FROM mupolygon" in q for q in _Sda.queries) == 3 and got.requests == 6
        # the reference: the map units any parcel intersects, by geopandas / shapely
        ref = gpd.sjoin(_Sda.units, parcels.to_crs(4326)[["geometry"]], predicate="intersects")
        ref_keys = sorted({str(1000 + i) for i in ref.index})
        assert sorted(got.mapunits["mupolygonkey"]) == ref_keys
        assert got.mapunits.crs.to_epsg() == 4326 and len(got.mapunits) > 20
        # each polygon comes back as it was served (WKT text of the real layer)
        first = got.mapunits.iloc[0]
        assert first.geometry.equals(_Sda.units.geometry.iloc[int(first["mupolygonkey"]) - 1000])
        mukeys = set(got.mapunits["mukey"])
        assert set(got.component["mukey"]) == mukeys and len(got.component) == 2 * len(mukeys)
        assert str(got.component["comppct_r"].dtype) == "float64" and got.component["mukey"].dtype == object
        assert got.component["comppct_r"].isna().sum() == len(mukeys)
        assert list(got.muaggatt.columns) == ["mukey", "slopegradwta"]
        assert str(got.muaggatt["slopegradwta"].dtype) == "int64"
        _Sda.fail = 503
        with pytest.raises(landopp.RemoteError, match="503") as e:
            sources.soil_data_access(parcels.head(3), url=url + "?key=hush", timeout=5)
        assert "secret" not in str(e.value) and "hush" not in str(e.value)
        with pytest.raises(landopp.InvalidInputError, match="muaggatt"):
            sources.soil_data_access(parcels.head(3), url=url, muaggatt=["x; DROP TABLE mapunit"])
    finally:
        _Sda.fail = None
        srv.shutdown()
