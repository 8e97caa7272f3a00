"""Readers, writers, CRS helpers: thin wrappers over the native module with Pythonic types."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import _landopp
from ._convert import FIELD_TYPES, PathLike, _column_values, _geometries, _has_geopandas, _to_frame

if TYPE_CHECKING:
    from .types import Info


@dataclass(frozen=True)
class Crs:
    """A coordinate reference system parsed by landopp (EPSG code, WKT or PROJ string)."""

    epsg: int | None
    name: str
    proj: str
    is_geographic: bool
    linear_unit_m: float | None

    @classmethod
    def from_user_input(cls, crs: str | int) -> "Crs":
        """Parse ``"EPSG:26919"``, ``26919``, WKT or a PROJ string.

        >>> Crs.from_user_input(26847).linear_unit_m  # US survey feet
        0.30480060960121924
        """
        return cls(*_landopp.crs_info(str(crs)))

    def to_string(self) -> str:
        """``EPSG:code`` when known, else the PROJ string."""
        return f"EPSG:{self.epsg}" if self.epsg is not None else self.proj


def _crs_str(crs: Any) -> str:
    if crs is None:
        raise TypeError("a CRS is required")
    if isinstance(crs, Crs):
        return crs.to_string()
    if hasattr(crs, "to_wkt"):  # pyproj.CRS / rasterio CRS
        epsg = crs.to_epsg() if hasattr(crs, "to_epsg") else None
        return f"EPSG:{epsg}" if epsg else crs.to_wkt()
    return str(crs)


@dataclass
class Raster:
    """A georeferenced raster: one numpy array per band (native dtype), GDAL geotransform,
    CRS and nodata. ``transform`` is GDAL's 6-tuple; :attr:`affine` gives rasterio's order."""

    bands: list[np.ndarray]
    transform: tuple[float, float, float, float, float, float]
    crs: str | None = None
    nodata: float | None = None
    band_names: list[str | None] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.bands[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.bands[0].shape[0])

    @property
    def affine(self) -> tuple[float, float, float, float, float, float]:
        """The transform in ``affine.Affine``/rasterio order ``(a, b, c, d, e, f)``."""
        g = self.transform
        return (g[1], g[2], g[0], g[4], g[5], g[3])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` for north-up rasters."""
        g = self.transform
        xs = (g[0], g[0] + self.width * g[1])
        ys = (g[3], g[3] + self.height * g[5])
        return (min(xs), min(ys), max(xs), max(ys))

    def masked(self, band: int = 1) -> np.ma.MaskedArray:
        """Band number ``band`` (1-based, as GDAL and rasterio number bands) as a masked array
        (nodata and NaN masked)."""
        if not 1 <= band <= len(self.bands):
            from .exceptions import NotFoundError
            raise NotFoundError(f"band {band!r} not found; choose one of 1..={len(self.bands)}")
        a = self.bands[band - 1]
        mask = np.zeros(a.shape, bool)
        if np.issubdtype(a.dtype, np.floating):
            mask |= np.isnan(a)
        if self.nodata is not None and not np.isnan(self.nodata):
            mask |= a == self.nodata
        return np.ma.MaskedArray(a, mask)

    @classmethod
    def from_array(cls, array: np.ndarray, transform: Sequence[float], *, crs: Any = None,
                   nodata: float | None = None) -> "Raster":
        """Build from a numpy array (2-D, or 3-D band-first as rasterio reads) and a transform:
        GDAL's 6-tuple, or an ``affine.Affine`` (rasterio/rioxarray)."""
        arr = np.asarray(array)
        bands = [arr] if arr.ndim == 2 else [arr[i] for i in range(arr.shape[0])]
        if hasattr(transform, "to_gdal"):
            gt = tuple(transform.to_gdal())
        else:
            gt = tuple(float(v) for v in transform)
        if len(gt) != 6:
            raise ValueError("transform must have 6 terms")
        return cls([np.ascontiguousarray(b) for b in bands], gt,
                   None if crs is None else _crs_str(crs), nodata, [None] * len(bands))

    def write(self, path: PathLike, *, tile_size: int = 256, compress: str = "deflate",
              predictor: int | None = None) -> None:
        """Write as a tiled GeoTIFF (Deflate by default) that GDAL reads identically."""
        write_raster(path, self, tile_size=tile_size, compress=compress, predictor=predictor)


