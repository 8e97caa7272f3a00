/* Generated from the Rust types (types.schema.json, written by core/tests/binding_types.rs) by json-schema-to-typescript: do not edit. */

/**
 * A column's expected type.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ColumnType".
 */
export type ColumnType = "integer" | "number" | "text" | "boolean" | "date" | "datetime";
/**
 * How a raw feature value becomes a 0..1 suitability.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Transform".
 */
export type Transform =
  | {
      type: "linear_benefit";
      /**
       * Value scoring 0.
       */
      min: number;
      /**
       * Value scoring 1.
       */
      max: number;
    }
  | {
      type: "linear_cost";
      /**
       * Value scoring 1.
       */
      min: number;
      /**
       * Value scoring 0.
       */
      max: number;
    }
  | {
      type: "sigmoid";
      /**
       * Value scoring 0.5.
       */
      midpoint: number;
      /**
       * Steepness (non-zero).
       */
      spread: number;
    }
  | {
      type: "gaussian";
      /**
       * Ideal value.
       */
      mean: number;
      /**
       * Width (> 0).
       */
      sd: number;
    }
  | {
      type: "trapezoid";
      /**
       * Start of the rise.
       */
      a: number;
      /**
       * Full suitability from.
       */
      b: number;
      /**
       * Full suitability until.
       */
      c: number;
      /**
       * End of the fall.
       */
      d: number;
    }
  | {
      type: "target";
      /**
       * Ideal value.
       */
      target: number;
      /**
       * Distance at which suitability reaches 0 (> 0).
       */
      tolerance: number;
    }
  | {
      type: "categorical";
      /**
       * Label → score in 0..1.
       */
      scores: {
        [k: string]: number;
      };
      /**
       * Score of labels not listed.
       */
      default?: number;
    }
  | {
      type: "piecewise";
      /**
       * Break points.
       */
      points: [number, number][];
    };
/**
 * A comparison operator of a constraint.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Op".
 */
export type Op = ">" | ">=" | "<" | "<=" | "==" | "!=";
/**
 * Aggregation of the transformed criteria.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Method".
 */
export type Method =
  | {
      type: "weighted_sum";
    }
  | {
      type: "weighted_product";
    }
  | {
      type: "topsis";
      /**
       * Second normalisation of the transformed values over the candidate set (default none).
       */
      normalization?: TopsisNormalization & string;
    }
  | {
      type: "owa";
      /**
       * Order weights (one per criterion, normalised).
       */
      order_weights: number[];
    }
  | {
      type: "spotis";
    };
/**
 * A second normalisation of the transformed criteria TOPSIS applies over the candidate set
 * (pymcdm's normalisation functions on a profit column). Data-derived: adding or removing
 * candidates changes every score.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "TopsisNormalization".
 */
export type TopsisNormalization = "none" | "vector" | "min_max";
/**
 * How tied scores share ranks (pandas' `rank(method=…)` vocabulary). Listings keep a stable
 * order whatever the rule: ties are listed in input order.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Ties".
 */
export type Ties = "average" | "min" | "max" | "dense" | "first";
/**
 * What reading parcels does with ids that repeat (condo units stacked on one footprint, parcels
 * split into several polygons that kept one id).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "DuplicateIds".
 */
export type DuplicateIds = "refuse" | "suffix";
/**
 * One feature group of a spec.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "FeatureStep".
 */
