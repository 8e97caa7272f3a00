"""TypedDicts of landopp's documents: the configurations a caller writes (``Profile``,
``FeatureSpec``, ``Query``, ``Params``, ``TerrainOptions``, ...) and the results it reads (``Page``,
``Site``, ``ModelCard``, ``DriftReport``, ``Info``, ...), as plain dicts with the library's keys.

Generated from the Rust types (``python/types.schema.json``, written by
``core/tests/binding_types.rs``) by ``python/gen_types.py``: do not edit.
"""
from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
    "AbSplit",
    "Ahp",
    "Aoi",
    "ArcGisQuery",
    "Asset",
    "BandInfo",
    "ColorMode",
    "ColorReliefOptions",
    "ColumnDrift",
    "ColumnRule",
    "ColumnType",
    "Constraint",
    "Contribution",
    "Criterion",
    "DriftReport",
    "DuplicateIds",
    "EarlyStopping",
    "Explained",
    "FeatureSpec",
    "FeatureStep",
    "FieldInfo",
    "Filter",
    "GeometryRule",
    "Gradient",
    "HillshadeMode",
    "Hit",
    "ImageryRecord",
    "ImagerySettings",
    "Info",
    "LayerInfo",
    "LayerRef",
    "Method",
    "ModelCard",
    "OgcQuery",
    "Op",
    "Page",
    "Params",
    "ParcelSource",
    "Perturbation",
    "Profile",
    "Query",
    "RasterInfo",
    "RetrainPolicy",
    "SceneChoice",
    "SceneChoiceOptions",
    "SdaQuery",
    "SdaTable",
    "SearchMethod",
    "Sensitivity",
    "SensitivityOptions",
    "Sensor",
    "Site",
    "Stability",
    "StacResults",
    "StacSearch",
    "TableSchema",
    "Task",
    "TerrainOptions",
    "Ties",
    "TopsisNormalization",
    "Transform",
    "TriAlgorithm",
    "UnseenCategory",
    "ValidationReport",
    "Violation",
]


TableSchema = TypedDict("TableSchema", {
    "id_field": NotRequired["str | None"],
    "crs": NotRequired["str | None"],
    "geometry": NotRequired["GeometryRule"],
    "columns": NotRequired["list[ColumnRule]"],
})
"""A declarative schema of a parcels table."""


GeometryRule = TypedDict("GeometryRule", {
    "required": NotRequired["bool"],
    "types": NotRequired["list[str]"],
    "valid": NotRequired["bool"],
})
"""What the geometries must be."""


ColumnRule = TypedDict("ColumnRule", {
    "name": "str",
    "type": NotRequired["ColumnType | None"],
    "required": NotRequired["bool"],
    "nullable": NotRequired["bool"],
    "min": NotRequired["float | None"],
    "max": NotRequired["float | None"],
    "values": NotRequired["list[str] | None"],
    "unique": NotRequired["bool"],
})
"""What one column must hold."""


Profile = TypedDict("Profile", {
    "version": "int",
    "name": NotRequired["str"],
    "criteria": "list[Criterion]",
    "ahp": NotRequired["Ahp | None"],
    "constraints": NotRequired["list[Constraint]"],
    "method": "Method",
    "area_column": NotRequired["str"],
    "ties": NotRequired["Ties"],
})
"""A scoring profile."""


Criterion = TypedDict("Criterion", {
    "column": "str",
    "transform": "Transform",
    "weight": NotRequired["float | None"],
    "name": NotRequired["str | None"],
})
"""One criterion."""


TransformLinearBenefit = TypedDict("TransformLinearBenefit", {
    "type": "Literal[\"linear_benefit\"]",
    "min": "float",
    "max": "float",
})
"""0 at `min`, 1 at `max`, linear between, clamped."""


TransformLinearCost = TypedDict("TransformLinearCost", {
    "type": "Literal[\"linear_cost\"]",
    "min": "float",
    "max": "float",
})
"""1 at `min`, 0 at `max`."""


