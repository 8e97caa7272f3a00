"""Rasters over HTTP: every call that takes a raster path takes an http(s) URL, read by byte
ranges (a loopback server answers ranges the way object stores do; nothing reaches the internet)."""
import http.server
import pathlib
import threading

import numpy as np
import pytest

import landopp

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


class _Ranges(http.server.BaseHTTPRequestHandler):
    """GET with `Range: bytes=a-b` → 206 and the slice; an ETag; counts requests and bytes."""

    protocol_version = "HTTP/1.1"
    served = {"requests": 0, "bytes": 0}

    def do_GET(self):  # noqa: N802 (http.server's name)
        path = FIXTURES / "slovenia" / self.path.split("?")[0].lstrip("/")
        if not path.is_file():
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        data = path.read_bytes()
        rng = self.headers.get("Range")
        _Ranges.served["requests"] += 1
        if rng:
            a, b = (int(v) for v in rng.removeprefix("bytes=").split("-"))
            b = min(b, len(data) - 1)
            body = data[a:b + 1]
            self.send_response(206)
            self.send_header("content-range", f"bytes {a}-{b}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.send_header("etag", '"fixture-1"')
        self.end_headers()
        self.wfile.write(body)
        _Ranges.served["bytes"] += len(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("LANDOPP_HTTP_CACHE", str(tmp_path_factory.mktemp("http-cache")))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ranges)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_read_raster_info_and_zonal_stats_from_a_url_equal_the_file(base):
    url = f"{base}/s2_l1c_13band_2015-08-30.tif?X-Amz-Signature=secret"
    local = FIXTURES / "slovenia/s2_l1c_13band_2015-08-30.tif"
    remote, file = landopp.read_raster(url), landopp.read_raster(local)
    assert remote.crs == file.crs and remote.transform == file.transform
    for a, b in zip(remote.bands, file.bands):
        np.testing.assert_array_equal(a, b)
    # a window reads part of the file only
    before = dict(_Ranges.served)
    w = landopp.read_raster(f"{base}/dem.tif", window=(0, 0, 16, 16))
    np.testing.assert_array_equal(w.bands[0], landopp.read_raster(FIXTURES / "slovenia/dem.tif").bands[0][:16, :16])
    assert _Ranges.served["requests"] > before["requests"]
    # info names the URL without its query string
    i = landopp.info(url)
    assert "secret" not in str(i) and i["width"] == file.bands[0].shape[1]
    polys = landopp.read_parcels(FIXTURES / "slovenia/lulc_polygons.gpkg")
    got = landopp.zonal_stats(f"{base}/dem.tif", polys, ["count", "mean", "max"])
    want = landopp.zonal_stats(FIXTURES / "slovenia/dem.tif", polys, ["count", "mean", "max"])
    assert got.equals(want)


def test_a_missing_url_is_a_typed_error_without_the_query(base):
    with pytest.raises(landopp.LandoppError) as e:
        landopp.read_raster(f"{base}/nope.tif?token=hush")
    assert e.value.code == "NOT_FOUND"
    assert "hush" not in str(e.value)
