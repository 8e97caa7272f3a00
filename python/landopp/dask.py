"""Beyond one machine: feature building, scoring and model prediction over Dask.

Parcels are partitioned spatially (contiguous runs along a Hilbert curve, so a partition is a
compact area) as a ``dask_geopandas.GeoDataFrame``; each partition runs the same landopp calls as
a single process, in its worker. Every parcel belongs to exactly one partition, and every feature
of a parcel depends on that parcel and the layers only, so the result equals the single-process
run exactly, parcels on partition edges included. Each partition reads the rasters it needs
whole (windowed reads are not built yet): a worker needs the memory of the largest raster. Needs ``dask[dataframe]``, ``distributed`` and
``dask-geopandas`` (``pip install "dask[dataframe]" distributed dask-geopandas``).

>>> from distributed import Client, LocalCluster                                   # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))               # doctest: +SKIP
>>> # a real cluster: Client("tcp://scheduler:8786"); every worker needs landopp installed and
>>> # the spec's files at the same paths (a shared volume or object store mount)
>>> ddf = landopp.dask.features("spec.json", npartitions=8)                        # doctest: +SKIP
>>> scored = landopp.dask.score(ddf, "core/presets/solar_utility.json")            # doctest: +SKIP
>>> landopp.dask.top_k(scored, 10)                                                 # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

from . import _landopp
from ._convert import PathLike

if TYPE_CHECKING:
    from .types import FeatureSpec, Profile


def _dgpd() -> Any:
    try:
        import dask_geopandas
    except ImportError as e:  # pragma: no cover - the message is the test
        raise ImportError('landopp.dask needs dask-geopandas: pip install "dask[dataframe]" distributed '
                          "dask-geopandas") from e
    return dask_geopandas


def partition(spec: Any, *, npartitions: int = 8) -> Any:
    """The spec's parcels as a ``dask_geopandas.GeoDataFrame`` of ``npartitions`` spatial
    partitions (Hilbert order of the parcels' centres), indexed by ``parcel_id``, with every
    column of the layer. The parcels are read once, here, with the spec's id rules."""
    from . import read_parcels

    dgpd = _dgpd()
    s = _landopp.feature_spec(spec)
    p = s["parcels"]
    gdf = read_parcels(p["path"], layer=p.get("layer"), id_field=p.get("id_field"),
                       duplicate_ids=p.get("duplicate_ids", "refuse"))
    gdf = gdf.set_index("parcel_id")
    # Hilbert distance of each parcel's centre over the layer's extent: sorted, then cut into
    # contiguous runs, each a compact area
    order = dgpd.from_geopandas(gdf[["geometry"]], npartitions=1).hilbert_distance().compute()
    gdf = gdf.loc[order.sort_values(kind="stable").index]
    return dgpd.from_geopandas(gdf, npartitions=max(1, min(int(npartitions), len(gdf))), sort=False)


def _partition_features(part: Any, spec: dict[str, Any]) -> Any:
    """One partition's features: its parcels written to a GeoPackage of the worker's own, the
    spec run on it. Categorical columns come back as text (partitions see different categories);
    an empty partition gives the geometry only (:func:`_conform` adds the rest)."""
    import geopandas as gpd
    import pandas as pd

    from . import features, write_layer

    if len(part) == 0:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=part.crs), index=part.index)
    with tempfile.TemporaryDirectory(prefix="landopp-dask-") as d:
        path = os.path.join(d, "parcels.gpkg")
        layer = part.drop(columns=[c for c in ("geometry_status",) if c in part.columns]).reset_index()
        write_layer(path, layer, name="parcels")
        one: FeatureSpec = dict(spec, parcels={"path": path, "layer": "parcels", "id_field": "parcel_id"})  # type: ignore[assignment]
        df = features(one)
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype("string")
    df.index = df.index.astype(part.index.dtype)
    out = gpd.GeoDataFrame(df.join(part[["geometry"]]), geometry="geometry", crs=part.crs)
    return out.loc[part.index]


def _columns(part: Any) -> Any:
    import pandas as pd

    return pd.Series([list(part.columns)])


def _conform(part: Any, meta: Any) -> Any:
    """A partition with every partition's columns, in ``meta``'s dtypes (a copy: the persisted
    partition is shared): a class share its parcels never meet is 0 (as one process writes it
    for a parcel outside the class), anything else missing is missing."""
    import pandas as pd

    part = part.copy()
    for c in meta.columns:
        if c not in part.columns:
            fill = 0.0 if c.endswith("_share") else None
            part[c] = pd.Series(fill, index=part.index, dtype=meta[c].dtype)
        elif part[c].dtype != meta[c].dtype and c != "geometry":
            part[c] = part[c].astype(meta[c].dtype)
    return part[list(meta.columns)]