TransformSigmoid = TypedDict("TransformSigmoid", {
    "type": "Literal[\"sigmoid\"]",
    "midpoint": "float",
    "spread": "float",
})
"""Logistic: 1 / (1 + exp(−(x − midpoint)/spread)); a negative spread favours low values."""


TransformGaussian = TypedDict("TransformGaussian", {
    "type": "Literal[\"gaussian\"]",
    "mean": "float",
    "sd": "float",
})
"""exp(−(x − mean)² / (2 sd²))."""


TransformTrapezoid = TypedDict("TransformTrapezoid", {
    "type": "Literal[\"trapezoid\"]",
    "a": "float",
    "b": "float",
    "c": "float",
    "d": "float",
})
"""0 below `a`, rising to 1 at `b`, 1 until `c`, falling to 0 at `d`."""


TransformTarget = TypedDict("TransformTarget", {
    "type": "Literal[\"target\"]",
    "target": "float",
    "tolerance": "float",
})
"""1 at `target`, falling linearly to 0 at `target ± tolerance`."""


TransformCategorical = TypedDict("TransformCategorical", {
    "type": "Literal[\"categorical\"]",
    "scores": "dict[str, float]",
    "default": NotRequired["float"],
})
"""Categories (labels of a categorical column, or numbers formatted as text) to scores."""


TransformPiecewise = TypedDict("TransformPiecewise", {
    "type": "Literal[\"piecewise\"]",
    "points": "list[list[float]]",
})
"""Piecewise-linear through `points` `[[x, y], ...]` (x increasing), flat outside."""


Ahp = TypedDict("Ahp", {
    "matrix": "list[list[float]]",
    "allow_inconsistent": NotRequired["bool"],
})
"""An AHP pairwise comparison matrix (Saaty 1..9 and reciprocals), rows/columns in criteria order."""


Constraint = TypedDict("Constraint", {
    "code": "str",
    "column": NotRequired["str | None"],
    "op": NotRequired["Op | None"],
    "value": NotRequired["float | None"],
    "reduce_area_column": NotRequired["str | None"],
})
"""A hard constraint (excludes the parcel, with a reason code) or, with `reduce_area_column`, a
partial constraint that removes that share of the parcel from its buildable area instead."""


MethodWeightedSum = TypedDict("MethodWeightedSum", {
    "type": "Literal[\"weighted_sum\"]",
})
"""Σ wᵢ sᵢ (additive: contributions sum to the score)."""


MethodWeightedProduct = TypedDict("MethodWeightedProduct", {
    "type": "Literal[\"weighted_product\"]",
})
"""Π sᵢ^wᵢ."""


MethodTopsis = TypedDict("MethodTopsis", {
    "type": "Literal[\"topsis\"]",
    "normalization": NotRequired["TopsisNormalization"],
})
"""TOPSIS closeness over the candidate set: distances to the ideal and anti-ideal points of
the weighted transformed values (pymcdm's TOPSIS with the transformed matrix as its
normalised matrix), after a second, data-derived normalisation only when `normalization`
asks for one."""


MethodOwa = TypedDict("MethodOwa", {
    "type": "Literal[\"owa\"]",
    "order_weights": "list[float]",
})
"""Ordered weighted average: order weights applied to the criteria sorted high to low."""


MethodSpotis = TypedDict("MethodSpotis", {
    "type": "Literal[\"spotis\"]",
})
"""1 − SPOTIS distance to the ideal (1 for every criterion) with bounds [0, 1]."""


FeatureSpec = TypedDict("FeatureSpec", {
    "version": "int",
    "parcels": "ParcelSource",
    "work_crs": NotRequired["str | None"],
    "features": "list[FeatureStep]",
})
"""A feature spec."""


ParcelSource = TypedDict("ParcelSource", {
    "path": "str",
    "layer": NotRequired["str | None"],
    "id_field": NotRequired["str | None"],
    "duplicate_ids": NotRequired["DuplicateIds"],
})
"""Where the parcels come from."""


