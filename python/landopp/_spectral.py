"""Spectral indices (the Awesome Spectral Indices catalogue) with cloud masks, and scene metadata."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from . import _landopp
from ._convert import PathLike
from ._io import Raster, _raster_arg, _raster_of


def spectral_catalogue() -> dict[str, Any]:
    """The Awesome Spectral Indices catalogue (spyndex 0.12): formula, bands, long name, domain."""
    return _landopp.spectral_catalogue()


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
    return _landopp.scene_meta(os.fspath(stac_item))


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
    d = _landopp.spectral_indices([(k, _raster_arg(v)) for k, v in bands.items()], list(indices), opts,
                                  None if scl is None else _raster_arg(scl),
                                  None if qa_pixel is None else _raster_arg(qa_pixel), out_list)
    return _raster_of(d, out_list)