def features(spec: Any, *, npartitions: int = 8, parcels: Any = None) -> Any:
    """Run a feature spec (dict, JSON/TOML text or file, as :func:`landopp.features`) over Dask:
    a ``dask_geopandas.GeoDataFrame`` of the features and the parcels' geometry, indexed by
    ``parcel_id``, one partition per spatial partition of :func:`partition` (or of ``parcels``,
    a GeoDataFrame from it). The features are computed here, on the cluster, and kept there
    (``persist``): overlay and soil steps add a column per class the parcels meet, so the
    columns are known only once every partition ran; a partition that never met a class gets
    its share as 0. Categorical features come back as text."""
    import pandas as pd

    from .exceptions import InvalidInputError

    s = _landopp.feature_spec(spec)  # checked here, paths absolute for the workers
    ddf = parcels if parcels is not None else partition(s, npartitions=npartitions)
    if s.get("work_crs") is None and ddf.crs is not None and ddf.crs.is_geographic:
        # one process measures in the UTM zone of the whole layer's centre; a partition would
        # pick its own centre's zone and measure differently near zone edges
        raise InvalidInputError("these parcels are in a geographic CRS: give the spec a work_crs (a metric CRS, "
                                "e.g. their UTM zone) so every partition measures in the same one")
    sample = ddf.head(1, npartitions=-1)
    meta = _partition_features(sample, s).iloc[:0]
    raw = ddf.map_partitions(_partition_features, s, meta=meta, enforce_metadata=False,
                             align_dataframes=False).persist()
    seen: list[str] = []
    for cols in raw.map_partitions(_columns, meta=(None, "object"), enforce_metadata=False).compute():
        seen += [c for c in cols if c not in seen]
    columns = [c for c in seen if c != "geometry"] + ["geometry"]
    full = meta.copy()
    for c in columns:
        if c not in full.columns:
            full[c] = pd.Series(dtype="float64")
    full = full[columns]
    return raw.map_partitions(_conform, full, meta=full)


def _partition_scores(part: Any, profile: Any) -> Any:
    from . import score

    r = score(part.drop(columns=[c for c in ("geometry",) if c in part.columns]), profile, explain=False)
    r["reasons"] = r["reasons"].astype(object)
    return r.drop(columns=["rank"])


def score(ddf: Any, profile: Profile | str | PathLike) -> Any:
    """Score every partition with ``profile``: a Dask DataFrame with ``score``, ``excluded``,
    ``reasons`` and ``buildable_acres`` per parcel. Ranks depend on every parcel: take them from
    :func:`top_k`. A profile whose scores depend on the candidate set (TOPSIS) is refused with
    ``InvalidInputError``: partitions would each have their own ideal point."""
    import pandas as pd

    from .exceptions import InvalidInputError

    if isinstance(profile, (str, os.PathLike)) and os.path.isfile(profile):
        # read here: a worker's working directory is not the client's
        with open(profile, encoding="utf-8") as f:
            profile = f.read()
    if _landopp.profile_depends_on_candidates(profile):
        raise InvalidInputError("this profile's method scores a parcel against the whole candidate set (TOPSIS): "
                                "score it in one process (landopp.score) or use a per-parcel method")
    meta = pd.DataFrame({"score": pd.Series(dtype="float64"), "excluded": pd.Series(dtype="bool"),
                         "reasons": pd.Series(dtype="object"), "buildable_acres": pd.Series(dtype="float64")},
                        index=ddf._meta.index)
    return ddf.map_partitions(_partition_scores, profile, meta=meta)


def _partition_predict(part: Any, model: Any, columns: list[str]) -> Any:
    import numpy as np
    import pandas as pd

    x = part[columns]
    ok = x.notna().all(axis=1).to_numpy()
    out = np.full(len(part), np.nan)
    if ok.any():
        p = np.asarray(model.predict(x[ok]))
        out[ok] = p if p.ndim == 1 else p.argmax(axis=1)
    return pd.Series(out, index=part.index, name="prediction")


def predict(ddf: Any, model: Any) -> Any:
    """A model's prediction (:class:`landopp.ml.Model`) for every parcel, per partition: a Dask
    Series named ``prediction`` (the class index for a classifier; NaN where an input is
    missing). The model travels to the workers as its checksummed file."""
    import pandas as pd

    cols = list(model.card["features"])
    return ddf.map_partitions(_partition_predict, model, cols,
                              meta=pd.Series(dtype="float64", name="prediction", index=ddf._meta.index))


def _partition_top(part: Any, k: int, column: str) -> Any:
    if "excluded" in part.columns:
        part = part[~part["excluded"].astype(bool)]
    part = part.assign(_id=part.index.astype(str)).sort_values([column, "_id"], ascending=[False, True])
    return part.head(k).drop(columns="_id")


def top_k(ddf: Any, k: int, column: str = "score") -> Any:
    """The ``k`` parcels with the largest ``column`` over every partition, best first, ranked 1..k
    (ties broken by parcel id, the same way in every partition and across them), as a pandas
    DataFrame. Each partition sends its own top ``k``; nothing else is collected. Excluded
    parcels are left out when an ``excluded`` column exists."""
    import pandas as pd

    k = int(k)
    parts = ddf.map_partitions(_partition_top, k, column, meta=ddf._meta).compute()
    best = pd.DataFrame(parts)
    best = best.assign(_id=best.index.astype(str)).sort_values([column, "_id"], ascending=[False, True])
    best = best.drop(columns="_id").head(k)
    best["rank"] = range(1, len(best) + 1)
    return best


def write(ddf: Any, path: PathLike) -> None:
    """Write a result: ``.parquet`` (a GeoParquet dataset, one file per partition, by the
    workers) or ``.gpkg`` / ``.geojson`` (one file, gathered here)."""
    p = os.fspath(path)
    if p.endswith(".parquet"):
        ddf.to_parquet(p)
        return
    from . import write_layer

    gdf = ddf.compute()
    write_layer(p, gdf.reset_index())