FeatureStepShape = TypedDict("FeatureStepShape", {
    "type": "Literal[\"shape\"]",
})
"""Geodesic area/perimeter, compactness, rectangle ratios, vertex count."""


FeatureStepValue = TypedDict("FeatureStepValue", {
    "type": "Literal[\"value\"]",
    "total_field": "str",
    "land_field": NotRequired["str | None"],
})
"""Value per acre and land-to-total ratio from attribute columns."""


FeatureStepZonal = TypedDict("FeatureStepZonal", {
    "type": "Literal[\"zonal\"]",
    "raster": "str",
    "band": NotRequired["int"],
    "stats": "list[str]",
    "prefix": NotRequired["str | None"],
    "min_coverage_frac": NotRequired["float"],
})
"""Exact zonal statistics of a raster band."""


FeatureStepTerrain = TypedDict("FeatureStepTerrain", {
    "type": "Literal[\"terrain\"]",
    "raster": "str",
    "product": "str",
    "stats": "list[str]",
    "prefix": NotRequired["str | None"],
    "share_below": NotRequired["list[float]"],
    "options": NotRequired["TerrainOptions"],
})
"""A terrain product of a DEM, summarised per parcel."""


FeatureStepOverlay = TypedDict("FeatureStepOverlay", {
    "type": "Literal[\"overlay\"]",
    "layer": "LayerRef",
    "field": NotRequired["str | None"],
    "prefix": "str",
})
"""Class shares of a polygon layer."""


FeatureStepProximity = TypedDict("FeatureStepProximity", {
    "type": "Literal[\"proximity\"]",
    "layer": "LayerRef",
    "prefix": "str",
    "radius_m": NotRequired["float | None"],
})
"""Distance to the nearest feature and count within a radius."""


FeatureStepSoils = TypedDict("FeatureStepSoils", {
    "type": "Literal[\"soils\"]",
    "layer": "LayerRef",
    "mukey_field": NotRequired["str"],
    "component_table": NotRequired["str | None"],
    "mapunit_table": NotRequired["str | None"],
    "muaggatt_table": NotRequired["str | None"],
})
"""SSURGO map-unit shares and, with SDA tables, drainage / hydrologic group / farmland class."""


FeatureStepSoilDataAccess = TypedDict("FeatureStepSoilDataAccess", {
    "type": "Literal[\"soil_data_access\"]",
    "url": NotRequired["str | None"],
    "muaggatt": NotRequired["list[str] | None"],
    "parcels_per_request": NotRequired["int | None"],
    "timeout_s": NotRequired["float | None"],
})
"""SSURGO soils fetched for the parcels from USDA Soil Data Access (needs the `remote`
feature): the `soils` step's map-unit shares and classes from the SDA tables, plus the
`muaggatt` columns (`soil_<column>`)."""


FeatureStepSpectral = TypedDict("FeatureStepSpectral", {
    "type": "Literal[\"spectral\"]",
    "bands": "dict[str, str]",
    "indices": "list[str]",
    "stats": NotRequired["list[str]"],
    "stac": NotRequired["str | None"],
    "scl": NotRequired["str | None"],
    "qa_pixel": NotRequired["str | None"],
    "imagery": NotRequired["ImagerySettings | None"],
})
"""Spectral indices summarised per parcel."""


FeatureStepModel = TypedDict("FeatureStepModel", {
    "type": "Literal[\"model\"]",
    "path": "str",
    "name": "str",
    "class": NotRequired["str | None"],
    "hmac_key_env": NotRequired["str | None"],
    "encryption_key_env": NotRequired["str | None"],
})
"""A trained model's prediction from the columns computed by the steps before it, as a
column a scoring profile can use like any other (rules and a model in one profile).
Parcels with a missing (NaN) input get a missing prediction."""


