"""The search index: parcels in an area, filtered, scored and ranked, with explanations."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import _landopp
from ._convert import _columns_of, _geometries
from ._io import _crs_str

if TYPE_CHECKING:
    from typing import Unpack

    from ._convert import PathLike
    from .types import Page, Profile, Query, Site


class SearchIndex:
    """Parcels + features + scores in an R-tree, kept in Rust between queries.

    >>> idx = landopp.SearchIndex("parcels.gpkg", features_df, profile, id_field="MAPLOTUNIT")  # doctest: +SKIP
    >>> idx.query(aoi={"bbox": [-68.8, 44.8, -68.77, 44.82]}, crs="EPSG:4326",
    ...           filters=[{"column": "slope_mean", "max": 5}], limit=10)            # doctest: +SKIP
    """

    def __init__(self, parcels: Any, features_df: Any, profile: Profile | str | PathLike | None = None, *, id_field: str | None = None,
                 layer: str | None = None, duplicate_ids: str = "refuse") -> None:
        ids, cols = _columns_of(features_df)
        self._ids = np.asarray(ids, dtype=object)
        self._id_codes: Any = None
        if hasattr(parcels, "geometry"):
            wkb = _geometries(parcels.geometry)
            self._inner = _landopp.SearchIndex(None, ids, cols, profile, None, None, wkb, _crs_str(parcels.crs))
        else:
            self._inner = _landopp.SearchIndex(os.fspath(parcels), ids, cols, profile, id_field, layer,
                                               duplicate_ids=duplicate_ids)

    def __len__(self) -> int:
        return len(self._inner)

    def query(self, **query: Unpack[Query]) -> Page:
        """Keys: ``aoi`` ({"bbox": [...]} | {"polygon": geojson} | {"point": {"xy": [x, y], "radius_m": r}}),
        ``crs``, ``filters`` ([{"column", "min", "max", "in"}]), ``include_excluded``, ``sort_by``,
        ``ascending``, ``limit``, ``cursor``, ``explain`` (default True: each hit carries its
        per-criterion explanation). Returns ``{"hits", "total", "next_cursor"}``."""
        return self._inner.query(query)

    def query_frame(self, **query: Unpack[Query]) -> Any:
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

    def query_many(self, queries: Sequence[Query]) -> Any:
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

    def assemble_sites(self, *, tolerance_m: float = 0.0, min_acres: float = 0.0, **query: Unpack[Query]) -> list[Site]:
        """Group matching parcels (``query`` as in :meth:`query`: aoi, filters...) into sites of
        adjacent parcels (shared boundary, or a gap up to ``tolerance_m``) of at least
        ``min_acres``, largest first: ``[{"parcel_ids", "acres", "score"}]``."""
        return self._inner.assemble_sites(query, tolerance_m, min_acres)

    def sensitivity(self, *, method: str = "monte_carlo", runs: int = 200, spread: float = 0.2, delta: float = 0.2,
                    seed: int = 0, top_k: int = 10) -> Any:
        """Rank stability under weight perturbation: ``one_at_a_time`` (each weight ×(1±delta)) or
        ``monte_carlo`` (``runs`` weight sets, each weight ×U[1−spread, 1+spread], seeded). Returns a
        DataFrame: rank, best_rank, worst_rank, p_top_k per parcel."""
        # the core names and checks the perturbation (an unknown method is refused there)
        pert: dict[str, Any] = ({"type": method, "delta": delta} if method == "one_at_a_time"
                                else {"type": method, "runs": runs, "spread": spread, "seed": seed})
        r = self._inner.sensitivity({"perturbation": pert, "top_k": top_k})
        import pandas as pd

        return pd.DataFrame(r["parcels"]).set_index("id")

    def rescore(self, profile: Profile | str | PathLike) -> None:
        """Re-rank with a new profile (e.g. other weights) without recomputing features."""
        self._inner.rescore(profile)
