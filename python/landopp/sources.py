"""Live data sources: STAC imagery search and the best scene per parcel; county parcels from
ArcGIS REST feature layers and OGC API – Features collections; SSURGO soils from USDA Soil Data
Access.

>>> from landopp import sources
>>> found = sources.stac_search("https://earth-search.aws.element84.com/v1",
...                             collections=["sentinel-2-l2a"], bbox=(-11.5, 24.5, -11.4, 24.6),
...                             datetime="2020-02-01/2020-02-29", max_cloud_cover=20)  # doctest: +SKIP
>>> scenes = sources.imagery_frame(found)              # a GeoDataFrame of footprints  # doctest: +SKIP
>>> best = sources.best_scenes(parcels, found)         # one row per parcel           # doctest: +SKIP

Every request has a deadline and is retried on connection failures, 429 and 5xx with
exponential backoff and jitter (honouring ``Retry-After``); a failure raises
:class:`landopp.RemoteError` naming the URL without its query string and the HTTP status.
Everything runs in Rust off the GIL; Ctrl-C stops a search between pages.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple, Sequence

from . import _landopp
from ._convert import _geometries, _has_geopandas, _to_frame
from ._io import _crs_str


def stac_search(url: str, *, collections: Sequence[str] | None = None,
                bbox: Sequence[float] | None = None, intersects: Any = None, datetime: str | None = None,
                max_cloud_cover: float | None = None, sortby: Sequence[str] | None = None, limit: int = 100,
                max_items: int = 10_000, method: str = "POST", timeout: float = 120.0,
                resume_file: Any = None) -> list[dict[str, Any]]:
    """Search a STAC API for items; returns one imagery record (a dict) per item, in the
    server's order.

    ``url``: the API's root or its ``/search`` endpoint. ``bbox``: ``(west, south, east, north)``
    in WGS 84 degrees; ``intersects``: a GeoJSON geometry dict or anything with
    ``__geo_interface__`` (a shapely geometry), in WGS 84. ``datetime``: an RFC 3339 date-time or
    interval (``"2020-01-01/2020-03-31"``, ``"2020-01-01/.."``). ``max_cloud_cover``: items whose
    scene-wide ``eo:cloud_cover`` is above this percentage (or missing) are left out — sent to the
    server and checked on every item. ``sortby``: fields, ``-`` for descending
    (``["eo:cloud_cover", "-datetime"]``). Pages of ``limit`` items are followed through their
    ``next`` links until ``max_items``. ``method``: ``"POST"`` or ``"GET"``. ``timeout``: seconds
    per request. ``resume_file``: a path to keep the pages in as they arrive — a search that fails
    leaves it, and the same search run again with it goes on after the last page it holds (it is
    removed when the search completes).

    A record holds ``scene_id``, ``datetime``, ``cloud_cover``, ``resolution_m``, ``platform``,
    ``processing_baseline``, ``collection``, ``item_url``, ``bbox``, ``geometry`` (GeoJSON) and
    ``assets`` (``{key: {href, media_type, roles, band, gsd}}`` with absolute hrefs: give an
    asset's href to :func:`landopp.read_raster`, :func:`landopp.zonal_stats` or a feature spec
    to read it by HTTP range requests).
    """
    if intersects is not None and hasattr(intersects, "__geo_interface__"):
        intersects = intersects.__geo_interface__
    query: dict[str, Any] = {
        "url": url, "collections": list(collections or []), "bbox": None if bbox is None else list(bbox),
        "intersects": intersects, "datetime": datetime, "max_cloud_cover": max_cloud_cover,
        "sortby": list(sortby or []), "limit": limit, "max_items": max_items, "method": method.upper(),
        "timeout_s": timeout, "resume_file": None if resume_file is None else os.fspath(resume_file),
    }
    found = _landopp.stac_search(query)
    return list(found["items"])


def imagery_frame(records: Sequence[dict[str, Any]]) -> Any:
    """Imagery records as a GeoDataFrame (footprints in WGS 84): the columns of the
    ``satellite_imagery`` table — ``scene_id``, ``datetime`` (UTC timestamps), ``cloud_cover``,
    ``resolution_m``, ``platform``, ``collection``, ``item_url`` — and ``assets``."""
    import geopandas as gpd
    import pandas as pd
    import shapely.geometry

    rows = [{k: r.get(k) for k in ("scene_id", "datetime", "cloud_cover", "resolution_m", "platform",
                                   "processing_baseline", "collection", "item_url", "assets")} for r in records]
    df = pd.DataFrame(rows, columns=["scene_id", "datetime", "cloud_cover", "resolution_m", "platform",
                                     "processing_baseline", "collection", "item_url", "assets"])
    df["datetime"] = pd.to_datetime(df["datetime"], utc=True, format="ISO8601")
    geoms = [None if r.get("geometry") is None else shapely.geometry.shape(r["geometry"]) for r in records]
    return gpd.GeoDataFrame(df, geometry=geoms, crs="EPSG:4326")


def best_scenes(parcels: Any, records: Sequence[dict[str, Any]], *, crs: Any = None,
                scl_classes: Sequence[int] | None = None, qa_pixel_bits: Sequence[int] | None = None) -> Any:
    """For every parcel, the scene that sees it clearest: each record's cloud mask (its ``scl``
    asset for Sentinel-2, ``qa_pixel`` for Landsat; a URL or a path) is read over the parcels'
    extent only, and a parcel's clear share is the part of its area on clear cells (exact cell
    coverage, as :func:`landopp.zonal_stats`; cells outside the scene are not clear).

    ``parcels``: a GeoDataFrame/GeoSeries (any CRS), or a list of shapely geometries with ``crs``.
    ``scl_classes``: the SCL classes that are not clear (default no data, defective, cloud shadow,
    clouds, cirrus, snow: ``[0, 1, 3, 8, 9, 10, 11]``); ``qa_pixel_bits``: the QA_PIXEL bits (default
    fill, dilated cloud, cirrus, cloud, shadow, snow: ``[0, 1, 2, 3, 4, 5]``).

    Returns a DataFrame indexed like ``parcels``: ``scene`` (the best record's position in
    ``records``, ``-1`` when none sees the parcel clear), ``scene_id``, ``datetime``, ``clear``
    (its clear share, 0..1), and ``clear_<i>`` for every record. Ties go to the later capture.
    """
    import numpy as np
    import pandas as pd

    index = None
    if hasattr(parcels, "geometry") or hasattr(parcels, "crs"):
        crs = crs if crs is not None else parcels.crs
        index = parcels.index
        geoms = parcels.geometry if hasattr(parcels, "geometry") else parcels
    else:
        geoms = list(parcels)
    options: dict[str, Any] = {}
    if scl_classes is not None:
        options["scl_classes"] = [int(c) for c in scl_classes]
    if qa_pixel_bits is not None:
        options["qa_pixel_bits"] = [int(b) for b in qa_pixel_bits]
    best, clear = _landopp.best_scenes(list(records), _geometries(geoms), None if crs is None else _crs_str(crs),
                                       options or None)
    n = len(best)
    pick = np.array([-1 if b is None else b for b in best], dtype=np.int64)
    shares = np.asarray(clear, dtype=np.float64).reshape(len(records), n)
    out = pd.DataFrame({
        "scene": pick,
        "scene_id": [None if b is None else records[b]["scene_id"] for b in best],
        "datetime": pd.to_datetime([None if b is None else records[b]["datetime"] for b in best], utc=True,
                                   format="ISO8601"),
        "clear": np.where(pick >= 0, shares[np.maximum(pick, 0), np.arange(n)], 0.0),
    }, index=index)
    for i in range(len(records)):
        out[f"clear_{i}"] = shares[i]
    return out


def arcgis_features(url: str, *, where: str = "1=1", out_fields: Sequence[str] | None = None,
                    bbox: Sequence[float] | None = None, page_size: int | None = None, max_features: int = 1_000_000,
                    timeout: float = 120.0, geodataframe: bool | None = None, resume_file: Any = None) -> Any:
    """Every feature of an ArcGIS REST feature layer (``…/FeatureServer/0`` or ``…/MapServer/0``)
    matching ``where`` (SQL, default every feature) and ``bbox`` (``(west, south, east, north)``,
    WGS 84), as a GeoDataFrame in WGS 84 — or the dict :func:`landopp.read_layer` returns without
    geopandas.

    Pages of ``page_size`` features (default the layer's ``maxRecordCount``, at most 2,000), in
    object id order, are asked until the server stops saying ``exceededTransferLimit``. Field
    types come from the layer's description: dates become UTC timestamps, integers stay integers.
    More than ``max_features`` features is an error, never a cut layer; a failure raises
    :class:`landopp.RemoteError` and returns nothing. ``resume_file``: as in :func:`stac_search`,
    pages kept to go on after a failure."""
    query: dict[str, Any] = {"url": url, "where": where, "out_fields": list(out_fields or []),
                             "bbox": None if bbox is None else list(bbox), "page_size": page_size,
                             "max_features": max_features, "timeout_s": timeout,
                             "resume_file": None if resume_file is None else os.fspath(resume_file)}
    gdf = _has_geopandas() if geodataframe is None else geodataframe
    return _to_frame(_landopp.arcgis_features(query), gdf)


def ogc_features(url: str, *, collection: str | None = None, bbox: Sequence[float] | None = None, limit: int = 1000,
                 max_features: int = 1_000_000, timeout: float = 120.0, geodataframe: bool | None = None,
                 resume_file: Any = None) -> Any:
    """Every item of an OGC API – Features collection — ``url`` is the collection's ``items``
    URL, or the API's root with ``collection`` — within ``bbox`` (CRS84), following ``next``
    links in pages of ``limit``; a GeoDataFrame (or :func:`landopp.read_layer`'s dict). More than
    ``max_features`` items is an error; a failure raises :class:`landopp.RemoteError`.
    ``resume_file``: as in :func:`stac_search`, pages kept to go on after a failure."""
    query: dict[str, Any] = {"url": url, "collection": collection, "bbox": None if bbox is None else list(bbox),
                             "limit": limit, "max_features": max_features, "timeout_s": timeout,
                             "resume_file": None if resume_file is None else os.fspath(resume_file)}
    gdf = _has_geopandas() if geodataframe is None else geodataframe
    return _to_frame(_landopp.ogc_features(query), gdf)


#: The public Soil Data Access endpoint.
SDA_URL = "https://sdmdataaccess.sc.egov.usda.gov/tabular/post.rest"


class SoilData(NamedTuple):
    """What :func:`soil_data_access` returns."""

    #: Map-unit polygons under the parcels (WGS 84): ``mukey``, ``mupolygonkey``.
    mapunits: Any
    #: ``component`` rows: mukey, cokey, comppct_r, majcompflag, drainagecl, hydgrp.
    component: Any
    #: ``mapunit`` rows: mukey, farmlndcl.
    mapunit: Any
    #: ``muaggatt`` rows: mukey and the asked columns.
    muaggatt: Any
    #: Requests sent.
    requests: int


def _table(t: dict[str, Any]) -> Any:
    import pandas as pd

    df = pd.DataFrame(t["rows"], columns=t["columns"], dtype=object)
    for c in df.columns:
        if c in ("mukey", "cokey"):
            continue  # keys stay text, as SSURGO's files keep them
        try:
            df[c] = pd.to_numeric(df[c])
        except (ValueError, TypeError):
            pass
    return df


def soil_data_access(parcels: Any, *, crs: Any = None, url: str = SDA_URL, muaggatt: Sequence[str] | None = None,
                     parcels_per_request: int = 200, timeout: float = 120.0,
                     geodataframe: bool | None = None) -> SoilData:
    """SSURGO soils under the parcels from USDA Soil Data Access (SDA): the map-unit polygons
    whose shape intersects a parcel, and their ``component``, ``mapunit`` and ``muaggatt`` rows.

    ``parcels``: a GeoDataFrame/GeoSeries (any CRS), or a list of shapely geometries with
    ``crs`` (default WGS 84). The parcels are sent as WKT in WGS 84, ``parcels_per_request`` at a
    time; a request SDA refuses for its size is split in two and asked again. ``muaggatt``: the
    map-unit aggregate columns (default ``slopegradwta``, ``brockdepmin``, ``wtdepannmin``,
    ``aws0150wta``, ``hydclprs``, ``flodfreqdcd``; ``[]`` for none).

    Returns :class:`SoilData`: ``mapunits`` (a GeoDataFrame, or :func:`landopp.read_layer`'s dict
    without geopandas) and the tables as DataFrames (numeric columns as numbers, keys as text).
    The same soils as features: a feature spec step ``{"type": "soil_data_access"}``, or the
    ``soils`` step on these tables saved as CSV. A failure raises :class:`landopp.RemoteError`
    and returns nothing."""
    if hasattr(parcels, "geometry") or hasattr(parcels, "crs"):
        crs = crs if crs is not None else parcels.crs
        geoms = parcels.geometry if hasattr(parcels, "geometry") else parcels
    else:
        geoms = list(parcels)
    query: dict[str, Any] = {"url": url, "parcels_per_request": parcels_per_request, "timeout_s": timeout}
    if muaggatt is not None:
        query["muaggatt"] = list(muaggatt)
    layer, comp, mu, agg, n = _landopp.soil_data_access(_geometries(geoms), None if crs is None else _crs_str(crs),
                                                        query)
    gdf = _has_geopandas() if geodataframe is None else geodataframe
    return SoilData(_to_frame(layer, gdf), _table(comp), _table(mu), _table(agg), n)


__all__ = ["SDA_URL", "SoilData", "arcgis_features", "best_scenes", "imagery_frame", "ogc_features",
           "soil_data_access", "stac_search"]
