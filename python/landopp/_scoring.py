"""Multi-criteria scoring of a feature table with a profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _landopp
from ._convert import PathLike, _columns_of

if TYPE_CHECKING:
    from .types import Profile


def score(features_df: Any, profile: Profile | str | PathLike, *, explain: bool = True) -> Any:
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
    r = _landopp.score(None, cols, profile)
    s, rank, excluded, codes, cats, acres = r.take_arrays()
    data: dict[str, Any] = {
        "score": s, "rank": rank, "excluded": excluded,
        "reasons": pd.Categorical.from_codes(codes, categories=cats, validate=False),
        "buildable_acres": acres,
    }
    if explain:
        data["explanation"] = r.explanations()
    index = features_df.index.copy()
    index.name = index.name or "parcel_id"
    return pd.DataFrame(data, index=index, copy=False)