export type FeatureStep =
  | {
      type: "shape";
    }
  | {
      type: "value";
      /**
       * Total value field.
       */
      total_field: string;
      /**
       * Land value field.
       */
      land_field?: string | null;
    }
  | {
      type: "zonal";
      /**
       * Raster.
       */
      raster: string;
      /**
       * 1-based band.
       */
      band?: number;
      /**
       * Statistics (exactextract names).
       */
      stats: string[];
      /**
       * Column prefix (default: raster file stem).
       */
      prefix?: string | null;
      /**
       * exactextract `min_coverage_frac`.
       */
      min_coverage_frac?: number;
    }
  | {
      type: "terrain";
      /**
       * DEM.
       */
      raster: string;
      /**
       * slope | slope_percent | aspect | hillshade | tri | tpi | roughness
       */
      product: string;
      /**
       * Statistics (aspect: `circular_mean` is the meaningful mean).
       */
      stats: string[];
      /**
       * Column prefix (default: the product).
       */
      prefix?: string | null;
      /**
       * Thresholds: adds `<prefix>_share_le_<t>` = area share with value ≤ t (buildable share).
       */
      share_below?: number[];
      /**
       * Terrain options.
       */
      options?: TerrainOptions;
    }
  | {
      type: "overlay";
      /**
       * Layer.
       */
      layer: LayerRef;
      /**
       * Class field (default: presence of the layer as a whole).
       */
      field?: string | null;
      /**
       * Column prefix.
       */
      prefix: string;
    }
  | {
      type: "proximity";
      /**
       * Layer.
       */
      layer: LayerRef;
      /**
       * Column prefix.
       */
      prefix: string;
      /**
       * Radius for the count, metres.
       */
      radius_m?: number | null;
    }
  | {
      type: "soils";
      /**
       * Map-unit polygons.
       */
      layer: LayerRef;
      /**
       * Map-unit key field.
       */
      mukey_field?: string;
      /**
       * SDA component table (CSV).
       */
      component_table?: string | null;
      /**
       * SDA map-unit table (CSV).
       */
      mapunit_table?: string | null;
      /**
       * SDA map-unit aggregates (`muaggatt` CSV: mukey and any columns), with the two tables
       * above: `soil_<column>` per parcel.
       */
      muaggatt_table?: string | null;
    }
  | {
      type: "soil_data_access";
      /**
       * The SDA REST endpoint (default: the public service).
       */
      url?: string | null;
      /**
       * `muaggatt` columns (default: slopegradwta, brockdepmin, wtdepannmin, aws0150wta,
       * hydclprs, flodfreqdcd).
       */
      muaggatt?: string[] | null;
      /**
       * Parcels per spatial request (default 200).
       */
      parcels_per_request?: number | null;
      /**
       * Seconds a request may take (default 120).
       */
      timeout_s?: number | null;
    }
  | {
      type: "spectral";
      /**
       * Band rasters by catalogue name (`N`, `R`, ...).
       */
      bands: {
        [k: string]: string;
      };
      /**
       * Index names.
       */
      indices: string[];
      /**
       * Statistics per index.
       */
      stats?: string[];
      /**
       * STAC item: scene metadata for provenance and the sensor scaling.
       */
      stac?: string | null;
      /**
       * SCL raster.
       */
      scl?: string | null;
      /**
       * QA_PIXEL raster.
       */
      qa_pixel?: string | null;
      /**
       * Sensor, masks, constants (the sensor defaults to the STAC item's).
       */
      imagery?: ImagerySettings | null;
    }
  | {
      type: "model";
      /**
       * Model file ([`crate::ml::lifecycle::Model`]).
       */
      path: string;
      /**
       * Output column name.
       */
      name: string;
      /**
       * For a classifier: the class whose probability is output (a label of the card's
       * classes, or a class code); default: class 1 of two.
       */
      class?: string | null;
      /**
       * Environment variable holding the HMAC key of a signed model.
       */
      hmac_key_env?: string | null;
      /**
       * Environment variable holding the AES-256 key (64 hex digits) of an encrypted model.
       */
      encryption_key_env?: string | null;
    };
/**
 * The 3×3 gradient of slope, aspect and hillshade (`gdaldem -alg`).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Gradient".
 */
export type Gradient = "horn" | "zevenbergen_thorne";
/**
 * The hillshade variant.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "HillshadeMode".
 */
export type HillshadeMode = "standard" | "combined" | "multidirectional" | "igor";
/**
 * The terrain ruggedness index variant.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "TriAlgorithm".
 */
export type TriAlgorithm = "riley" | "wilson";
/**
 * A layer reference with an optional GeoPackage layer name.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "LayerRef".
 */
export type LayerRef =
  | string
  | {
      /**
       * File.
       */
      path: string;
      /**
       * Layer name.
       */
      layer?: string | null;
    };
/**
 * A sensor, for band maps and reflectance scaling. As JSON: `{"sensor": "landsat89"}`, or for
 * Sentinel-2 `{"sensor": "sentinel2_l2a", "baseline": "04.00"}` (the processing baseline sets
 * the offset) or `{"sensor": "sentinel2_l2a", "offset": -1000}`; without either the offset is 0.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Sensor".
 */
export type Sensor =
  | {
      sensor: "sentinel2_l1c";
      offset?: number | null;
      baseline?: string | null;
    }
  | {
      sensor: "sentinel2_l2a";
      offset?: number | null;
      baseline?: string | null;
    }
  | {
      sensor: "landsat457";
    }
  | {
      sensor: "landsat89";
    }
  | {
      sensor: "reflectance";
    };
/**
 * An area of interest.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Aoi".
 */
export type Aoi =
  | {
      /**
       * Corners.
       *
       * @minItems 4
       * @maxItems 4
       */
      bbox: [number, number, number, number];
    }
  | {
      /**
       * Geometry object.
       */
      polygon: {
        [k: string]: unknown;
      };
    }
  | {
      point: {
        /**
         * `[x, y]`.
         *
         * @minItems 2
         * @maxItems 2
         */
        xy: [number, number];
        /**
         * Radius, metres.
         */
        radius_m: number;
      };
    };
/**
 * Hyper-parameters of a model family, tagged by `model` (default `random_forest`).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Params".
 */
