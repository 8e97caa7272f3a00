"""The feature pipeline: a spec of steps in, a (Geo)DataFrame of per-parcel features with provenance out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _landopp
from ._convert import PathLike

if TYPE_CHECKING:
    from .types import FeatureSpec


def features(spec: FeatureSpec | str | PathLike, *, progress: Any = None) -> Any:
    """Run a feature spec (dict, JSON/TOML text, or a spec file path) and return a pandas
    DataFrame indexed by parcel id; categorical columns are pandas categoricals, and
    ``df.attrs["provenance"]`` holds each column's source, unit and method.

    ``progress``: ``True`` for a tqdm bar, or a callable ``(done, total, message)``.
    """
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
        ids, cols = _landopp.features(spec, cb)
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
        prov[name] = meta
    df = pd.DataFrame(data, index=pd.Index(ids, name="parcel_id"))
    df.attrs["provenance"] = prov
    return df