TerrainOptions = TypedDict("TerrainOptions", {
    "compute_edges": NotRequired["bool"],
    "scale": NotRequired["float | None"],
    "z_factor": NotRequired["float"],
    "azimuth": NotRequired["float"],
    "altitude": NotRequired["float"],
    "band": NotRequired["int"],
    "gradient": NotRequired["Gradient | None"],
    "hillshade": NotRequired["HillshadeMode"],
    "tri": NotRequired["TriAlgorithm | None"],
    "zero_for_flat": NotRequired["bool"],
    "trigonometric": NotRequired["bool"],
    "alg": NotRequired["str | None"],
})
"""Options shared by the terrain products, with gdaldem's meaning. As JSON (feature specs, the
bindings): these snake_case keys, every one optional, plus gdaldem's `alg` (`"Horn"`,
`"ZevenbergenThorne"`, `"Riley"`, `"Wilson"`), which sets [`TerrainOptions::gradient`] or
[`TerrainOptions::tri`]; an unknown key is refused."""


LayerRef2 = TypedDict("LayerRef2", {
    "path": "str",
    "layer": NotRequired["str | None"],
})
"""Path and layer."""


ImagerySettings = TypedDict("ImagerySettings", {
    "sensor": NotRequired["Sensor"],
    "scl_masked": NotRequired["list[int] | None"],
    "qa_bits": NotRequired["list[int] | None"],
    "constants": NotRequired["dict[str, float]"],
})
"""Serializable imagery settings (the `imagery` part of feature specs and binding options)."""


SensorSentinel2L1c = TypedDict("SensorSentinel2L1c", {
    "sensor": "Literal[\"sentinel2_l1c\"]",
    "offset": NotRequired["float | None"],
    "baseline": NotRequired["str | None"],
})


SensorSentinel2L2a = TypedDict("SensorSentinel2L2a", {
    "sensor": "Literal[\"sentinel2_l2a\"]",
    "offset": NotRequired["float | None"],
    "baseline": NotRequired["str | None"],
})


SensorLandsat457 = TypedDict("SensorLandsat457", {
    "sensor": "Literal[\"landsat457\"]",
})


SensorLandsat89 = TypedDict("SensorLandsat89", {
    "sensor": "Literal[\"landsat89\"]",
})


SensorReflectance = TypedDict("SensorReflectance", {
    "sensor": "Literal[\"reflectance\"]",
})


Query = TypedDict("Query", {
    "aoi": NotRequired["Aoi | None"],
    "crs": NotRequired["str | None"],
    "filters": NotRequired["list[Filter]"],
    "include_excluded": NotRequired["bool"],
    "sort_by": NotRequired["str | None"],
    "ascending": NotRequired["bool"],
    "limit": NotRequired["int"],
    "cursor": NotRequired["str | None"],
    "explain": NotRequired["bool"],
})
"""A search query."""


Aoi1 = TypedDict("Aoi1", {
    "bbox": "list[float]",
})
"""`[xmin, ymin, xmax, ymax]`."""


Aoi2 = TypedDict("Aoi2", {
    "polygon": "Any",
})
"""A GeoJSON Polygon/MultiPolygon geometry."""


Aoi3Point = TypedDict("Aoi3Point", {
    "xy": "list[float]",
    "radius_m": "float",
})


Aoi3 = TypedDict("Aoi3", {
    "point": "Aoi3Point",
})
"""A point and a radius in metres."""


Filter = TypedDict("Filter", {
    "column": "str",
    "min": NotRequired["float | None"],
    "max": NotRequired["float | None"],
    "in": NotRequired["list[str] | None"],
})
"""An attribute filter."""


ParamsRandomForest = TypedDict("ParamsRandomForest", {
    "task": "Task",
    "n_estimators": NotRequired["int"],
    "max_features": NotRequired["float | None"],
    "min_samples_leaf": NotRequired["int"],
    "max_depth": NotRequired["int | None"],
    "bootstrap": NotRequired["bool"],
    "seed": NotRequired["int"],
    "model": NotRequired["Literal[\"random_forest\"]"],
})
"""Hyper-parameters (scikit-learn's names and defaults where they exist)."""