export type Params =
  | {
      /**
       * Regression or classification.
       */
      task: Task;
      /**
       * Number of trees.
       */
      n_estimators?: number;
      /**
       * Features tried per split: a fraction of the features (0..1], default 1.0 for regression and
       * √p for classification (`None`).
       */
      max_features?: number | null;
      /**
       * Minimum samples in a leaf.
       */
      min_samples_leaf?: number;
      /**
       * Maximum depth (unlimited by default).
       */
      max_depth?: number | null;
      /**
       * Draw a bootstrap sample per tree.
       */
      bootstrap?: boolean;
      /**
       * Seed.
       */
      seed?: number;
      model?: "random_forest";
    }
  | {
      /**
       * Regression or classification.
       */
      task: Task;
      /**
       * Shrinkage of every tree.
       */
      learning_rate?: number;
      /**
       * Boosting iterations (trees per class).
       */
      max_iter?: number;
      /**
       * Leaves per tree.
       */
      max_leaf_nodes?: number;
      /**
       * Maximum depth (unlimited by default).
       */
      max_depth?: number | null;
      /**
       * Minimum samples in a leaf.
       */
      min_samples_leaf?: number;
      /**
       * L2 regularisation of the leaf values.
       */
      l2_regularization?: number;
      /**
       * Bins per feature (2..=255).
       */
      max_bins?: number;
      /**
       * Seed (sub-sample for the bin edges above 200,000 rows; the early-stopping split).
       */
      seed?: number;
      /**
       * Stop when the held-out loss stops improving: `"auto"` (scikit-learn's default: on above
       * 10,000 rows), `true` or `false`.
       */
      early_stopping?: EarlyStopping & string;
      /**
       * Share of the rows held out for early stopping (stratified by class for classification).
       */
      validation_fraction?: number;
      /**
       * Stop when none of the last `n_iter_no_change` iterations improved the held-out score by
       * more than `tol` over the one before them.
       */
      n_iter_no_change?: number;
      /**
       * Minimum improvement of the held-out score (the negative loss).
       */
      tol?: number;
      /**
       * Early-stopping score: `"loss"` (scikit-learn's default; the only one implemented).
       */
      scoring?: string;
      model: "gradient_boosting";
    }
  | {
      /**
       * Regression (ridge) or classification (logistic).
       */
      task: Task;
      /**
       * Ridge penalty (regression).
       */
      alpha?: number;
      /**
       * Inverse penalty (classification), scikit-learn's `C`.
       */
      C?: number;
      /**
       * Newton iterations at most (classification).
       */
      max_iter?: number;
      model: "linear";
    };
/**
 * What the forest predicts.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Task".
 */
export type Task = "regression" | "classification";
/**
 * scikit-learn's `early_stopping`: `"auto"` (on above 10,000 rows), `true` or `false`.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "EarlyStopping".
 */
export type EarlyStopping = "auto" | boolean;
/**
 * How values between two entries of the table are coloured.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ColorMode".
 */
export type ColorMode = "interpolate" | "nearest_entry" | "exact_entry";
/**
 * How weights are perturbed.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Perturbation".
 */
export type Perturbation =
  | {
      type: "one_at_a_time";
      /**
       * Relative change, e.g. 0.2.
       */
      delta: number;
    }
  | {
      type: "monte_carlo";
      /**
       * Number of runs.
       */
      runs: number;
      /**
       * Relative spread.
       */
      spread: number;
      /**
       * Seed.
       */
      seed: number;
    };
/**
 * How the search is sent.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "SearchMethod".
 */
export type SearchMethod = "POST" | "GET";
/**
 * Policy for a category not seen in training (as scikit-learn's `OneHotEncoder(handle_unknown=)`).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "UnseenCategory".
 */
export type UnseenCategory = "error" | "ignore";
/**
 * A file summary.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Info".
 */
export type Info =
  | ({
      kind: "raster";
    } & RasterInfo)
  | {
      kind: "vector";
      /**
       * Path.
       */
      path: string;
      /**
       * Driver name.
       */
      driver: string;
      /**
       * Every feature layer.
       */
      layers: LayerInfo[];
    };

/**
 * Configuration documents (snake_case keys, as in the files) and results (camelCase keys) of the landopp Node package. Generated from the Rust types by core/tests/binding_types.rs: do not edit.
 */
export interface Landopp {
  [k: string]: unknown;
}
/**
 * A declarative schema of a parcels table.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "TableSchema".
 */
export interface TableSchema {
  /**
   * The id column: must exist, with no null and no repeat.
   */
  id_field?: string | null;
  /**
   * The CRS the layer must be in (`EPSG:4326`, a WKT or PROJ string).
   */
  crs?: string | null;
  /**
   * Geometry rules (default: present and OGC-valid).
   */
  geometry?: GeometryRule;
  /**
   * Column rules.
   */
  columns?: ColumnRule[];
}
/**
 * What the geometries must be.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "GeometryRule".
 */
export interface GeometryRule {
  /**
   * No null or empty geometry (default true).
   */
  required?: boolean;
  /**
   * Allowed geometry types (`Polygon`, `MultiPolygon`, `Point`, ...; any when empty).
   */
  types?: string[];
  /**
   * Polygons must be OGC-valid (default true).
   */
  valid?: boolean;
}
/**
 * What one column must hold.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ColumnRule".
 */
export interface ColumnRule {
  /**
   * Column name.
   */
  name: string;
  /**
   * Expected type (any, when absent).
   */
  type?: ColumnType | null;
  /**
   * The column must exist (default true).
   */
  required?: boolean;
  /**
   * Nulls allowed (default true).
   */
  nullable?: boolean;
  /**
   * Smallest allowed value (numbers).
   */
  min?: number | null;
  /**
   * Largest allowed value (numbers).
   */
  max?: number | null;
  /**
   * The only allowed values (text columns).
   */
  values?: string[] | null;
  /**
   * No value repeats (nulls aside).
   */
  unique?: boolean;
}
/**
 * A scoring profile.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Profile".
 */
