//! The land the server answers about: parcels and their features in a search index, and the
//! scores of every served profile — all computed at start, immutable afterwards (a what-if
//! rescoring scores a copy of the profile for one request and leaves these untouched).

use crate::config::DataConfig;
use landopp::pipeline::FeatureSpec;
use landopp::scoring::{score, Profile, ScoreResult};
use landopp::search::SearchIndex;
use landopp::tiles::{TileCoverage, TileId};
use landopp::{Parcels, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The presets bundled with landopp (`core/presets`), by name.
pub const PRESETS: [(&str, &str); 4] = [
    ("agriculture_landcover", include_str!("../../../core/presets/agriculture_landcover.json")),
    ("agriculture", include_str!("../../../core/presets/agriculture.json")),
    ("residential", include_str!("../../../core/presets/residential.json")),
    ("solar_utility", include_str!("../../../core/presets/solar_utility.json")),
];

/// The demo's area: the Node example service's (the bundled Slovenian sample, MIT).
const DEMO_AREA: &str = include_str!("../../node-search-service/sample-area.json");

/// A served profile with its scores over every parcel.
#[derive(Debug)]
pub struct Scored {
    /// Name the API uses (`profile=`): the file stem or the preset's name.
    pub name: String,
    /// The profile.
    pub profile: Profile,
    /// Its scores.
    pub scores: ScoreResult,
}

/// Everything loaded at start.
#[derive(Debug)]
pub struct Land {
    /// Geometries (in a metric CRS) and features.
    pub index: SearchIndex,
    /// Rows sorted by parcel id: the id → row lookup (4 bytes a parcel, built in parallel).
    by_id: Vec<u32>,
    /// Served profiles; the first is the default.
    pub profiles: Vec<Scored>,
    /// What-if scores computed lately (canonical profile + change → scores), newest last.
    what_ifs: Mutex<Vec<(String, Arc<ScoreResult>)>>,
    /// Held while a what-if is scored: requests for the same change (a map's tiles, its list)
    /// wait for the first instead of each scoring every parcel.
    scoring: Mutex<()>,
    /// Rank stability of each profile (computed on first request).
    stability: Mutex<BTreeMap<String, Arc<landopp::scoring::Sensitivity>>>,
    /// [`Land::detail_zoom`] (computed on first request).
    detail_zoom: std::sync::OnceLock<u32>,
    /// Score tiles' coverages, least recently used first, and the bytes they hold.
    coverages: Mutex<(CoverageQueue, usize)>,
}

/// Score tiles' coverages, least recently used first.
type CoverageQueue = std::collections::VecDeque<(TileId, Arc<TileCoverage>)>;

/// Memory kept for score tiles' coverages (which parcel paints which pixel: computed once a
/// tile, repainted for every profile and what-if).
pub const COVERAGE_BYTES: usize = 128 << 20;
/// At most this many coverages kept (a lookup scans them).
const COVERAGES_KEPT: usize = 1024;

/// At most this many parcels a vector tile at the zooms a map draws them as vectors.
pub const DETAIL_PARCELS: usize = 2_000;

/// What-if scores kept (each holds a score, rank and flag per parcel: ~17 MB a million).
const WHAT_IFS_KEPT: usize = 4;

/// A what-if change of a served profile: other weights and / or constraints left out.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIf {
    /// New weights for some criteria, by name or column.
    #[serde(default)]
    pub weights: Option<BTreeMap<String, f64>>,
    /// Constraint codes to leave out.
    #[serde(default)]
    pub without_constraints: Vec<String>,
}

impl WhatIf {
    /// True when nothing changes.
    pub fn is_none(&self) -> bool {
        self.weights.as_ref().is_none_or(BTreeMap::is_empty) && self.without_constraints.is_empty()
    }
}

