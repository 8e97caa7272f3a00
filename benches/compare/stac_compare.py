"""STAC item search, side by side: landopp.sources.stac_search against pystac-client's
`Client.search(...).items_as_dicts()`, the same 1,000 items over 10 pages of 100 from the same
loopback STAC API in one run.

The server (Python's ThreadingHTTPServer, in this process) builds its items from the real Earth
Search item in fixtures/stac (ids, dates and cloud cover varied), answers POST /search with pages
of `limit` items and a POST `next` link (`body` with a token, `merge: true`), and counts requests.
Pages are serialised once, before the runs, so the server's cost is the same for both clients.

Work on both sides: search collection `sentinel-2-l2a` over a bbox, limit 100, every page, every
item turned into a record (landopp: imagery records; pystac-client: item dicts).
Runs are interleaved (landopp, then pystac-client), median of RUNS.

Usage: .venv/bin/python -m pip install pystac-client; .venv/bin/python benches/compare/stac_compare.py [RUNS=5]
"""
import copy
import http.server
import json
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _bench import interleaved  # noqa: E402

os.environ["LANDOPP_HTTP_RATE"] = "off"  # the clients compared, not the politeness (pystac-client has none)

import landopp  # noqa: E402
from landopp import sources  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
N, LIMIT = 1000, 100
item = json.loads((ROOT / "fixtures/stac/S2A_29RKH_20200219_0_L2A.stac.json").read_text())
items = []
for i in range(N):
    it = copy.deepcopy(item)
    it["id"] = f"S2A_29RKH_2020_{i:04d}_L2A"
    it["properties"]["datetime"] = f"2020-{1 + i // 28 % 12:02d}-{1 + i % 28:02d}T11:34:25Z"
    it["properties"]["eo:cloud_cover"] = float(i * 37 % 100)
    it["links"] = []
    items.append(it)
pages: dict[int, bytes] = {}
count = {"requests": 0}


class Stac(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (pystac-client reads the landing page first)
        port = self.server.server_address[1]
        body = json.dumps({"type": "Catalog", "id": "bench", "description": "bench", "stac_version": "1.0.0",
                           "conformsTo": ["https://api.stacspec.org/v1.0.0/core",
                                          "https://api.stacspec.org/v1.0.0/item-search"],
                           "links": [{"rel": "search", "href": f"http://127.0.0.1:{port}/search",
                                      "method": "POST", "type": "application/geo+json"}]}).encode()
        count["requests"] += 1
        self._send(body)

    def do_POST(self):  # noqa: N802
        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        count["requests"] += 1
        self._send(pages[int(req.get("token", 0))])

    def _send(self, body):
        self.send_response(200)
        self.send_header("content-type", "application/geo+json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stac)
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    for start in range(0, N, LIMIT):
        links = []
        if start + LIMIT < N:
            links.append({"rel": "next", "href": f"{base}/search", "method": "POST", "body": {"token": start + LIMIT},
                          "merge": True})
        pages[start] = json.dumps({"type": "FeatureCollection", "features": items[start:start + LIMIT],
                                   "links": links, "numberMatched": N}).encode()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    import pystac_client

    bbox = (-11.9, 24.3, -10.9, 25.3)
    got: dict[str, tuple[int, int]] = {}

    def lo() -> None:
        before = count["requests"]
        r = sources.stac_search(base, collections=["sentinel-2-l2a"], bbox=bbox, limit=LIMIT, max_items=N)
        got["landopp"] = (len(r), count["requests"] - before)

    def py() -> None:
        before = count["requests"]
        c = pystac_client.Client.open(base)
        r = list(c.search(collections=["sentinel-2-l2a"], bbox=bbox, limit=LIMIT, max_items=N).items_as_dicts())
        got["pystac-client"] = (len(r), count["requests"] - before)

    t = interleaved({"landopp": lo, "pystac-client": py}, runs)
    print(f"landopp {landopp.__version__}, pystac-client {pystac_client.__version__}; {N} items, pages of {LIMIT}, "
          f"median of {runs} interleaved runs")
    print("| client | items | requests | time (ms) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for k in ("landopp", "pystac-client"):
        print(f"| {k} | {got[k][0]} | {got[k][1]} | {t[k] * 1e3:.0f} | {t['pystac-client'] / t[k]:.2f}× |")
    srv.shutdown()


if __name__ == "__main__":
    main()