export interface Profile {
  /**
   * Schema version (1).
   */
  version: number;
  /**
   * Name.
   */
  name?: string;
  /**
   * Criteria.
   */
  criteria: Criterion[];
  /**
   * AHP weights (instead of direct weights).
   */
  ahp?: Ahp | null;
  /**
   * Constraints.
   */
  constraints?: Constraint[];
  /**
   * Aggregation.
   */
  method: Method;
  /**
   * Column with the parcel area in acres (for buildable acres; default `area_acres`).
   */
  area_column?: string;
  /**
   * How equal scores share a rank (default `min`).
   */
  ties?: Ties & string;
}
/**
 * One criterion.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Criterion".
 */
export interface Criterion {
  /**
   * Feature column.
   */
  column: string;
  /**
   * Transform to 0..1.
   */
  transform: Transform;
  /**
   * Direct weight (ignored when the profile has an AHP matrix).
   */
  weight?: number | null;
  /**
   * Display name (default: the column).
   */
  name?: string | null;
}
/**
 * An AHP pairwise comparison matrix (Saaty 1..9 and reciprocals), rows/columns in criteria order.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Ahp".
 */
export interface Ahp {
  /**
   * The n × n matrix.
   */
  matrix: number[][];
  /**
   * Accept a consistency ratio above 0.10.
   */
  allow_inconsistent?: boolean;
}
/**
 * A hard constraint (excludes the parcel, with a reason code) or, with `reduce_area_column`, a
 * partial constraint that removes that share of the parcel from its buildable area instead.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Constraint".
 */
export interface Constraint {
  /**
   * Reason code reported when it fires, e.g. `SLOPE_GT_15`.
   */
  code: string;
  /**
   * Feature column tested (hard constraints).
   */
  column?: string | null;
  /**
   * Operator.
   */
  op?: Op | null;
  /**
   * Threshold.
   */
  value?: number | null;
  /**
   * Partial constraint: a 0..1 share column (e.g. `sfha_in_share`) removed from the buildable area.
   */
  reduce_area_column?: string | null;
}
/**
 * A feature spec.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "FeatureSpec".
 */
export interface FeatureSpec {
  /**
   * Schema version (1).
   */
  version: number;
  /**
   * Parcels.
   */
  parcels: ParcelSource;
  /**
   * Projected working CRS for vector measurements (default: the parcels' CRS, or UTM).
   */
  work_crs?: string | null;
  /**
   * Steps, in output order.
   */
  features: FeatureStep[];
}
/**
 * Where the parcels come from.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ParcelSource".
 */
export interface ParcelSource {
  /**
   * Vector file.
   */
  path: string;
  /**
   * GeoPackage layer.
   */
  layer?: string | null;
  /**
   * Id field (default: feature id).
   */
  id_field?: string | null;
  /**
   * Repeated ids: `refuse` (default) or `suffix`.
   */
  duplicate_ids?: DuplicateIds & string;
}
/**
 * Options shared by the terrain products, with gdaldem's meaning. As JSON (feature specs, the
 * bindings): these snake_case keys, every one optional, plus gdaldem's `alg` (`"Horn"`,
 * `"ZevenbergenThorne"`, `"Riley"`, `"Wilson"`), which sets [`TerrainOptions::gradient`] or
 * [`TerrainOptions::tri`]; an unknown key is refused.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "TerrainOptions".
 */
export interface TerrainOptions {
  compute_edges?: boolean;
  scale?: number | null;
  z_factor?: number;
  azimuth?: number;
  altitude?: number;
  band?: number;
  gradient?: Gradient | null;
  hillshade?: HillshadeMode & string;
  tri?: TriAlgorithm | null;
  zero_for_flat?: boolean;
  trigonometric?: boolean;
  alg?: string | null;
}
/**
 * Serializable imagery settings (the `imagery` part of feature specs and binding options).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ImagerySettings".
 */
export interface ImagerySettings {
  /**
   * Sensor scaling (`{"sensor": "sentinel2_l2a", "offset": 0}`); default: values are reflectance.
   */
  sensor?: Sensor;
  /**
   * SCL classes to mask (default [`SCL_DEFAULT_MASK`]).
   */
  scl_masked?: number[] | null;
  /**
   * QA_PIXEL bits to mask (default [`QA_PIXEL_DEFAULT_BITS`]).
   */
  qa_bits?: number[] | null;
  /**
   * Constant overrides.
   */
  constants?: {
    [k: string]: number;
  };
}
/**
 * A search query.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Query".
 */
export interface Query {
  /**
   * Area of interest (none = everywhere).
   */
  aoi?: Aoi | null;
  /**
   * CRS of the AOI coordinates (default: the index CRS).
   */
  crs?: string | null;
  /**
   * Attribute filters (all must hold).
   */
  filters?: Filter[];
  /**
   * Include parcels excluded by hard constraints.
   */
  include_excluded?: boolean;
  /**
   * Sort column (`score` by default).
   */
  sort_by?: string | null;
  /**
   * Ascending order (default: descending).
   */
  ascending?: boolean;
  /**
   * Page size (default 100).
   */
  limit?: number;
  /**
   * Cursor from the previous page.
   */
  cursor?: string | null;
  /**
   * Include each hit's per-criterion explanation (default true).
   */
  explain?: boolean;
}
/**
 * An attribute filter.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Filter".
 */