ParamsGradientBoosting = TypedDict("ParamsGradientBoosting", {
    "task": "Task",
    "learning_rate": NotRequired["float"],
    "max_iter": NotRequired["int"],
    "max_leaf_nodes": NotRequired["int"],
    "max_depth": NotRequired["int | None"],
    "min_samples_leaf": NotRequired["int"],
    "l2_regularization": NotRequired["float"],
    "max_bins": NotRequired["int"],
    "seed": NotRequired["int"],
    "early_stopping": NotRequired["EarlyStopping"],
    "validation_fraction": NotRequired["float"],
    "n_iter_no_change": NotRequired["int"],
    "tol": NotRequired["float"],
    "scoring": NotRequired["str"],
    "model": "Literal[\"gradient_boosting\"]",
})
"""Hyper-parameters (scikit-learn's names and defaults)."""


ParamsLinear = TypedDict("ParamsLinear", {
    "task": "Task",
    "alpha": NotRequired["float"],
    "C": NotRequired["float"],
    "max_iter": NotRequired["int"],
    "model": "Literal[\"linear\"]",
})
"""Hyper-parameters."""


ColorReliefOptions = TypedDict("ColorReliefOptions", {
    "mode": NotRequired["ColorMode"],
    "alpha": NotRequired["bool"],
    "band": NotRequired["int"],
})
"""Options of [`color_relief`]."""


SensitivityOptions = TypedDict("SensitivityOptions", {
    "perturbation": "Perturbation",
    "top_k": NotRequired["int"],
})
"""Options of [`SearchIndex::sensitivity`]:
`{"perturbation": {"type": "monte_carlo", "runs": 200, "spread": 0.2, "seed": 1}, "top_k": 10}`."""


PerturbationOneAtATime = TypedDict("PerturbationOneAtATime", {
    "type": "Literal[\"one_at_a_time\"]",
    "delta": "float",
})
"""One weight at a time multiplied by (1 ± `delta`), others renormalised."""


PerturbationMonteCarlo = TypedDict("PerturbationMonteCarlo", {
    "type": "Literal[\"monte_carlo\"]",
    "runs": "int",
    "spread": "float",
    "seed": "int",
})
"""`runs` weight sets: each weight multiplied by a uniform factor in [1 − spread, 1 + spread]
(deterministic with `seed`), then renormalised."""


RetrainPolicy = TypedDict("RetrainPolicy", {
    "min_new_records": NotRequired["int"],
    "max_psi": NotRequired["float | None"],
    "holdout_fraction": NotRequired["float"],
    "metric": NotRequired["str | None"],
    "salt": NotRequired["str"],
})
"""When to retrain and how to judge the candidate."""


AbSplit = TypedDict("AbSplit", {
    "salt": "str",
    "share_b": "float",
    "model_a": "str",
    "model_b": "str",
})
"""Deterministic A/B assignment: SHA-256 of `salt` + parcel id → B when its first 8 bytes, as a
fraction of 2⁶⁴, fall below `share_b`; the same parcel always gets the same model."""


StacSearch = TypedDict("StacSearch", {
    "url": "str",
    "collections": NotRequired["list[str]"],
    "bbox": NotRequired["list[float] | None"],
    "intersects": NotRequired["Any"],
    "datetime": NotRequired["str | None"],
    "max_cloud_cover": NotRequired["float | None"],
    "sortby": NotRequired["list[str]"],
    "limit": NotRequired["int"],
    "max_items": NotRequired["int"],
    "method": NotRequired["SearchMethod"],
    "timeout_s": NotRequired["float"],
    "resume_file": NotRequired["str | None"],
})
"""A STAC item search: what [`search`] asks for."""


SceneChoiceOptions = TypedDict("SceneChoiceOptions", {
    "scl_classes": NotRequired["list[int]"],
    "qa_pixel_bits": NotRequired["list[int]"],
})
"""Which mask cells count as cloud for [`best_scenes`]."""


