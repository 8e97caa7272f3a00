"""Readers, writers, CRS helpers: thin wrappers over the native module with Pythonic types."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import _landopp

PathLike = str | os.PathLike[str]


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

    def masked(self, band: int = 0) -> np.ma.MaskedArray:
        """Band ``band`` (0-based) as a masked array (nodata and NaN masked)."""
        a = self.bands[band]
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
        return cls([np.ascontiguousarray(b) for b in bands], gt,  # type: ignore[arg-type]
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
                band: int | None = None) -> Raster:
    """Read a GeoTIFF: whole, or a window ``(row, col, rows, cols)``, optionally one band (0-based).

    Chunks are decoded in parallel with the GIL released.
    """
    return _raster_of(_landopp.read_raster(os.fspath(path), window, band))


def raster_meta(path: PathLike) -> dict[str, Any]:
    """Size, dtype, transform, CRS, nodata and native blocks of a GeoTIFF without reading cells."""
    return dict(_landopp.raster_meta(os.fspath(path)))


def write_raster(path: PathLike, raster: Raster, *, tile_size: int = 256, compress: str = "deflate",
                 predictor: int | None = None) -> None:
    """Write a :class:`Raster` as a tiled GeoTIFF."""
    _landopp.write_raster(os.fspath(path), list(raster.bands), list(raster.transform), raster.crs,
                          raster.nodata, tile_size, compress, predictor)


def list_layers(path: PathLike) -> list[str]:
    """Feature layers of a vector file (GeoPackage may hold several)."""
    return list(_landopp.list_layers(os.fspath(path)))


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


def write_layer(path: PathLike, frame: Any, *, crs: Any = None, name: str = "layer") -> None:
    """Write a GeoDataFrame (or the dict :func:`read_layer` returns) as GeoJSON or GeoPackage."""
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
    _landopp.write_layer(os.fspath(path), wkb, cols, None if crs is None else _crs_str(crs), name)


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


def info(path: PathLike) -> dict[str, Any]:
    """A gdalinfo/ogrinfo-like summary (size, CRS, bounds, bands/fields, feature counts)."""
    return json.loads(_landopp.info_json(os.fspath(path)))


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


def _terrain_options(compute_edges: bool, scale: float | None, z_factor: float, azimuth: float, altitude: float,
                     band: int, alg: str | None, hillshade: str, zero_for_flat: bool, trigonometric: bool) -> str:
    opts: dict[str, Any] = {"compute_edges": compute_edges, "scale": scale, "z_factor": z_factor,
                            "azimuth": azimuth, "altitude": altitude, "band": band, "hillshade": hillshade,
                            "zero_for_flat": zero_for_flat, "trigonometric": trigonometric}
    if alg is not None:
        opts["alg"] = alg  # gdaldem's -alg: the gradient or the TRI variant, resolved in Rust
    return json.dumps(opts)


def terrain(dem: "Raster | PathLike", product: str = "slope", *, compute_edges: bool = True,
            scale: float | None = None, z_factor: float = 1.0, azimuth: float = 315.0,
            altitude: float = 45.0, band: int = 0, alg: str | None = None, hillshade: str = "standard",
            zero_for_flat: bool = False, trigonometric: bool = False) -> Raster:
    """A gdaldem-identical terrain product of a DEM: ``slope`` (degrees), ``slope_percent``,
    ``aspect``, ``hillshade``, ``tri``, ``tpi`` or ``roughness``.

    gdaldem's options by their names: ``compute_edges`` (``-compute_edges``), ``scale`` (``-s``;
    default: metres from the CRS, per-row geodesic cell size on geographic DEMs), ``z_factor``,
    ``azimuth``, ``altitude`` (``-z -az -alt``), ``alg`` (``"Horn"`` or ``"ZevenbergenThorne"`` for
    slope, aspect and hillshade; ``"Riley"`` or ``"Wilson"`` for TRI), ``hillshade``
    (``"standard"``, ``"combined"``, ``"multidirectional"``, ``"igor"``), ``zero_for_flat`` and
    ``trigonometric`` (aspect). An option for another product is an ``InvalidInputError``.
    Output nodata is -9999 (hillshade 0; aspect with ``zero_for_flat``: none).
    """
    if not isinstance(dem, Raster):
        dem = read_raster(dem, band=band)
        band = 0
    opts = _terrain_options(compute_edges, scale, z_factor, azimuth, altitude, band, alg, hillshade, zero_for_flat,
                            trigonometric)
    return _raster_of(_landopp.terrain(list(dem.bands), list(dem.transform), dem.crs, dem.nodata, product, opts))


def terrain_to_file(dem: PathLike, output: PathLike, product: str = "slope", *, compress: str = "deflate",
                    compute_edges: bool = True, scale: float | None = None, z_factor: float = 1.0,
                    azimuth: float = 315.0, altitude: float = 45.0, band: int = 0, alg: str | None = None,
                    hillshade: str = "standard", zero_for_flat: bool = False, trigonometric: bool = False) -> None:
    """Like ``gdaldem PRODUCT DEM OUTPUT``: the terrain product of a DEM file written as a tiled
    GeoTIFF (``compress``: ``"deflate"`` or ``"none"``), streamed a strip of rows at a time so a DEM
    larger than memory works and memory stays at a few megabytes. Same cells and options as
    :func:`terrain`.

    >>> landopp.terrain_to_file("dem.tif", "slope.tif", "slope")  # doctest: +SKIP
    """
    opts = _terrain_options(compute_edges, scale, z_factor, azimuth, altitude, band, alg, hillshade, zero_for_flat,
                            trigonometric)
    _landopp.terrain_file(os.fspath(dem), os.fspath(output), product, opts, compress)


def color_relief(raster: "Raster | PathLike", colors: "PathLike | Sequence[Sequence[Any]]", *,
                 mode: str = "interpolate", alpha: bool = False, band: int = 0) -> Raster:
    """``gdaldem color-relief``: a raster coloured through a colour table, as an RGB (``alpha=True``:
    RGBA) byte :class:`Raster` on the same grid, without nodata — for maps and quick looks.

    ``colors`` is a gdaldem colour table file (``value R G B [A]`` or ``value colourname`` per line;
    ``nv`` for nodata, ``P%`` for a share of the valid range; GMT ``.cpt`` too), the table's text
    (several lines), or its entries as tuples or lines, e.g.
    ``[("0%", 0, 96, 0), ("50%", "yellow"), "100% white"]``. ``mode``:
    ``"interpolate"`` (default), ``"nearest_entry"`` (``-nearest_color_entry``) or
    ``"exact_entry"`` (``-exact_color_entry``).

    >>> rgb = landopp.color_relief("dem.tif", [("0%", 0, 96, 0), ("100%", "white")])  # doctest: +SKIP
    """
    if not isinstance(raster, Raster):
        raster = read_raster(raster, band=band)
        band = 0
    path, text = None, None
    if isinstance(colors, str) and "\n" in colors:
        text = colors  # the table itself
    elif isinstance(colors, (str, os.PathLike)):
        path = os.fspath(colors)
    else:
        # entries: a line each, as a string or as its fields
        text = "".join((e if isinstance(e, str) else " ".join(str(f) for f in e)) + "\n" for e in colors)
    opts = json.dumps({"mode": mode, "alpha": alpha, "band": band})
    return _raster_of(_landopp.color_relief(list(raster.bands), list(raster.transform), raster.crs, raster.nodata,
                                            path, text, opts))


def _raster_arg(r: Any) -> Any:
    if isinstance(r, Raster):
        return (list(r.bands), list(r.transform), r.crs, r.nodata)
    return os.fspath(r)


def zonal_stats(raster: "Raster | PathLike", polygons: Any, stats: Sequence[str] = ("count", "mean"), *,
                crs: Any = None, band: int = 0, min_coverage_frac: float = 0.0,
                weights: "Raster | PathLike | None" = None, layer: str | None = None,
                max_cells: int | None = None) -> Any:
    """Exact zonal statistics (exactextract's definitions), one row per polygon.

    ``polygons``: a GeoDataFrame/GeoSeries (reprojected to the raster's CRS automatically), a
    vector file path (read in Rust: the fastest route; ``layer`` picks a GeoPackage layer) or a
    list of WKB with ``crs``. ``stats``: ``count``, ``sum``, ``mean``, ``min``, ``max``, ``stdev``,
    ``variance``, ``coefficient_of_variation``, ``median``, ``quantile(q=0.25)``, ``majority``,
    ``minority``, ``variety``, ``frac`` (one ``frac_<value>`` column per class),
    ``min_center_x``/``min_center_y``/``max_center_x``/``max_center_y``, ``weighted_mean``/
    ``weighted_sum``/``weighted_variance``/``weighted_stdev`` (with ``weights``),
    ``circular_mean`` (aspect). Returns a pandas DataFrame indexed like ``polygons``
    (a dict of arrays when pandas is missing).

    ``max_cells`` (raster files only; exactextract's ``--max-cells`` in cells, e.g. ``30_000_000``)
    reads the raster in strips of whole rows holding at most that many cells, so memory stays
    bounded on rasters larger than RAM; the results are identical to the in-memory ones.
    """
    index = None
    path = None
    if isinstance(polygons, (str, os.PathLike)):
        path, wkb = os.fspath(polygons), []
    elif hasattr(polygons, "geometry") or hasattr(polygons, "crs"):
        crs = crs if crs is not None else polygons.crs
        index = polygons.index
        geoms = polygons.geometry if hasattr(polygons, "geometry") else polygons
        if isinstance(raster, (str, os.PathLike)) and max_cells is None:
            # the raster's band is read on landopp's threads while shapely encodes the geometries
            pending = _landopp.read_raster_start(os.fspath(raster), band)
            wkb = _geometries(geoms)
            raster, band = _raster_of(pending.result()), 0
        else:
            wkb = _geometries(geoms)
    else:
        wkb = list(polygons)
    cols = _landopp.zonal_stats(_raster_arg(raster), wkb, None if crs is None else _crs_str(crs), list(stats),
                                band, min_coverage_frac, None if weights is None else _raster_arg(weights),
                                path, layer, max_cells)
    try:
        import pandas as pd
    except ImportError:
        return dict(cols)
    return pd.DataFrame(dict(cols), index=index)


def spectral_catalogue() -> dict[str, Any]:
    """The Awesome Spectral Indices catalogue (spyndex 0.12): formula, bands, long name, domain."""
    return json.loads(_landopp.spectral_catalogue())


def formula_variables(expr: str) -> list[str]:
    """The band and constant names a spectral index expression uses, in order of first use, as
    landopp's formula parser reads it (the Awesome Spectral Indices grammar: ``+ - * / **``,
    parentheses, numbers, names); an expression it refuses raises ``InvalidInputError``.

    >>> landopp.formula_variables("g*(N-R)/(N+C1*R-C2*B+L)")
    ['g', 'N', 'R', 'C1', 'C2', 'B', 'L']
    """
    return _landopp.formula_variables(expr)


def scene_meta(stac_item: PathLike) -> dict[str, Any]:
    """Scene id, capture date, cloud cover, resolution, platform, processing baseline of a STAC item."""
    return json.loads(_landopp.scene_meta(os.fspath(stac_item)))


def spectral_indices(bands: dict[str, "Raster | PathLike"], indices: Sequence[str], *, sensor: str = "reflectance",
                     baseline: str | None = None, scl: "Raster | PathLike | None" = None,
                     scl_masked: Sequence[int] | None = None, qa_pixel: "Raster | PathLike | None" = None,
                     qa_bits: Sequence[int] | None = None, constants: dict[str, float] | None = None,
                     out: "dict[str, Any] | None" = None) -> Raster:
    """Spectral indices from band rasters keyed by catalogue band name (``N``, ``R``, ``G``, ``B``,
    ``S1``, ``S2``, ``RE1``...). ``sensor``: ``reflectance`` (no scaling), ``sentinel2_l2a``,
    ``sentinel2_l1c`` (``baseline`` "04.00"+ applies the −1000 offset), ``landsat89``,
    ``landsat457`` (Collection 2 L2 scaling). SCL classes / QA_PIXEL bits are masked to NaN.
    Returns one float32 band per index.

    ``out``: like numpy's ``out=``, a dict of writeable C-contiguous ``float32`` arrays (one per
    index, the bands' shape) written in place and returned as the raster's bands. Re-using outputs
    across scenes or tiles saves allocating fresh memory on every call, which costs more than the
    arithmetic on large rasters::

        out = {k: np.empty(red.shape, np.float32) for k in ["NDVI", "EVI"]}
        for scene in scenes:
            landopp.spectral_indices(scene, ["NDVI", "EVI"], sensor="sentinel2_l2a", out=out)
    """
    # the sensor's scaling (and Sentinel-2's baseline offset rule) is resolved in Rust
    sens: dict[str, Any] = {"sensor": sensor} | ({} if baseline is None else {"baseline": str(baseline)})
    opts = {"sensor": sens, "scl_masked": None if scl_masked is None else list(scl_masked),
            "qa_bits": None if qa_bits is None else list(qa_bits), "constants": dict(constants or {})}
    out_list = None
    if out is not None:
        import numpy as np

        from .exceptions import InvalidInputError

        missing = [k for k in indices if k not in out]
        if missing:
            raise InvalidInputError(f"out has no array for {', '.join(missing)}")
        out_list = [out[k] for k in indices]
        for k, a in zip(indices, out_list):
            if not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.ndim != 2:
                raise InvalidInputError(f"out[{k}] must be a 2-D float32 numpy array")
    d = _landopp.spectral_indices([(k, _raster_arg(v)) for k, v in bands.items()], list(indices), json.dumps(opts),
                                  None if scl is None else _raster_arg(scl),
                                  None if qa_pixel is None else _raster_arg(qa_pixel), out_list)
    return _raster_of(d, out_list)


def features(spec: "dict[str, Any] | str | PathLike", *, progress: Any = None) -> Any:
    """Run a feature spec (dict, JSON/TOML text, or a spec file path) and return a pandas
    DataFrame indexed by parcel id; categorical columns are pandas categoricals, and
    ``df.attrs["provenance"]`` holds each column's source, unit and method.

    ``progress``: ``True`` for a tqdm bar, or a callable ``(done, total, message)``.
    """
    base = None
    if isinstance(spec, dict):
        text = json.dumps(spec)
    elif isinstance(spec, (str, os.PathLike)) and os.path.exists(os.fspath(spec)):
        path = os.fspath(spec)
        text = _landopp.config_text(path, "feature spec")
        base = os.path.dirname(os.path.abspath(path))
    else:
        text = str(spec)
    cb = progress
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=1, unit="step")

        def cb(done: int, total: int, message: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_description(message)
            bar.refresh()
    try:
        ids, cols = _landopp.features(text, base, cb)
    finally:
        if bar is not None:
            bar.close()
    import pandas as pd

    data: dict[str, Any] = {}
    prov: dict[str, Any] = {}
    for name, values, cats, meta in cols:
        if cats is not None:
            codes = np.where(np.isnan(values), -1, values).astype(int)
            data[name] = pd.Categorical.from_codes(codes, categories=cats)
        else:
            data[name] = values
        prov[name] = json.loads(meta)
    df = pd.DataFrame(data, index=pd.Index(ids, name="parcel_id"))
    df.attrs["provenance"] = prov
    return df


def _profile_text(profile: Any) -> str:
    if isinstance(profile, dict):
        return json.dumps(profile)
    if isinstance(profile, (str, os.PathLike)) and os.path.exists(os.fspath(profile)):
        return str(_landopp.config_text(os.fspath(profile), "scoring profile"))
    return str(profile)


def score(features_df: Any, profile: "dict[str, Any] | str | PathLike", *, explain: bool = True) -> Any:
    """Score parcels: ``features_df`` (as :func:`features` returns it, indexed by parcel id) with
    a scoring profile (dict, JSON/TOML text or file).

    Returns a DataFrame indexed like ``features_df`` with ``score`` (0..1), ``rank`` (1 = best;
    float64 like pandas' ``rank``: equal scores share ranks by the profile's ``ties`` rule, one of
    ``"average"``, ``"min"`` (the default), ``"max"``, ``"dense"``, ``"first"``),
    ``excluded``, ``reasons`` (the ``;``-joined codes of the constraints that fired, categorical),
    ``buildable_acres`` and, with ``explain=True``, ``explanation`` (per criterion: raw,
    transformed, weight, contribution). For millions of parcels pass ``explain=False`` (the arrays
    come from Rust without copying) and ask :class:`SearchIndex` hits for their explanations.

    >>> r = landopp.score(features_df, "core/presets/agriculture.json")        # doctest: +SKIP
    >>> r.sort_values("rank").head(10)                                          # doctest: +SKIP
    """
    import pandas as pd

    _, cols = _columns_of(features_df, ids=False)
    r = _landopp.score(None, cols, _profile_text(profile))
    s, rank, excluded, codes, cats, acres = r.take_arrays()
    data: dict[str, Any] = {
        "score": s, "rank": rank, "excluded": excluded,
        "reasons": pd.Categorical.from_codes(codes, categories=cats, validate=False),
        "buildable_acres": acres,
    }
    if explain:
        data["explanation"] = json.loads(r.explanations())
    index = features_df.index.copy()
    index.name = index.name or "parcel_id"
    return pd.DataFrame(data, index=index, copy=False)


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


class SearchIndex:
    """Parcels + features + scores in an R-tree, kept in Rust between queries.

    >>> idx = landopp.SearchIndex("parcels.gpkg", features_df, profile, id_field="MAPLOTUNIT")  # doctest: +SKIP
    >>> idx.query(aoi={"bbox": [-68.8, 44.8, -68.77, 44.82]}, crs="EPSG:4326",
    ...           filters=[{"column": "slope_mean", "max": 5}], limit=10)            # doctest: +SKIP
    """

    def __init__(self, parcels: Any, features_df: Any, profile: Any = None, *, id_field: str | None = None,
                 layer: str | None = None, duplicate_ids: str = "refuse") -> None:
        ids, cols = _columns_of(features_df)
        self._ids = np.asarray(ids, dtype=object)
        self._id_codes: Any = None
        prof = None if profile is None else (json.dumps(profile) if isinstance(profile, dict) else str(profile))
        if hasattr(parcels, "geometry"):
            wkb = _geometries(parcels.geometry)
            self._inner = _landopp.SearchIndex(None, ids, cols, prof, None, None, wkb, _crs_str(parcels.crs))
        else:
            self._inner = _landopp.SearchIndex(os.fspath(parcels), ids, cols, prof, id_field, layer,
                                               duplicate_ids=duplicate_ids)

    def __len__(self) -> int:
        return len(self._inner)

    def query(self, **query: Any) -> dict[str, Any]:
        """Keys: ``aoi`` ({"bbox": [...]} | {"polygon": geojson} | {"point": {"xy": [x, y], "radius_m": r}}),
        ``crs``, ``filters`` ([{"column", "min", "max", "in"}]), ``include_excluded``, ``sort_by``,
        ``ascending``, ``limit``, ``cursor``, ``explain`` (default True: each hit carries its
        per-criterion explanation). Returns ``{"hits", "total", "next_cursor"}``."""
        return json.loads(self._inner.query(json.dumps(query)))

    def query_frame(self, **query: Any) -> Any:
        """:meth:`query` as a DataFrame indexed by ``parcel_id``: ``score``, ``rank``, ``excluded``,
        ``reasons`` (``;``-joined), ``sort_value`` and one ``contribution.<criterion>`` column per
        criterion (with ``explain``, the default); ``attrs`` holds ``total`` and ``next_cursor``.

        >>> idx.query_frame(aoi={"bbox": [14.55, 45.86, 14.575, 45.88]}, crs="EPSG:4326", limit=5)  # doctest: +SKIP
        """
        import pandas as pd

        page = self.query(**query)
        rows = []
        for h in page["hits"]:
            r = {"parcel_id": h["id"], "score": h["score"], "rank": h["rank"], "excluded": h["excluded"],
                 "reasons": ";".join(h["reasons"]), "sort_value": h["sort_value"]}
            for c in h["explanation"]:
                r[f"contribution.{c['criterion']}"] = c["contribution"]
            rows.append(r)
        cols = ["parcel_id", "score", "rank", "excluded", "reasons", "sort_value"]
        df = pd.DataFrame(rows, columns=None if rows else cols).set_index("parcel_id")
        df.attrs["total"] = page["total"]
        df.attrs["next_cursor"] = page["next_cursor"]
        return df

    def query_many(self, queries: Sequence[dict[str, Any]]) -> Any:
        """Run many queries at once (in parallel, one crossing) and return every hit in one
        DataFrame: ``query`` (position in ``queries``), ``parcel_id`` (categorical), ``score``, ``rank``,
        ``excluded``, ``sort_value`` and, when every query keeps ``explain`` (the default), one
        ``contribution.<criterion>`` column per criterion. ``attrs["totals"]`` holds each query's
        match count. For batch work (thousands of areas); :meth:`query` for one page with reasons
        and full explanations.

        >>> hits = idx.query_many([{"aoi": {"bbox": b}, "limit": 10} for b in boxes])   # doctest: +SKIP
        >>> hits.groupby("query")["score"].max()                                          # doctest: +SKIP
        """
        import pandas as pd

        d = self._inner.query_many(list(queries))
        if self._id_codes is None:  # ids as a categorical: one hash pass, then integer takes
            codes, uniques = pd.factorize(self._ids)
            self._id_codes = (codes, pd.CategoricalDtype(uniques))
        codes, dtype = self._id_codes
        data: dict[str, Any] = {
            "query": d["query"], "parcel_id": pd.Categorical.from_codes(codes[d["row"]], dtype=dtype),
            "score": d["score"], "rank": d["rank"],
            "excluded": d["excluded"], "sort_value": d["sort_value"],
        }
        for j, c in enumerate(d["criteria"]):
            data[f"contribution.{c}"] = d["contribution"][:, j]
        df = pd.DataFrame(data, copy=False)
        df.attrs["totals"] = list(d["totals"])
        return df

    def assemble_sites(self, *, tolerance_m: float = 0.0, min_acres: float = 0.0, **query: Any) -> list[dict[str, Any]]:
        """Group matching parcels (``query`` as in :meth:`query`: aoi, filters...) into sites of
        adjacent parcels (shared boundary, or a gap up to ``tolerance_m``) of at least
        ``min_acres``, largest first: ``[{"parcel_ids", "acres", "score"}]``."""
        return json.loads(self._inner.assemble_sites(json.dumps(query), tolerance_m, min_acres))

    def sensitivity(self, *, method: str = "monte_carlo", runs: int = 200, spread: float = 0.2, delta: float = 0.2,
                    seed: int = 0, top_k: int = 10) -> Any:
        """Rank stability under weight perturbation: ``one_at_a_time`` (each weight ×(1±delta)) or
        ``monte_carlo`` (``runs`` weight sets, each weight ×U[1−spread, 1+spread], seeded). Returns a
        DataFrame: rank, best_rank, worst_rank, p_top_k per parcel."""
        pert: dict[str, Any] = ({"type": "one_at_a_time", "delta": delta} if method == "one_at_a_time"
                                else {"type": "monte_carlo", "runs": runs, "spread": spread, "seed": seed})
        r = json.loads(self._inner.sensitivity(json.dumps({"perturbation": pert, "top_k": top_k})))
        import pandas as pd

        return pd.DataFrame(r["parcels"]).set_index("id")

    def rescore(self, profile: Any) -> None:
        """Re-rank with a new profile (e.g. other weights) without recomputing features."""
        self._inner.rescore(json.dumps(profile) if isinstance(profile, dict) else str(profile))