export interface Filter {
  /**
   * Feature column (or `score`).
   */
  column: string;
  /**
   * Inclusive minimum.
   */
  min?: number | null;
  /**
   * Inclusive maximum.
   */
  max?: number | null;
  /**
   * Allowed category labels.
   */
  in?: string[] | null;
}
/**
 * Options of [`color_relief`].
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ColorReliefOptions".
 */
export interface ColorReliefOptions {
  /**
   * How values between entries are coloured.
   */
  mode?: ColorMode & string;
  /**
   * Add an alpha band (`-alpha`).
   */
  alpha?: boolean;
  /**
   * Band number of the input (1-based, as gdaldem `-b`; default 1).
   */
  band?: number;
}
/**
 * Options of [`SearchIndex::sensitivity`]:
 * `{"perturbation": {"type": "monte_carlo", "runs": 200, "spread": 0.2, "seed": 1}, "top_k": 10}`.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "SensitivityOptions".
 */
export interface SensitivityOptions {
  /**
   * How the weights are perturbed.
   */
  perturbation: Perturbation;
  /**
   * How many of the best parcels to follow (default 10).
   */
  top_k?: number;
}
/**
 * When to retrain and how to judge the candidate.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "RetrainPolicy".
 */
export interface RetrainPolicy {
  /**
   * Retrain once this many outcomes were observed after the production model was created.
   */
  min_new_records?: number;
  /**
   * ...or once a feature's PSI between parcels observed before and after exceeds this.
   */
  max_psi?: number | null;
  /**
   * Share of the observed parcels held out to compare the two models (by a hash of the id).
   */
  holdout_fraction?: number;
  /**
   * Comparison metric (default `r2`, or `balanced_accuracy` for classes).
   */
  metric?: string | null;
  /**
   * Salt of the hold-out hash.
   */
  salt?: string;
}
/**
 * Deterministic A/B assignment: SHA-256 of `salt` + parcel id → B when its first 8 bytes, as a
 * fraction of 2⁶⁴, fall below `share_b`; the same parcel always gets the same model.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "AbSplit".
 */
export interface AbSplit {
  /**
   * Salt (change it to reshuffle).
   */
  salt: string;
  /**
   * Share of parcels routed to model B (0..1).
   */
  share_b: number;
  /**
   * Version of model A.
   */
  model_a: string;
  /**
   * Version of model B.
   */
  model_b: string;
}
/**
 * A STAC item search: what [`search`] asks for.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "StacSearch".
 */
export interface StacSearch {
  /**
   * The API's root (`https://earth-search.aws.element84.com/v1`) or its `/search` endpoint.
   */
  url: string;
  /**
   * Collection ids (`sentinel-2-l2a`, `landsat-c2-l2`, ...); empty: all.
   */
  collections?: string[];
  /**
   * `[west, south, east, north]` in WGS 84 degrees (west > east crosses the antimeridian).
   *
   * @minItems 4
   * @maxItems 4
   */
  bbox?: [number, number, number, number] | null;
  /**
   * A GeoJSON geometry in WGS 84 the items must intersect (instead of `bbox`).
   */
  intersects?: {
    [k: string]: unknown;
  };
  /**
   * An RFC 3339 date-time or interval: `2020-02-19T00:00:00Z`, `2020-01-01/2020-03-31`,
   * `2020-01-01T00:00:00Z/..`.
   */
  datetime?: string | null;
  /**
   * Items whose scene-wide `eo:cloud_cover` is above this percentage (or missing) are left
   * out.
   */
  max_cloud_cover?: number | null;
  /**
   * Sort fields, `-` for descending: `["properties.eo:cloud_cover", "-properties.datetime"]`
   * (a bare property name is taken under `properties.`).
   */
  sortby?: string[];
  /**
   * Items per page asked of the server (1..=10,000; default 100).
   */
  limit?: number;
  /**
   * Stop after this many items (default 10,000).
   */
  max_items?: number;
  /**
   * POST (default) or GET.
   */
  method?: SearchMethod & string;
  /**
   * Seconds a request may take, connection included (default 120; 0.1..=3600). A server
   * that does not answer in time is a `REMOTE` error, not asked again.
   */
  timeout_s?: number;
  /**
   * A file to keep the pages in as they arrive: a search that fails leaves it, and the same
   * search run again with it goes on after the last page it holds (removed on success).
   */
  resume_file?: string | null;
}
/**
 * Which mask cells count as cloud for [`best_scenes`].
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "SceneChoiceOptions".
 */
export interface SceneChoiceOptions {
  /**
   * SCL classes that are not a clear view (default: no data, defective, cloud shadow,
   * clouds, cirrus, snow: `[0, 1, 3, 8, 9, 10, 11]`).
   */
  scl_classes?: number[];
  /**
   * QA_PIXEL bits that are not a clear view (default: fill, dilated cloud, cirrus, cloud,
   * shadow, snow: `[0, 1, 2, 3, 4, 5]`).
   */
  qa_pixel_bits?: number[];
}
/**
 * An ArcGIS REST feature layer query.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ArcGisQuery".
 */
