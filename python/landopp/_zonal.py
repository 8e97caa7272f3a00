"""Exact zonal statistics (exactextract's vocabulary) of a raster over polygons."""

from __future__ import annotations

import os
from typing import Any, Sequence

from . import _landopp
from ._convert import PathLike, _geometries
from ._io import Raster, _crs_str, _raster_arg, _raster_of


def zonal_stats(raster: "Raster | PathLike", polygons: Any, stats: Sequence[str] = ("count", "mean"), *,
                crs: Any = None, band: int = 1, min_coverage_frac: float = 0.0,
                weights: "Raster | PathLike | None" = None, layer: str | None = None,
                max_cells: int | None = None) -> Any:
    """Exact zonal statistics (exactextract's definitions), one row per polygon.

    ``polygons``: a GeoDataFrame/GeoSeries (reprojected to the raster's CRS automatically), a
    vector file path (read in Rust: the fastest route; ``layer`` picks a GeoPackage layer), the
    dict :func:`read_parcels` returns without geopandas, or a list of WKB with ``crs``. ``stats``: ``count``, ``sum``, ``mean``, ``min``, ``max``, ``stdev``,
    ``variance``, ``coefficient_of_variation``, ``median``, ``quantile(q=0.25)``, ``majority``,
    ``minority``, ``variety``, ``frac`` (one ``frac_<value>`` column per class),
    ``min_center_x``/``min_center_y``/``max_center_x``/``max_center_y``, ``weighted_mean``/
    ``weighted_sum``/``weighted_variance``/``weighted_stdev`` (with ``weights``),
    ``circular_mean`` (aspect). Returns a pandas DataFrame indexed like ``polygons``
    (a dict of arrays when pandas is missing). ``band`` is a band number: 1-based, as GDAL and
    rasterio number bands.

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
            raster, band = _raster_of(pending.result()), 1
        else:
            wkb = _geometries(geoms)
    elif isinstance(polygons, dict) and "wkb" in polygons:
        # what read_parcels / read_layer return without geopandas
        crs = crs if crs is not None else polygons.get("crs")
        wkb = list(polygons["wkb"])
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
