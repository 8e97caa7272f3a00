"""The comparison's FastAPI + uvicorn service: the same search over landopp's Python binding, as a
Python team would write it (benches/compare/server_compare.mjs starts it).

    SERVER_PARCELS=parcels.gpkg SERVER_ID=pid SERVER_COLUMNS=a,b SERVER_PROFILE=profile.json SERVER_KEY=k \\
      python -m uvicorn server_fastapi:app --app-dir benches/compare --port 8002
"""

from __future__ import annotations

import json
import os

import pyogrio
from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.responses import Response

import landopp

PARCELS = os.environ["SERVER_PARCELS"]
ID = os.environ["SERVER_ID"]
COLUMNS = os.environ["SERVER_COLUMNS"].split(",")
KEY = os.environ["SERVER_KEY"]
with open(os.environ["SERVER_PROFILE"]) as f:
    PROFILE = json.load(f)

features = pyogrio.read_dataframe(PARCELS, columns=[ID, *COLUMNS], read_geometry=False).set_index(ID)
index = landopp.SearchIndex(PARCELS, features, PROFILE, id_field=ID)
del features

app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, int]:
    return {"parcels": len(index)}


@app.get("/search")
def search(bbox: str, limit: int = 20, filter: list[str] = Query(default=[]),
           x_api_key: str = Header()) -> Response:
    if x_api_key != KEY:
        raise HTTPException(status_code=401, detail="unknown key")
    try:
        box = [float(v) for v in bbox.split(",")]
        filters = []
        for f in filter:
            column, lo, hi = f.split(":")
            filters.append({"column": column, **({"min": float(lo)} if lo else {}), **({"max": float(hi)} if hi else {})})
    except ValueError as e:
        raise HTTPException(status_code=400, detail=str(e)) from e
    page = index.query(aoi={"bbox": box}, filters=filters, limit=limit)
    return Response(json.dumps(page), media_type="application/json")