export interface ArcGisQuery {
  /**
   * The layer's URL: `https://host/arcgis/rest/services/Parcels/FeatureServer/0` (or
   * `MapServer/0`).
   */
  url: string;
  /**
   * SQL `where` clause (default `1=1`: every feature).
   */
  where?: string;
  /**
   * Fields to return (default: all).
   */
  out_fields?: string[];
  /**
   * `[west, south, east, north]` in WGS 84 degrees: only features intersecting it.
   *
   * @minItems 4
   * @maxItems 4
   */
  bbox?: [number, number, number, number] | null;
  /**
   * Features per page (default: the layer's `maxRecordCount`, at most 2,000).
   */
  page_size?: number | null;
  /**
   * Stop with an error past this many features (default 1,000,000).
   */
  max_features?: number;
  /**
   * Seconds a request may take (default 120).
   */
  timeout_s?: number;
  /**
   * A file to keep the pages in as they arrive: a fetch that fails leaves it, and the same
   * query run again with it goes on after the last page it holds (removed on success).
   */
  resume_file?: string | null;
}
/**
 * An OGC API – Features collection query.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "OgcQuery".
 */
export interface OgcQuery {
  /**
   * The collection's items URL (`https://host/ogc/collections/parcels/items`), or the API's
   * root with `collection`.
   */
  url: string;
  /**
   * The collection id, when `url` is the API's root.
   */
  collection?: string | null;
  /**
   * `[west, south, east, north]` in WGS 84 degrees (CRS84).
   *
   * @minItems 4
   * @maxItems 4
   */
  bbox?: [number, number, number, number] | null;
  /**
   * Items per page (default 1,000).
   */
  limit?: number;
  /**
   * Stop with an error past this many features (default 1,000,000).
   */
  max_features?: number;
  /**
   * Seconds a request may take (default 120).
   */
  timeout_s?: number;
  /**
   * A file to keep the pages in as they arrive: a fetch that fails leaves it, and the same
   * query run again with it goes on after the last page it holds (removed on success).
   */
  resume_file?: string | null;
}
/**
 * A Soil Data Access request for parcels.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "SdaQuery".
 */
export interface SdaQuery {
  /**
   * The SDA REST endpoint (default: the public service,
   * `https://sdmdataaccess.sc.egov.usda.gov/tabular/post.rest`).
   */
  url?: string;
  /**
   * Parcels per spatial request (default 200; a chunk SDA refuses is split).
   */
  parcels_per_request?: number;
  /**
   * `muaggatt` columns to fetch (default: slopegradwta, brockdepmin, wtdepannmin, aws0150wta,
   * hydclprs, flodfreqdcd). Numeric ones become area-weighted means per parcel, the others
   * the class with the largest area share.
   */
  muaggatt?: string[];
  /**
   * Seconds a request may take (default 120).
   */
  timeout_s?: number;
}
/**
 * Every violation of a schema.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ValidationReport".
 */
export interface ValidationReport {
  /**
   * Rows checked.
   */
  rows: number;
  /**
   * The violations, table-wide first, then by row.
   */
  violations: Violation[];
  /**
   * Violations past [`MAX_VIOLATIONS`] counted but not listed.
   */
  notListed: number;
}
/**
 * One broken rule.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Violation".
 */
export interface Violation {
  /**
   * 0-based row, `None` for a rule about the whole table (a missing column, the CRS).
   */
  row?: number | null;
  /**
   * The row's feature id in the source.
   */
  fid?: number | null;
  /**
   * The column, when the rule is about one.
   */
  column?: string | null;
  /**
   * The rule: `missing_column`, `type`, `null`, `min`, `max`, `not_allowed`, `duplicate`,
   * `crs`, `geometry_missing`, `geometry_type`, `geometry_invalid`.
   */
  rule: string;
  /**
   * What is wrong (numbers and reasons; text values are not repeated).
   */
  message: string;
}
/**
 * One page of results.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Page".
 */
export interface Page {
  /**
   * Hits in order.
   */
  hits: Hit[];
  /**
   * Parcels matching the query (all pages).
   */
  total: number;
  /**
   * Cursor of the next page, if any.
   */
  nextCursor?: string | null;
}
/**
 * One result.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Hit".
 */
export interface Hit {
  /**
   * Parcel id.
   */
  id: string;
  /**
   * Score (NaN without a profile).
   */
  score: number;
  /**
   * Rank among all parcels (the profile's tie rule; NaN without a profile).
   */
  rank: number;
  /**
   * Excluded by a hard constraint.
   */
  excluded: boolean;
  /**
   * Constraint codes that fired.
   */
  reasons: string[];
  /**
   * Value of the sort column.
   */
  sortValue: number;
  /**
   * Per-criterion explanation.
   */
  explanation: Contribution[];
}
/**
 * One criterion's part of a parcel's explanation.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Contribution".
 */
export interface Contribution {
  /**
   * Criterion name.
   */
  criterion: string;
  /**
   * Raw feature value (NaN when missing).
   */
  raw: number;
  /**
   * Category label, for categorical columns.
   */
  label?: string | null;
  /**
   * Transformed value in 0..1.
   */
  transformed: number;
  /**
   * Normalised weight.
   */
  weight: number;
  /**
   * This criterion's additive share of the score, for the methods whose score is a sum
   * ([`Method::is_additive`]: weighted sum w·t, OWA its order weight × t, SPOTIS w − w·|1 − t|);
   * NaN for weighted product and TOPSIS, which are explained by `factor` and by the gaps.
   */
  contribution: number;
  /**
   * True when the raw value was missing (scored 0).
   */
  missing: boolean;
  /**
   * Weighted product: this criterion's factor t^w (the score is the product of the factors).
   */
  factor?: number | null;
  /**
   * TOPSIS: the weighted normalised value v = w · t / ‖t‖ over the candidate set.
   */
  weightedValue?: number | null;
  /**
   * TOPSIS: (v − v⁺)², the squared gap to the ideal (best) value of this criterion.
   */
  gapToIdeal?: number | null;
  /**
   * TOPSIS: (v − v⁻)², the squared gap to the anti-ideal (worst) value.
   */
  gapToAntiIdeal?: number | null;
}
/**
 * A candidate site: adjacent parcels that pass a filter.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Site".
 */
