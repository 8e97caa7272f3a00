"""Conversions shared by the wrappers: paths, CRS arguments, geometries and columns to the native module's forms, and tables back to (Geo)DataFrames."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _landopp


PathLike = str | os.PathLike[str]


FIELD_TYPES = "landopp:field_types"


def _temporal(d: dict[str, Any], cols: dict[str, Any], pandas: bool) -> dict[str, str]:
    """Dates and date-times as pyogrio gives them: ``datetime64[ms]`` (dates at midnight), with the
    column's one UTC offset as a pandas time zone when every value has it, naive otherwise; the
    source types in the returned ``{name: "date" | "datetime"}`` (kept in ``attrs`` so that
    :func:`write_layer` writes them back as the same types)."""
    kinds = {n: k for n, k in d.get("types", []) if k in ("date", "datetime")}
    for name, kind in kinds.items():
        a = np.asarray(cols[name]).view("datetime64[D]" if kind == "date" else "datetime64[ms]")
        a = a.astype("datetime64[ms]")
        offset = d.get("utc_offsets", {}).get(name)
        if pandas and offset is not None:
            import datetime as dt

            import pandas as pd

            tz = dt.timezone.utc if offset == 0 else dt.timezone(dt.timedelta(minutes=offset))
            cols[name] = pd.Series(a).dt.tz_localize("UTC").dt.tz_convert(tz).array
        else:
            cols[name] = a
    return kinds


def _to_frame(d: dict[str, Any], geodataframe: bool) -> Any:
    cols: dict[str, Any] = dict(d["columns"])
    kinds = _temporal(d, cols, geodataframe)
    if "ids" in d:
        cols = {"parcel_id": d["ids"], **cols}
    if "status" in d:
        cols["geometry_status"] = d["status"]
    if not geodataframe:
        return {"name": d["name"], "crs": d["crs"], "wkb": d["wkb"], "columns": cols, FIELD_TYPES: kinds}
    import geopandas as gpd
    import shapely

    geoms = shapely.from_wkb(np.array(d["wkb"], dtype=object))
    gdf = gpd.GeoDataFrame(cols, geometry=geoms, crs=d["crs"])
    if kinds:
        gdf.attrs[FIELD_TYPES] = kinds
    return gdf


def _has_geopandas() -> bool:
    try:
        import geopandas  # noqa: F401
    except ImportError:
        return False
    return True


def _geometries(geoms: Any) -> Any:
    """Shapely geometries (None stays None) in the form the extension reads in place (no copy).

    Small inputs: WKB, an object array of bytes. From 256 rows on, the packed form: one
    coordinate array (``shapely.get_coordinates``) holding the rows that are a single closed ring
    — most parcels — and WKB only for the others (holes, several parts, other types, rings
    touching their start vertex; the extension picks them, conservatively). shapely's WKB
    encoding holds the GIL and costs ~1.4 µs a parcel (15 ms for Bangor's 10,643), the packed
    form ~5.5 ms."""
    import shapely

    a = np.asarray(geoms, dtype=object)
    if a.ndim != 1 or len(a) < 256:
        return shapely.to_wkb(a)
    types = shapely.get_type_id(a).astype(np.int32, copy=False)
    offsets = np.zeros(len(a) + 1, np.int64)
    np.cumsum(shapely.get_num_coordinates(a), out=offsets[1:])
    coords = np.ascontiguousarray(shapely.get_coordinates(a), dtype=np.float64)
    parts = shapely.get_num_geometries(a).astype(np.int32, copy=False)
    rest = _landopp.ring_fallbacks(coords, offsets, types, parts)
    wkb = np.full(len(a), None, dtype=object)
    if len(rest):
        wkb[rest] = shapely.to_wkb(a[rest])
    return ("landopp-packed", coords, offsets, types, wkb)


def _column_values(v: Any, kind: str | None = None) -> Any:
    dtype = getattr(v, "dtype", None)
    tz = getattr(dtype, "tz", None)
    if tz is not None or np.asarray(v).dtype.kind == "M":
        # date-times (pandas time zones kept as the UTC offset of the column's first value);
        # a column read as a date (``attrs``) is written back as a date when every value is a
        # midnight
        offset = None
        if tz is not None:
            import pandas as pd

            s = pd.Series(v)
            first = s.dropna()
            offset = int(first.iloc[0].utcoffset().total_seconds() // 60) if len(first) else 0
            a = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ms]")
        else:
            a = np.asarray(v).astype("datetime64[ms]")
        nat = np.isnat(a)
        ms = a.view(np.int64)
        if kind == "date" and tz is None and bool((ms[~nat] % 86_400_000 == 0).all()):
            return ("date", [None if n else int(x // 86_400_000) for x, n in zip(ms, nat)], None)
        return ("datetime", [None if n else int(x) for x, n in zip(ms, nat)], offset)
    arr = np.asarray(v)
    if arr.dtype.kind == "b":
        return [bool(x) for x in arr]
    if arr.dtype.kind in "iu":
        return [int(x) for x in arr]
    if arr.dtype.kind == "f":
        return [None if np.isnan(x) else float(x) for x in arr]
    return [None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x) for x in arr]


def _columns_of(features_df: Any, *, ids: bool = True
                ) -> tuple[list[str], list[tuple[str, np.ndarray, list[str | None] | None]]]:
    import pandas as pd

    cols: list[tuple[str, np.ndarray, list[str | None] | None]] = []
    for name in features_df.columns:
        s = features_df[name]
        if isinstance(s.dtype, pd.CategoricalDtype) or not (pd.api.types.is_numeric_dtype(s.dtype)
                                                            or pd.api.types.is_bool_dtype(s.dtype)):
            # categorical, object and string (pandas 3's default for text) columns carry labels
            labels = [None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in s]
            cols.append((str(name), np.zeros(len(s)), labels))
        else:
            cols.append((str(name), np.ascontiguousarray(s.to_numpy(dtype=np.float64)), None))
    return (features_df.index.astype(str).tolist() if ids else []), cols