impl Land {
    /// The bundled sample area (`fixtures/`, or `data` when given): features from the demo's
    /// spec, every bundled preset whose criteria the features cover.
    pub fn demo(data: Option<&Path>) -> Result<Land> {
        let dir = match data {
            Some(d) => d.to_path_buf(),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"),
        };
        let area: serde_json::Value =
            serde_json::from_str(DEMO_AREA).map_err(|e| landopp::Error::Internal(format!("bundled demo area: {e}")))?;
        let mut spec = FeatureSpec::parse(&area["spec"].to_string())?;
        spec.resolve_paths(&dir);
        let presets: Vec<String> = PRESETS.iter().map(|p| p.0.to_string()).collect();
        Self::load(&spec, &[], &presets, false)
    }

    /// The configured data: a spec or parcels with their feature table, profile files and
    /// presets; every profile must score.
    pub fn from_config(c: &DataConfig) -> Result<Land> {
        match (&c.spec, &c.parcels, &c.features) {
            (Some(spec), _, _) => Self::load(&FeatureSpec::read(spec)?, &c.profiles, &c.presets, true),
            (None, Some(parcels), features) => {
                let t0 = std::time::Instant::now();
                let mut parcels = Parcels::read(parcels, c.layer.as_deref(), c.id_field.as_deref())?;
                tracing::info!(ms = t0.elapsed().as_millis() as u64, parcels = parcels.len(), "parcels read");
                let mut table = match features {
                    Some(f) => landopp::FeatureTable::read_csv(f)?,
                    None => landopp::FeatureTable::new(parcels.ids.clone()),
                };
                for name in &c.attributes {
                    let col = parcels.columns.iter().find(|col| col.name == *name).ok_or_else(|| {
                        landopp::Error::not_found(
                            "attribute",
                            name.clone(),
                            parcels.columns.iter().map(|c| c.name.clone()).collect(),
                        )
                    })?;
                    table.add_attribute(col)?;
                }
                // the geometries go to the index; the attributes were copied into the table
                parcels.columns.clear();
                Self::assemble(parcels, table, &c.profiles, &c.presets, true)
            }
            _ => Err(landopp::Error::InvalidInput("data: give spec, or parcels with features".into())),
        }
    }

    fn load(spec: &FeatureSpec, files: &[PathBuf], presets: &[String], strict: bool) -> Result<Land> {
        spec.validate()?;
        let p = &spec.parcels;
        let parcels = Parcels::read_with(&p.path, p.layer.as_deref(), p.id_field.as_deref(), p.duplicate_ids)?;
        let features = landopp::pipeline::run_steps(&parcels, spec, &|_| {})?;
        Self::assemble(parcels, features, files, presets, strict)
    }

    fn assemble(
        parcels: Parcels,
        features: landopp::FeatureTable,
        files: &[PathBuf],
        presets: &[String],
        strict: bool,
    ) -> Result<Land> {
        Self::assemble_with(parcels, features, Vec::new(), files, presets, strict)
    }