export interface Site {
  /**
   * Parcel ids, best score first.
   */
  parcelIds: string[];
  /**
   * Σ `area_acres` of the parcels.
   */
  acres: number;
  /**
   * Area-weighted mean score.
   */
  score: number;
}
/**
 * Sensitivity of the ranking to the weights.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Sensitivity".
 */
export interface Sensitivity {
  /**
   * `top_k` used.
   */
  topK: number;
  /**
   * Number of weight sets evaluated.
   */
  runs: number;
  /**
   * One entry per parcel.
   */
  parcels: Stability[];
}
/**
 * Rank stability of one parcel under weight perturbation.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Stability".
 */
export interface Stability {
  /**
   * Parcel id.
   */
  id: string;
  /**
   * Rank with the profile's weights.
   */
  rank: number;
  /**
   * Best (lowest) rank seen.
   */
  bestRank: number;
  /**
   * Worst rank seen.
   */
  worstRank: number;
  /**
   * Share of runs in which the parcel stayed in the top k.
   */
  pTopK: number;
}
/**
 * What a model is and how it was made.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ModelCard".
 */
export interface ModelCard {
  /**
   * The model's own version (semantic version chosen by the caller).
   */
  modelVersion: string;
  /**
   * Creation time, seconds since the Unix epoch (UTC).
   */
  createdAtUnix: number;
  /**
   * Feature names, in the order the model expects them.
   */
  features: string[];
  /**
   * Target column.
   */
  target: string;
  /**
   * SHA-256 of the training data (features as little-endian f64, then the target).
   */
  trainingDataSha256: string;
  /**
   * Validation metrics by name (e.g. `r2_spatial_5fold`); an undefined one is NaN (`null` in
   * the file, read back as NaN: a card with a NaN metric saved, and then would not load).
   */
  metrics: {
    [k: string]: number;
  };
  /**
   * Hyper-parameters.
   */
  hyperParameters: Params;
  /**
   * landopp version that trained it.
   */
  libraryVersion: string;
  /**
   * Categorical features: the categories seen in training, in one-hot order (the model sees
   * one 0/1 column per category).
   */
  categories?: {
    [k: string]: string[];
  };
  /**
   * What prediction does with a category not seen in training.
   */
  unseenCategory?: UnseenCategory & string;
  /**
   * Labels of the target's classes (class code = position), for a categorical target.
   */
  classes?: string[] | null;
}
/**
 * A prediction explained: `bias + Σ contributions = value` (per class for classification).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Explained".
 */
export interface Explained {
  /**
   * The prediction (regression) or the probability of each class.
   */
  value: number[];
  /**
   * The forest's mean at the root (training-sample mean / class shares).
   */
  bias: number[];
  /**
   * Per feature (and output): the change of the node value along the decision paths (trees;
   * averaged over a forest's trees, summed over boosting's), or coefficient × standardised
   * value (linear models).
   */
  contributions: number[][];
  /**
   * What `value` is: `"value"` (regression), `"probability"` (per class, forests),
   * `"log_odds"` (boosting and logistic models: of class 1 for two classes, else per class).
   */
  scale: string;
}
/**
 * A drift report.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "DriftReport".
 */
export interface DriftReport {
  /**
   * PSI threshold used (0.2: "significant shift" in credit-risk practice).
   */
  psiThreshold: number;
  /**
   * KS threshold used.
   */
  ksThreshold: number;
  /**
   * Per column.
   */
  columns: ColumnDrift[];
  /**
   * Names of the drifted columns.
   */
  drifted: string[];
}
/**
 * Drift of one column.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ColumnDrift".
 */
export interface ColumnDrift {
  /**
   * Column (feature name, or `prediction`).
   */
  name: string;
  /**
   * Population stability index.
   */
  psi: number;
  /**
   * Kolmogorov–Smirnov statistic (max CDF distance).
   */
  ks: number;
  /**
   * PSI or KS above its threshold.
   */
  drifted: boolean;
}
/**
 * A raster summary.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "RasterInfo".
 */
export interface RasterInfo {
  /**
   * Path.
   */
  path: string;
  /**
   * Driver name.
   */
  driver: string;
  /**
   * Columns.
   */
  width: number;
  /**
   * Rows.
   */
  height: number;
  /**
   * Data type (GDAL name).
   */
  dtype: string;
  /**
   * CRS as `EPSG:code` or PROJ string.
   */
  crs?: string | null;
  /**
   * CRS name.
   */
  crsName?: string | null;
  /**
   * Geotransform.
   *
   * @minItems 6
   * @maxItems 6
   */
  geotransform: [number, number, number, number, number, number];
  /**
   * `(xmin, ymin, xmax, ymax)`.
   *
   * @minItems 4
   * @maxItems 4
   */
  bounds: [number, number, number, number];
  /**
   * Nodata.
   */
  nodata?: number | null;
  /**
   * `(rows, cols)` of the native blocks.
   *
   * @minItems 2
   * @maxItems 2
   */
  block: [number, number];
  /**
   * Compression.
   */
  compression: string;
  /**
   * Overview sizes `(width, height)`, finest first.
   */
  overviews: [number, number][];
  /**
   * Bands.
   */
  bands: BandInfo[];
}
/**
 * One band of a raster summary.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "BandInfo".
 */