ArcGisQuery = TypedDict("ArcGisQuery", {
    "url": "str",
    "where": NotRequired["str"],
    "out_fields": NotRequired["list[str]"],
    "bbox": NotRequired["list[float] | None"],
    "page_size": NotRequired["int | None"],
    "max_features": NotRequired["int"],
    "timeout_s": NotRequired["float"],
    "resume_file": NotRequired["str | None"],
})
"""An ArcGIS REST feature layer query."""


OgcQuery = TypedDict("OgcQuery", {
    "url": "str",
    "collection": NotRequired["str | None"],
    "bbox": NotRequired["list[float] | None"],
    "limit": NotRequired["int"],
    "max_features": NotRequired["int"],
    "timeout_s": NotRequired["float"],
    "resume_file": NotRequired["str | None"],
})
"""An OGC API – Features collection query."""


SdaQuery = TypedDict("SdaQuery", {
    "url": NotRequired["str"],
    "parcels_per_request": NotRequired["int"],
    "muaggatt": NotRequired["list[str]"],
    "timeout_s": NotRequired["float"],
})
"""A Soil Data Access request for parcels."""


ValidationReport = TypedDict("ValidationReport", {
    "rows": "int",
    "violations": "list[Violation]",
    "not_listed": "int",
})
"""Every violation of a schema."""


Violation = TypedDict("Violation", {
    "row": NotRequired["int | None"],
    "fid": NotRequired["int | None"],
    "column": NotRequired["str | None"],
    "rule": "str",
    "message": "str",
})
"""One broken rule."""


Page = TypedDict("Page", {
    "hits": "list[Hit]",
    "total": "int",
    "next_cursor": NotRequired["str | None"],
})
"""One page of results."""


Hit = TypedDict("Hit", {
    "id": "str",
    "score": "float",
    "rank": "float",
    "excluded": "bool",
    "reasons": "list[str]",
    "sort_value": "float",
    "explanation": "list[Contribution]",
})
"""One result."""


Contribution = TypedDict("Contribution", {
    "criterion": "str",
    "raw": "float",
    "label": NotRequired["str | None"],
    "transformed": "float",
    "weight": "float",
    "contribution": "float",
    "missing": "bool",
    "factor": NotRequired["float | None"],
    "weighted_value": NotRequired["float | None"],
    "gap_to_ideal": NotRequired["float | None"],
    "gap_to_anti_ideal": NotRequired["float | None"],
})
"""One criterion's part of a parcel's explanation."""


Site = TypedDict("Site", {
    "parcel_ids": "list[str]",
    "acres": "float",
    "score": "float",
})
"""A candidate site: adjacent parcels that pass a filter."""


Sensitivity = TypedDict("Sensitivity", {
    "top_k": "int",
    "runs": "int",
    "parcels": "list[Stability]",
})
"""Sensitivity of the ranking to the weights."""


Stability = TypedDict("Stability", {
    "id": "str",
    "rank": "float",
    "best_rank": "float",
    "worst_rank": "float",
    "p_top_k": "float",
})
"""Rank stability of one parcel under weight perturbation."""


ModelCard = TypedDict("ModelCard", {
    "model_version": "str",
    "created_at_unix": "int",
    "features": "list[str]",
    "target": "str",
    "training_data_sha256": "str",
    "metrics": "dict[str, float]",
    "hyper_parameters": "Params",
    "library_version": "str",
    "categories": NotRequired["dict[str, list[str]]"],
    "unseen_category": NotRequired["UnseenCategory"],
    "classes": NotRequired["list[str] | None"],
})
"""What a model is and how it was made."""


Explained = TypedDict("Explained", {
    "value": "list[float]",
    "bias": "list[float]",
    "contributions": "list[list[float]]",
    "scale": "str",
})
"""A prediction explained: `bias + Σ contributions = value` (per class for classification)."""


DriftReport = TypedDict("DriftReport", {
    "psi_threshold": "float",
    "ks_threshold": "float",
    "columns": "list[ColumnDrift]",
    "drifted": "list[str]",
})
"""A drift report."""