def _raster_of(d: dict[str, Any], bands: Any = None) -> Raster:
    """A raster as the extension returns it (a dict), optionally with other band arrays."""
    return Raster(d["bands"] if bands is None else bands, tuple(d["transform"]), d["crs"], d["nodata"],
                  d["band_names"])


def read_raster(path: PathLike, *, window: tuple[int, int, int, int] | None = None,
                band: int | None = None, overview: int | None = None, resolution: float | None = None) -> Raster:
    """Read a GeoTIFF: whole, or a window ``(row, col, rows, cols)``, optionally one band (a band number:
    1-based, as GDAL and rasterio number bands).

    ``overview``: read that overview (0 = the finest, as rasterio's ``overview_level``) instead of
    the full image; ``resolution``: read the coarsest image — an overview, or the full one — whose
    cells are no larger than this (CRS units), as GDAL picks an overview for a coarser read. The
    window is in cells of the image read; its transform has the larger cells. From a URL only the
    chosen image's tiles are fetched. :func:`raster_meta` lists the overviews.

    Chunks are decoded in parallel with the GIL released.
    """
    return _raster_of(_landopp.read_raster(os.fspath(path), window, band, overview, resolution))


def raster_meta(path: PathLike) -> dict[str, Any]:
    """Size, dtype, transform, CRS, nodata, native blocks and overview sizes (``overviews``:
    ``(width, height)``, finest first) of a GeoTIFF without reading cells."""
    return dict(_landopp.raster_meta(os.fspath(path)))


def write_raster(path: PathLike, raster: Raster, *, tile_size: int = 256, compress: str = "deflate",
                 predictor: int | None = None) -> None:
    """Write a :class:`Raster` as a tiled GeoTIFF."""
    _landopp.write_raster(os.fspath(path), list(raster.bands), list(raster.transform), raster.crs,
                          raster.nodata, tile_size, compress, predictor)


def list_layers(path: PathLike) -> list[str]:
    """Feature layers of a vector file (GeoPackage may hold several)."""
    return list(_landopp.list_layers(os.fspath(path)))


def read_layer(path: PathLike, *, layer: str | None = None, geodataframe: bool | None = None) -> Any:
    """Read a vector layer (GeoPackage, GeoJSON, FlatGeobuf, Shapefile).

    Returns a ``geopandas.GeoDataFrame`` when geopandas is installed (or ``geodataframe=True``),
    else a dict with ``name``, ``crs``, ``wkb`` and ``columns``. Column types are kept.
    """
    gdf = _has_geopandas() if geodataframe is None else geodataframe
    return _to_frame(_landopp.read_layer(os.fspath(path), layer, False, None), gdf)


def read_parcels(path: PathLike, *, layer: str | None = None, id_field: str | None = None,
                 duplicate_ids: str = "refuse", geodataframe: bool | None = None) -> Any:
    """Read a polygon layer as parcels: ``parcel_id`` from ``id_field`` (default: feature id),
    every source column, and ``geometry_status`` (``valid``, ``empty`` or ``invalid: reason``:
    invalid rings are kept and flagged, never dropped). Ids that repeat are refused
    (``InvalidInputError`` naming them) unless ``duplicate_ids="suffix"``, which keeps the first
    and gives the repeats ``_2``, ``_3``, …"""
    gdf = _has_geopandas() if geodataframe is None else geodataframe
    return _to_frame(_landopp.read_layer(os.fspath(path), layer, True, id_field, duplicate_ids), gdf)


