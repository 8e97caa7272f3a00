"""landopp — land opportunity search.

Read parcels and geospatial layers, compute exact per-parcel features, score and rank them.

>>> import landopp
>>> dem = landopp.read_raster("fixtures/slovenia/dem.tif")        # doctest: +SKIP
>>> parcels = landopp.read_parcels("fixtures/slovenia/lulc_polygons.gpkg", id_field="index")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings

from . import _landopp, ml, sources, types
from ._features import features
from ._io import (
    Crs,
    Raster,
    geodesic_area_perimeter,
    info,
    list_layers,
    read_layer,
    read_parcels,
    read_raster,
    transform,
    validate,
    write_layer,
    write_raster,
)
from ._scoring import score
from ._search import SearchIndex
from ._spectral import formula_variables, scene_meta, spectral_catalogue, spectral_indices
from ._terrain import color_relief, terrain, terrain_to_file
from ._zonal import zonal_stats
from .exceptions import (
    CrsError,
    EmptyError,
    FormatError,
    IntegrityError,
    InternalError,
    InvalidGeometryError,
    InvalidInputError,
    IoError,
    LandoppError,
    NotFoundError,
    RemoteError,
    StoppedError,
    UnsupportedError,
)

__version__: str = _landopp.__version__

if _landopp.BUILD_PROFILE == "debug":
    warnings.warn(
        "landopp was built in debug mode and is much slower than a release build; "
        "reinstall with `maturin develop --release` or `pip install ./python`.",
        RuntimeWarning,
        stacklevel=2,
    )

__all__ = [
    "Crs", "Raster", "SearchIndex", "features", "geodesic_area_perimeter", "info", "list_layers", "read_layer", "read_parcels",
    "read_raster", "scene_meta", "color_relief", "formula_variables", "score", "spectral_catalogue", "spectral_indices", "terrain", "terrain_to_file", "transform", "validate", "write_layer", "write_raster", "zonal_stats", "CrsError", "EmptyError", "FormatError",
    "IntegrityError", "InternalError", "InvalidGeometryError", "InvalidInputError", "IoError", "LandoppError", "NotFoundError",
    "RemoteError", "StoppedError", "UnsupportedError", "__version__", "ml", "sources", "types",
]