ColumnDrift = TypedDict("ColumnDrift", {
    "name": "str",
    "psi": "float",
    "ks": "float",
    "drifted": "bool",
})
"""Drift of one column."""


InfoRaster = TypedDict("InfoRaster", {
    "kind": "Literal[\"raster\"]",
    "path": "str",
    "driver": "str",
    "width": "int",
    "height": "int",
    "dtype": "str",
    "crs": NotRequired["str | None"],
    "crs_name": NotRequired["str | None"],
    "geotransform": "list[float]",
    "bounds": "list[float]",
    "nodata": NotRequired["float | None"],
    "block": "list[Any]",
    "compression": "str",
    "overviews": "list[list[Any]]",
    "bands": "list[BandInfo]",
})
"""A raster file."""


InfoVector = TypedDict("InfoVector", {
    "kind": "Literal[\"vector\"]",
    "path": "str",
    "driver": "str",
    "layers": "list[LayerInfo]",
})
"""A vector file with its layers."""


BandInfo = TypedDict("BandInfo", {
    "band": "int",
    "description": NotRequired["str | None"],
    "min": "float",
    "max": "float",
    "mean": "float",
    "valid_count": "int",
})
"""One band of a raster summary."""


RasterInfo = TypedDict("RasterInfo", {
    "path": "str",
    "driver": "str",
    "width": "int",
    "height": "int",
    "dtype": "str",
    "crs": NotRequired["str | None"],
    "crs_name": NotRequired["str | None"],
    "geotransform": "list[float]",
    "bounds": "list[float]",
    "nodata": NotRequired["float | None"],
    "block": "list[Any]",
    "compression": "str",
    "overviews": "list[list[Any]]",
    "bands": "list[BandInfo]",
})
"""A raster summary."""


LayerInfo = TypedDict("LayerInfo", {
    "name": "str",
    "geometry_type": "str",
    "feature_count": "int",
    "crs": NotRequired["str | None"],
    "crs_name": NotRequired["str | None"],
    "bounds": NotRequired["list[float] | None"],
    "fields": "list[FieldInfo]",
})
"""A vector layer summary."""


FieldInfo = TypedDict("FieldInfo", {
    "name": "str",
    "type": "str",
})
"""One field of a vector layer summary."""


StacResults = TypedDict("StacResults", {
    "items": "list[ImageryRecord]",
    "pages": "int",
    "matched": NotRequired["int | None"],
    "filtered_out": "int",
})
"""What a search found."""


ImageryRecord = TypedDict("ImageryRecord", {
    "scene_id": "str",
    "datetime": "str",
    "cloud_cover": NotRequired["float | None"],
    "resolution_m": NotRequired["float | None"],
    "platform": "str",
    "processing_baseline": NotRequired["str | None"],
    "collection": NotRequired["str | None"],
    "item_url": NotRequired["str | None"],
    "bbox": NotRequired["list[float] | None"],
    "geometry": NotRequired["Any"],
    "assets": "dict[str, Asset]",
})
"""A scene found by a search: what the `satellite_imagery` table holds, plus the assets. Read
back with snake_case or camelCase keys (the Node package returns camelCase)."""


Asset = TypedDict("Asset", {
    "href": "str",
    "media_type": NotRequired["str | None"],
    "roles": "list[str]",
    "band": NotRequired["str | None"],
    "gsd": NotRequired["float | None"],
})
"""One asset of an item."""


SceneChoice = TypedDict("SceneChoice", {
    "clear": "list[list[float]]",
    "best": "list[int | None]",
})
"""The best scene of every parcel."""


SdaTable = TypedDict("SdaTable", {
    "columns": "list[str]",
    "rows": "list[list[str | None]]",
})
"""One SDA answer: column names and rows of text (SDA sends every value as text or null)."""


ColumnType: TypeAlias = Literal["integer"] | Literal["number"] | Literal["text"] | Literal["boolean"] | Literal["date"] | Literal["datetime"]
"""A column's expected type."""