def _features(frame: Any, crs: Any) -> tuple[Any, list[tuple[str, Any]], str | None]:
    """``(wkb, columns, crs)`` of a GeoDataFrame or of the dict :func:`read_layer` returns, as the
    extension reads them (``crs`` given wins over the frame's)."""
    if hasattr(frame, "geometry"):
        wkb = _geometries(frame.geometry)
        kinds = getattr(frame, "attrs", {}).get(FIELD_TYPES, {})
        cols = [(c, _column_values(frame[c], kinds.get(c))) for c in frame.columns if c != frame.geometry.name]
        crs = crs if crs is not None else frame.crs
    else:
        wkb = frame["wkb"]
        kinds = frame.get(FIELD_TYPES, {})
        cols = [(k, _column_values(v, kinds.get(k))) for k, v in frame["columns"].items()]
        crs = crs if crs is not None else frame.get("crs")
    return wkb, cols, None if crs is None else _crs_str(crs)


def write_layer(path: PathLike, frame: Any, *, crs: Any = None, name: str = "layer") -> None:
    """Write a GeoDataFrame (or the dict :func:`read_layer` returns) as GeoJSON or GeoPackage."""
    wkb, cols, crs_text = _features(frame, crs)
    _landopp.write_layer(os.fspath(path), wkb, cols, crs_text, name)


def validate(data: Any, schema: Any, *, layer: str | None = None) -> Any:
    """Check a parcels table against a declarative schema and report every violation by row.

    ``data``: a vector file path (``layer`` picks a GeoPackage layer), a GeoDataFrame, or the dict
    :func:`read_layer` returns. ``schema``: a dict (``landopp.types.TableSchema``), JSON/TOML text
    or a file — ``id_field`` (present, no null, no repeat), ``crs``, ``geometry`` (``required``,
    ``types``, ``valid``: OGC validity) and ``columns`` (``name``, ``type``: integer / number /
    text / boolean / date / datetime, ``required``, ``nullable``, ``min``, ``max``, ``values``,
    ``unique``).

    Returns a pandas DataFrame with one row per violation — ``row`` (0-based position, ``-1`` for a
    table-wide rule), ``fid``, ``column``, ``rule``, ``message`` — empty when the table is valid;
    ``.attrs["rows"]`` is the number of rows checked (a dict of lists without pandas)."""
    if isinstance(data, (str, os.PathLike)):
        report = _landopp.validate_layer(schema, os.fspath(data), layer)
    else:
        wkb, cols, crs = _features(data, None)
        report = _landopp.validate_layer(schema, None, None, wkb, cols, crs)
    v = report["violations"]
    table = {"row": [-1 if x["row"] is None else x["row"] for x in v], "fid": [x["fid"] for x in v],
             "column": [x["column"] for x in v], "rule": [x["rule"] for x in v], "message": [x["message"] for x in v]}
    try:
        import pandas as pd
    except ImportError:
        return {**table, "rows": report["rows"], "not_listed": report["not_listed"]}
    out = pd.DataFrame(table)
    out.attrs["rows"] = report["rows"]
    out.attrs["not_listed"] = report["not_listed"]
    return out


def info(path: PathLike) -> Info:
    """A gdalinfo/ogrinfo-like summary (size, CRS, bounds, bands/fields, feature counts)."""
    return _landopp.info(os.fspath(path))


def transform(src: Any, dst: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Reproject coordinate arrays (x = easting/longitude, y = northing/latitude, as pyproj's
    ``always_xy=True``)."""
    xs = np.ascontiguousarray(x, dtype=np.float64).ravel()
    ys = np.ascontiguousarray(y, dtype=np.float64).ravel()
    return _landopp.transform_xy(_crs_str(src), _crs_str(dst), xs, ys)


def geodesic_area_perimeter(geometries: Any, crs: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic area (m²) and exterior perimeter (m) on WGS 84, as ``pyproj.Geod`` computes them.

    ``geometries``: a GeoSeries/GeoDataFrame (its CRS is used) or a list of WKB bytes with ``crs``.
    """
    if hasattr(geometries, "geometry") or hasattr(geometries, "crs"):
        crs = crs if crs is not None else geometries.crs
        geoms = geometries.geometry if hasattr(geometries, "geometry") else geometries
        wkb = _geometries(geoms)
    else:
        wkb = list(geometries)
    return _landopp.geodesic_area_perimeter(wkb, _crs_str(crs))


def _raster_arg(r: Any) -> Any:
    if isinstance(r, Raster):
        return (list(r.bands), list(r.transform), r.crs, r.nodata)
    return os.fspath(r)