    fn assemble_with(
        parcels: Parcels,
        features: landopp::FeatureTable,
        stored: Vec<(String, Profile)>,
        files: &[PathBuf],
        presets: &[String],
        strict: bool,
    ) -> Result<Land> {
        // served by the file's stem or the preset's name (a URL-friendly key; the profile's own
        // `name` is its display title); profiles stored with the data first
        let mut profiles: Vec<(String, Profile)> = stored;
        for f in files {
            let key = f.file_stem().map_or_else(|| "profile".into(), |s| s.to_string_lossy().into_owned());
            profiles.push((key, Profile::read(f)?));
        }
        for name in presets {
            let text = PRESETS.iter().find(|p| p.0 == name).map(|p| p.1).ok_or_else(|| {
                landopp::Error::not_found("preset", name.clone(), PRESETS.iter().map(|p| p.0.to_string()).collect())
            })?;
            profiles.push((name.clone(), Profile::parse(text)?));
        }
        let t0 = std::time::Instant::now();
        let mut scored: Vec<Scored> = Vec::new();
        for (name, p) in profiles {
            if scored.iter().any(|s| s.name == name) {
                return Err(landopp::Error::InvalidInput(format!("two profiles are served as {name:?}")));
            }
            match score(&features, &p) {
                Ok(scores) => scored.push(Scored { name, profile: p, scores }),
                // the demo serves the presets its features can score; a configured one must
                Err(e) if !strict => tracing::info!(profile = %name, reason = %e, "preset not served"),
                Err(e) => return Err(e),
            }
        }
        tracing::info!(ms = t0.elapsed().as_millis() as u64, profiles = scored.len(), "profiles scored");
        let t0 = std::time::Instant::now();
        let ids = features.ids_shared();
        if ids.len() > u32::MAX as usize {
            return Err(landopp::Error::InvalidInput(format!(
                "{} parcels: at most {} are served",
                ids.len(),
                u32::MAX
            )));
        }
        // the id lookup is sorted beside the index build
        let (by_id, index) = rayon::join(
            || {
                use rayon::prelude::*;
                let mut by_id: Vec<u32> = (0..ids.len() as u32).collect();
                by_id.par_sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]));
                by_id
            },
            || SearchIndex::from_parcels(parcels, features, None),
        );
        let index = index?;
        tracing::info!(ms = t0.elapsed().as_millis() as u64, "search index and id lookup built");
        Ok(Land {
            index,
            by_id,
            profiles: scored,
            what_ifs: Mutex::default(),
            scoring: Mutex::default(),
            stability: Mutex::default(),
            detail_zoom: std::sync::OnceLock::new(),
            coverages: Mutex::default(),
        })
    }

    /// The land of the PostgreSQL store's latest import: parcels (their own CRS), features and
    /// the profiles stored with them, plus the configured profile files and presets; with the
    /// data version it is. `EMPTY` before the first import.
    pub fn from_database(
        store: &crate::store::Store,
        files: &[PathBuf],
        presets: &[String],
    ) -> std::result::Result<(Land, i64), String> {
        let t0 = std::time::Instant::now();
        let lib = |e: landopp::Error| format!("[{}] {e}", e.code());
        let (layer, columns, stored, version) = store
            .run_sync(|c| {
                let crate::store::Conn::Pg(c) = c else {
                    return Err(crate::store::StoreError::Postgres("the store is not PostgreSQL".into()));
                };
                // one snapshot: the dataset row and the parcels agree
                let mut tx = c.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start()?;
                let Some(d) = tx.query_opt(
                    "SELECT version, srid, crs, columns::text, profiles::text FROM landopp_datasets
                     ORDER BY version DESC LIMIT 1",
                    &[],
                )?
                else {
                    return Ok(None);
                };
                let (version, srid, crs, columns, profiles): (i64, i32, Option<String>, String, String) =
                    (d.get(0), d.get(1), d.get(2), d.get(3), d.get(4));
                let mut ids = Vec::new();
                let mut geoms = Vec::new();
                let mut values = Vec::new();
                let mut labels = Vec::new();
                let mut status = Vec::new();
                for r in tx.query(
                    "SELECT parcel_id, ST_AsBinary(geom_native), feature_values, feature_labels, geometry_status
                     FROM land_parcels ORDER BY parcel_id",
                    &[],
                )? {
                    ids.push(r.get::<_, String>(0));
                    geoms.push(r.get::<_, Vec<u8>>(1));
                    values.push(r.get::<_, Option<Vec<f64>>>(2).unwrap_or_default());
                    labels.push(r.get::<_, Option<Vec<Option<String>>>>(3).unwrap_or_default());
                    status.push(r.get::<_, String>(4));
                }
                tx.commit()?;
                Ok(Some(((srid, crs, ids, geoms, values, labels, status), columns, profiles, version)))
            })
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                "[EMPTY] the database holds no parcels yet: run `landopp-server import` first".to_string()
            })?;
        let ((srid, crs, ids, geoms, values, labels, status), columns_json, profiles_json) = (layer, columns, stored);
        let crs = match (srid, crs) {
            (s, _) if s > 0 => Some(landopp::Crs::from_epsg(s as u32).map_err(lib)?),
            (_, Some(w)) => Some(landopp::Crs::from_wkt(&w).map_err(lib)?),
            _ => None,
        };
        let n = ids.len();
        if n == 0 {
            return Err("[EMPTY] the database's latest import holds no parcels".into());
        }
        use rayon::prelude::*;
        // the geometries as the import stored them (validated then: their status comes along)
        let geometries = geoms
            .par_iter()
            .map(|b| match landopp::vector::wkb::read(b)? {
                landopp::geo::Geometry::MultiPolygon(m) => Ok(m),
                landopp::geo::Geometry::Polygon(p) => Ok(landopp::geo::MultiPolygon(vec![p])),
                _ => Err(landopp::Error::InvalidGeometry("a stored parcel is not a polygon".into())),
            })
            .collect::<Result<Vec<_>>>()
            .map_err(lib)?;
        let status = status
            .into_iter()
            .map(|s| match s.as_str() {
                "valid" => landopp::GeometryStatus::Valid,
                "empty" => landopp::GeometryStatus::Empty,
                other => landopp::GeometryStatus::Invalid(other.trim_start_matches("invalid: ").to_string()),
            })
            .collect();
        let parcels = Parcels { ids, geometries, crs, columns: Vec::new(), status, name: "land_parcels".into() };
        // the features: the arrays in the dataset's column order (numbers, then labels)
        let columns: Vec<serde_json::Value> = serde_json::from_str(&columns_json).map_err(|e| e.to_string())?;
        let mut table = landopp::FeatureTable::new(parcels.ids.clone());
        let (mut vi, mut li) = (0usize, 0usize);
        for c in &columns {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            let meta = landopp::ColumnMeta { source: text("source"), unit: text("unit"), method: text("method") };
            if c["categorical"].as_bool().unwrap_or(false) {
                let col = labels.iter().map(|l| l.get(li).cloned().flatten()).collect();
                table.add_categorical(name, col, meta).map_err(lib)?;
                li += 1;
            } else {
                let col = values.iter().map(|v| v.get(vi).copied().unwrap_or(f64::NAN)).collect();
                table.add_column(name, col, meta).map_err(lib)?;
                vi += 1;
            }
        }
        let stored: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&profiles_json).map_err(|e| e.to_string())?;
        let stored = stored
            .into_iter()
            .map(|(k, v)| Ok((k, Profile::parse(&v.to_string())?)))
            .collect::<Result<Vec<_>>>()
            .map_err(lib)?;
        tracing::info!(ms = t0.elapsed().as_millis() as u64, parcels = n, version, "read from the database");
        let land = Self::assemble_with(parcels, table, stored, files, presets, true).map_err(lib)?;
        Ok((land, version))
    }

    /// The row of a parcel id.
    pub fn row(&self, id: &str) -> Option<usize> {
        let ids = self.index.features().ids();
        self.by_id.binary_search_by(|&r| ids[r as usize].as_str().cmp(id)).ok().map(|k| self.by_id[k] as usize)
    }

    /// The scores of a served profile changed by `change` (`None` when nothing changes: the
    /// profile's own scores apply). The last few are kept, and one change is scored once however
    /// many requests ask for it at the same time.
    pub fn what_if(&self, profile: Option<&str>, change: &WhatIf) -> Result<Option<Arc<ScoreResult>>> {
        if change.is_none() {
            return Ok(None);
        }
        let s = self.profile(profile)?;
        let mut codes = change.without_constraints.clone();
        codes.sort();
        codes.dedup();
        let key = serde_json::json!({"p": s.name, "w": change.weights, "c": codes}).to_string();
        let cached = |k: &str| -> Option<Arc<ScoreResult>> {
            let v = self.what_ifs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            v.iter().find(|(key, _)| key == k).map(|(_, r)| r.clone())
        };
        if let Some(r) = cached(&key) {
            return Ok(Some(r));
        }
        let _one = self.scoring.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = cached(&key) {
            return Ok(Some(r));
        }
        // a request abandoned while it waited does not score
        landopp::interrupt::check("what-if scoring")?;
        let mut p = match &change.weights {
            Some(w) if !w.is_empty() => s.profile.with_weights(w)?,
            _ => s.profile.clone(),
        };
        if !codes.is_empty() {
            p = p.without_constraints(&codes)?;
        }
        let r = Arc::new(score(self.index.features(), &p)?);
        let mut v = self.what_ifs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        v.push((key, r.clone()));
        if v.len() > WHAT_IFS_KEPT {
            v.remove(0);
        }
        Ok(Some(r))
    }
    /// The coverage of a 256-pixel score tile ([`SearchIndex::tile_coverage`]), from the cache
    /// of the last [`COVERAGE_BYTES`] or computed (call off the async threads).
    pub fn tile_coverage(&self, tile: TileId) -> Result<Arc<TileCoverage>> {
        let lock = || self.coverages.lock().map_err(|_| landopp::Error::Internal("coverage cache poisoned".into()));
        {
            let mut c = lock()?;
            if let Some(k) = c.0.iter().position(|(t, _)| *t == tile) {
                let hit = c.0.remove(k).ok_or_else(|| landopp::Error::Internal("coverage cache".into()))?;
                let cov = hit.1.clone();
                c.0.push_back(hit);
                return Ok(cov);
            }
        }
        let cov = Arc::new(self.index.tile_coverage(tile, 256)?);
        // an empty tile costs nothing to recompute, a huge one would push out all the others
        if cov.bytes() == 0 || cov.bytes() > COVERAGE_BYTES / 4 {
            return Ok(cov);
        }
        let mut c = lock()?;
        if !c.0.iter().any(|(t, _)| *t == tile) {
            c.1 += cov.bytes();
            c.0.push_back((tile, cov.clone()));
            while (c.1 > COVERAGE_BYTES || c.0.len() > COVERAGES_KEPT) && c.0.len() > 1 {
                if let Some((_, old)) = c.0.pop_front() {
                    c.1 -= old.bytes();
                }
            }
        }
        Ok(cov)
    }

    /// The first zoom at which no vector tile holds more than [`DETAIL_PARCELS`] parcels
    /// ([`SearchIndex::detail_zoom`]) when already computed.
    pub fn detail_zoom_known(&self) -> Option<u32> {
        self.detail_zoom.get().copied()
    }

    /// [`Land::detail_zoom`] computed (a sort of every parcel the first time: call off the
    /// async threads).
    pub fn detail_zoom(&self) -> Result<u32> {
        if let Some(z) = self.detail_zoom.get() {
            return Ok(*z);
        }
        let z = self.index.detail_zoom(DETAIL_PARCELS)?;
        Ok(*self.detail_zoom.get_or_init(|| z))
    }

    /// Rank stability of a served profile's parcels when each weight moves by ±20 % in turn
    /// (the library's one-at-a-time sensitivity, top 10), computed on first request.
    pub fn stability(&self, profile: Option<&str>) -> Result<Arc<landopp::scoring::Sensitivity>> {
        let s = self.profile(profile)?;
        let mut m = self.stability.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = m.get(&s.name) {
            return Ok(r.clone());
        }
        let how = landopp::scoring::Perturbation::OneAtATime { delta: 0.2 };
        let r = Arc::new(landopp::scoring::sensitivity(&s.scores, &s.profile, how, 10)?);
        m.insert(s.name.clone(), r.clone());
        Ok(r)
    }

    /// A served profile by name (`None`: the default).
    pub fn profile(&self, name: Option<&str>) -> Result<&Scored> {
        match name {
            None => self.profiles.first().ok_or_else(|| landopp::Error::InvalidInput("no profile is served".into())),
            Some(n) => self.profiles.iter().find(|p| p.name == n).ok_or_else(|| {
                landopp::Error::not_found("profile", n, self.profiles.iter().map(|p| p.name.clone()).collect())
            }),
        }
    }
}