Transform: TypeAlias = TransformLinearBenefit | TransformLinearCost | TransformSigmoid | TransformGaussian | TransformTrapezoid | TransformTarget | TransformCategorical | TransformPiecewise
"""How a raw feature value becomes a 0..1 suitability."""


Op: TypeAlias = Literal[">"] | Literal[">="] | Literal["<"] | Literal["<="] | Literal["=="] | Literal["!="]
"""A comparison operator of a constraint."""


Method: TypeAlias = MethodWeightedSum | MethodWeightedProduct | MethodTopsis | MethodOwa | MethodSpotis
"""Aggregation of the transformed criteria."""


TopsisNormalization: TypeAlias = Literal["none"] | Literal["vector"] | Literal["min_max"]
"""A second normalisation of the transformed criteria TOPSIS applies over the candidate set
(pymcdm's normalisation functions on a profit column). Data-derived: adding or removing
candidates changes every score."""


Ties: TypeAlias = Literal["average"] | Literal["min"] | Literal["max"] | Literal["dense"] | Literal["first"]
"""How tied scores share ranks (pandas' `rank(method=…)` vocabulary). Listings keep a stable
order whatever the rule: ties are listed in input order."""


DuplicateIds: TypeAlias = Literal["refuse"] | Literal["suffix"]
"""What reading parcels does with ids that repeat (condo units stacked on one footprint, parcels
split into several polygons that kept one id)."""


FeatureStep: TypeAlias = FeatureStepShape | FeatureStepValue | FeatureStepZonal | FeatureStepTerrain | FeatureStepOverlay | FeatureStepProximity | FeatureStepSoils | FeatureStepSoilDataAccess | FeatureStepSpectral | FeatureStepModel
"""One feature group of a spec."""


Gradient: TypeAlias = Literal["horn"] | Literal["zevenbergen_thorne"]
"""The 3×3 gradient of slope, aspect and hillshade (`gdaldem -alg`)."""


HillshadeMode: TypeAlias = Literal["standard"] | Literal["combined"] | Literal["multidirectional"] | Literal["igor"]
"""The hillshade variant."""


TriAlgorithm: TypeAlias = Literal["riley"] | Literal["wilson"]
"""The terrain ruggedness index variant."""


LayerRef: TypeAlias = str | LayerRef2
"""A layer reference with an optional GeoPackage layer name."""


Sensor: TypeAlias = SensorSentinel2L1c | SensorSentinel2L2a | SensorLandsat457 | SensorLandsat89 | SensorReflectance
"""A sensor, for band maps and reflectance scaling. As JSON: `{"sensor": "landsat89"}`, or for
Sentinel-2 `{"sensor": "sentinel2_l2a", "baseline": "04.00"}` (the processing baseline sets
the offset) or `{"sensor": "sentinel2_l2a", "offset": -1000}`; without either the offset is 0."""


Aoi: TypeAlias = Aoi1 | Aoi2 | Aoi3
"""An area of interest."""


Params: TypeAlias = ParamsRandomForest | ParamsGradientBoosting | ParamsLinear
"""Hyper-parameters of a model family, tagged by `model` (default `random_forest`)."""


Task: TypeAlias = Literal["regression"] | Literal["classification"]
"""What the forest predicts."""


EarlyStopping: TypeAlias = Literal["auto"] | bool
"""scikit-learn's `early_stopping`: `"auto"` (on above 10,000 rows), `true` or `false`."""


ColorMode: TypeAlias = Literal["interpolate"] | Literal["nearest_entry"] | Literal["exact_entry"]
"""How values between two entries of the table are coloured."""


Perturbation: TypeAlias = PerturbationOneAtATime | PerturbationMonteCarlo
"""How weights are perturbed."""


SearchMethod: TypeAlias = Literal["POST"] | Literal["GET"]
"""How the search is sent."""


UnseenCategory: TypeAlias = Literal["error"] | Literal["ignore"]
"""Policy for a category not seen in training (as scikit-learn's `OneHotEncoder(handle_unknown=)`)."""


Info: TypeAlias = InfoRaster | InfoVector
"""A file summary."""
