"""Terrain derivatives of a DEM (gdaldem's products and options) and colour relief."""

from __future__ import annotations

import os
from typing import Any, Sequence

from . import _landopp
from ._convert import PathLike
from ._io import Raster, _raster_of, read_raster


def _terrain_options(compute_edges: bool, scale: float | None, z_factor: float, azimuth: float, altitude: float,
                     band: int, alg: str | None, hillshade: str, zero_for_flat: bool, trigonometric: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {"compute_edges": compute_edges, "scale": scale, "z_factor": z_factor,
                            "azimuth": azimuth, "altitude": altitude, "band": band, "hillshade": hillshade,
                            "zero_for_flat": zero_for_flat, "trigonometric": trigonometric}
    if alg is not None:
        opts["alg"] = alg  # gdaldem's -alg: the gradient or the TRI variant, resolved in Rust
    return opts


def terrain(dem: "Raster | PathLike", product: str = "slope", *, compute_edges: bool = True,
            scale: float | None = None, z_factor: float = 1.0, azimuth: float = 315.0,
            altitude: float = 45.0, band: int = 1, alg: str | None = None, hillshade: str = "standard",
            zero_for_flat: bool = False, trigonometric: bool = False) -> Raster:
    """A gdaldem-identical terrain product of a DEM: ``slope`` (degrees), ``slope_percent``,
    ``aspect``, ``hillshade``, ``tri``, ``tpi`` or ``roughness``.

    gdaldem's options by their names: ``compute_edges`` (``-compute_edges``), ``scale`` (``-s``;
    default: metres from the CRS, per-row geodesic cell size on geographic DEMs), ``z_factor``,
    ``azimuth``, ``altitude`` (``-z -az -alt``), ``alg`` (``"Horn"`` or ``"ZevenbergenThorne"`` for
    slope, aspect and hillshade; ``"Riley"`` or ``"Wilson"`` for TRI), ``hillshade``
    (``"standard"``, ``"combined"``, ``"multidirectional"``, ``"igor"``), ``zero_for_flat`` and
    ``trigonometric`` (aspect); ``band`` (``-b``: 1-based, as GDAL numbers bands). An option for another product is an ``InvalidInputError``.
    Output nodata is -9999 (hillshade 0; aspect with ``zero_for_flat``: none).
    """
    if not isinstance(dem, Raster):
        dem = read_raster(dem, band=band)
        band = 1
    opts = _terrain_options(compute_edges, scale, z_factor, azimuth, altitude, band, alg, hillshade, zero_for_flat,
                            trigonometric)
    return _raster_of(_landopp.terrain(list(dem.bands), list(dem.transform), dem.crs, dem.nodata, product, opts))


def terrain_to_file(dem: PathLike, output: PathLike, product: str = "slope", *, compress: str = "deflate",
                    compute_edges: bool = True, scale: float | None = None, z_factor: float = 1.0,
                    azimuth: float = 315.0, altitude: float = 45.0, band: int = 1, alg: str | None = None,
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
                 mode: str = "interpolate", alpha: bool = False, band: int = 1) -> Raster:
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
        band = 1
    if isinstance(colors, (str, os.PathLike)):
        table = os.fspath(colors)  # a file or the table's text: the core tells which
    else:
        # entries: a line each, as a string or as its fields
        table = "".join((e if isinstance(e, str) else " ".join(str(f) for f in e)) + "\n" for e in colors)
    opts = {"mode": mode, "alpha": alpha, "band": band}
    return _raster_of(_landopp.color_relief(list(raster.bands), list(raster.transform), raster.crs, raster.nodata,
                                            table, opts))