export interface BandInfo {
  /**
   * 1-based band number.
   */
  band: number;
  /**
   * Description, if any.
   */
  description?: string | null;
  /**
   * Minimum valid value.
   */
  min: number;
  /**
   * Maximum valid value.
   */
  max: number;
  /**
   * Mean of valid values.
   */
  mean: number;
  /**
   * Count of valid (non-nodata, non-NaN) cells.
   */
  validCount: number;
}
/**
 * A vector layer summary.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "LayerInfo".
 */
export interface LayerInfo {
  /**
   * Layer name.
   */
  name: string;
  /**
   * Declared geometry type.
   */
  geometryType: string;
  /**
   * Number of features.
   */
  featureCount: number;
  /**
   * CRS as `EPSG:code` or PROJ string.
   */
  crs?: string | null;
  /**
   * CRS name.
   */
  crsName?: string | null;
  /**
   * `(xmin, ymin, xmax, ymax)`.
   *
   * @minItems 4
   * @maxItems 4
   */
  bounds?: [number, number, number, number] | null;
  /**
   * Fields.
   */
  fields: FieldInfo[];
}
/**
 * One field of a vector layer summary.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "FieldInfo".
 */
export interface FieldInfo {
  /**
   * Name.
   */
  name: string;
  /**
   * Type (`int`, `float`, `text`, `bool`, `binary`).
   */
  type: string;
}
/**
 * What a search found.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "StacResults".
 */
export interface StacResults {
  /**
   * The items, in the server's order (cloud-cover filter applied).
   */
  items: ImageryRecord[];
  /**
   * Pages read.
   */
  pages: number;
  /**
   * Items the server says match (`numberMatched` or `context.matched`), when it says.
   */
  matched?: number | null;
  /**
   * Items the server returned that the cloud-cover filter left out.
   */
  filteredOut: number;
}
/**
 * A scene found by a search: what the `satellite_imagery` table holds, plus the assets. Read
 * back with snake_case or camelCase keys (the Node package returns camelCase).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "ImageryRecord".
 */
export interface ImageryRecord {
  /**
   * Scene id.
   */
  sceneId: string;
  /**
   * Capture date-time (ISO 8601).
   */
  datetime: string;
  /**
   * Scene-wide cloud cover, percent (`eo:cloud_cover`).
   */
  cloudCover?: number | null;
  /**
   * Ground sample distance of the finest band, metres.
   */
  resolutionM?: number | null;
  /**
   * Platform (`sentinel-2a`, `landsat-8`, ...).
   */
  platform: string;
  /**
   * Sentinel-2 processing baseline, when given.
   */
  processingBaseline?: string | null;
  /**
   * Collection id.
   */
  collection?: string | null;
  /**
   * The item's own URL (its `self` link), when given: the record's `image_url`.
   */
  itemUrl?: string | null;
  /**
   * Footprint bounding box, WGS 84.
   *
   * @minItems 4
   * @maxItems 4
   */
  bbox?: [number, number, number, number] | null;
  /**
   * Footprint geometry (GeoJSON, WGS 84).
   */
  geometry?: {
    [k: string]: unknown;
  };
  /**
   * Assets by key.
   */
  assets: {
    [k: string]: Asset;
  };
}
/**
 * One asset of an item.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "Asset".
 */
export interface Asset {
  /**
   * Absolute href (a relative one is resolved against the item's own link).
   */
  href: string;
  /**
   * Media type (`image/tiff; application=geotiff; profile=cloud-optimized`, ...).
   */
  mediaType?: string | null;
  /**
   * Roles (`data`, `thumbnail`, `cloud`, ...).
   */
  roles: string[];
  /**
   * The band's common name (`red`, `nir`, ...) or name, from `eo:bands`.
   */
  band?: string | null;
  /**
   * Ground sample distance, metres.
   */
  gsd?: number | null;
}
/**
 * The best scene of every parcel.
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "SceneChoice".
 */
export interface SceneChoice {
  /**
   * `clear[i][p]`: the share of parcel `p`'s area item `i` sees clear (0..=1; cells outside
   * the scene count as not clear).
   */
  clear: number[][];
  /**
   * Per parcel, the item with the largest clear share (ties: the later capture, then the
   * earlier item); `None` when no item sees any of it clear.
   */
  best: (number | null)[];
}
/**
 * One SDA answer: column names and rows of text (SDA sends every value as text or null).
 *
 * This interface was referenced by `Landopp`'s JSON-Schema
 * via the `definition` "SdaTable".
 */
export interface SdaTable {
  /**
   * Column names.
   */
  columns: string[];
  /**
   * Rows, each as long as `columns`.
   */
  rows: (string | null)[][];
}
