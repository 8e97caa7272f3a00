//! One interface over every model family: [`Params`] (hyper-parameters, JSON-tagged by family) → [`Estimator`] (a fitted model).

use super::*;

/// Hyper-parameters of any model family: JSON `{"model": "random_forest" | "gradient_boosting" |
/// "linear", ...the family's parameters}`; without `"model"`, a random forest.
///
/// ```
/// use landopp::ml::Params;
/// let p: Params = serde_json::from_str(r#"{"model": "gradient_boosting", "task": "regression", "max_iter": 50}"#).unwrap();
/// assert_eq!(p.family(), "gradient_boosting");
/// let bad = serde_json::from_str::<Params>(r#"{"model": "svm", "task": "regression"}"#);
/// assert!(bad.is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// Random forest.
    RandomForest(ForestParams),
    /// Histogram gradient boosting.
    GradientBoosting(boost::BoostParams),
    /// Ridge or logistic regression.
    Linear(linear::LinearParams),
}

impl Params {
    /// The family's name, as in JSON.
    pub fn family(&self) -> &'static str {
        match self {
            Params::RandomForest(_) => "random_forest",
            Params::GradientBoosting(_) => "gradient_boosting",
            Params::Linear(_) => "linear",
        }
    }
    /// Regression or classification.
    pub fn task(&self) -> Task {
        match self {
            Params::RandomForest(p) => p.task,
            Params::GradientBoosting(p) => p.task,
            Params::Linear(p) => p.task,
        }
    }
    /// Check every parameter before any work.
    pub fn validate(&self) -> Result<()> {
        match self {
            Params::RandomForest(p) => p.validate(),
            Params::GradientBoosting(p) => p.validate(),
            Params::Linear(p) => p.validate(),
        }
    }
    /// Parse JSON or TOML text, then validate (errors name the problem).
    pub fn parse(text: &str) -> Result<Self> {
        <Self as crate::config::Config>::from_text(text)
    }
}

impl From<ForestParams> for Params {
    fn from(p: ForestParams) -> Self {
        Params::RandomForest(p)
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut v = match self {
            Params::RandomForest(p) => serde_json::to_value(p),
            Params::GradientBoosting(p) => serde_json::to_value(p),
            Params::Linear(p) => serde_json::to_value(p),
        }
        .map_err(serde::ser::Error::custom)?;
        v["model"] = self.family().into();
        v.serialize(s)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Params {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Params".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // each family's parameters inline, with the `model` tag among their properties (they refuse
        // unknown keys)
        let family = |name: &str, mut params: schemars::Schema, default: bool| {
            if let Some(o) = params.as_object_mut() {
                if let Some(p) = o.get_mut("properties").and_then(|p| p.as_object_mut()) {
                    p.insert("model".into(), serde_json::json!({"type": "string", "const": name}));
                }
                if !default {
                    if let Some(r) = o.entry("required").or_insert_with(|| serde_json::json!([])).as_array_mut() {
                        r.push("model".into());
                    }
                }
            }
            params
        };
        let forest = ForestParams::json_schema(g);
        let boost = <boost::BoostParams as schemars::JsonSchema>::json_schema(g);
        let linear = <linear::LinearParams as schemars::JsonSchema>::json_schema(g);
        schemars::json_schema!({
            "description": "Hyper-parameters of a model family, tagged by `model` (default `random_forest`).",
            "anyOf": [
                family("random_forest", forest, true),
                family("gradient_boosting", boost, false),
                family("linear", linear, false)
            ]
        })
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut v = serde_json::Value::deserialize(d)?;
        let family = match v.as_object_mut().and_then(|o| o.remove("model")) {
            None => "random_forest".to_string(),
            Some(serde_json::Value::String(s)) => s,
            Some(o) => return Err(D::Error::custom(format!("\"model\" must be a string, got {o}"))),
        };
        let e = D::Error::custom;
        match family.as_str() {
            "random_forest" => serde_json::from_value(v).map(Params::RandomForest).map_err(e),
            "gradient_boosting" => serde_json::from_value(v).map(Params::GradientBoosting).map_err(e),
            "linear" => serde_json::from_value(v).map(Params::Linear).map_err(e),
            o => Err(D::Error::custom(format!("unknown model {o:?}: random_forest, gradient_boosting or linear"))),
        }
    }
}

/// A fitted model of any family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Estimator {
    /// Random forest.
    RandomForest(Forest),
    /// Histogram gradient boosting.
    GradientBoosting(boost::Boosting),
    /// Ridge or logistic regression.
    Linear(linear::Linear),
}

impl Estimator {
    /// Check a model read from a file: every size, index and link consistent with the others,
    /// so prediction can neither index out of bounds nor loop (`INVALID_INPUT` naming the
    /// inconsistency; [`lifecycle::Model::load`] reports it as `FORMAT` of the file).
    pub fn validate(&self) -> Result<()> {
        self.check_structure().map_err(|m| Error::InvalidInput(format!("inconsistent model: {m}")))
    }

    pub(crate) fn check_structure(&self) -> std::result::Result<(), String> {
        let bad = Err;
        let p = self.n_features();
        if p == 0 {
            return bad("a model of 0 features".into());
        }
        match self {
            Estimator::RandomForest(m) => {
                if m.trees.is_empty() {
                    return bad("a forest without trees".into());
                }
                m.trees.iter().try_for_each(|t| t.validate(p, m.n_classes.max(1)))
            }
            Estimator::GradientBoosting(m) => m.validate_structure(|t| t.validate(p, 1)),
            Estimator::Linear(m) => m.validate_structure(),
        }
    }
    /// Fit a model of the family `params` names.
    pub fn fit(d: &Dataset, params: &Params) -> Result<Estimator> {
        Ok(match params {
            Params::RandomForest(p) => Estimator::RandomForest(Forest::fit(d, p)?),
            Params::GradientBoosting(p) => Estimator::GradientBoosting(boost::Boosting::fit(d, p)?),
            Params::Linear(p) => Estimator::Linear(linear::Linear::fit(d, p)?),
        })
    }
    /// Predictions for rows of `x` (row-major): the value (regression) or the probability of each
    /// class (`n × n_classes`).
    pub fn predict(&self, x: &[f64]) -> Result<Vec<f64>> {
        match self {
            Estimator::RandomForest(m) => m.predict(x),
            Estimator::GradientBoosting(m) => m.predict(x),
            Estimator::Linear(m) => m.predict(x),
        }
    }
    /// Predictions for the rows of an `n × p` matrix in any memory layout (read in place when it is
    /// row-major): `n × 1` values (regression) or `n × n_classes` probabilities.
    pub fn predict_array(&self, x: ndarray::ArrayView2<'_, f64>) -> Result<ndarray::Array2<f64>> {
        if x.ncols() != self.n_features() {
            return Err(Error::InvalidInput(format!(
                "rows of {} features for a model of {}",
                x.ncols(),
                self.n_features()
            )));
        }
        let x = x.as_standard_layout(); // a view when already row-major
        let out = self.predict(x.as_slice().expect("standard layout"))?;
        let k = if x.nrows() == 0 { self.n_classes().max(1) } else { out.len() / x.nrows() };
        ndarray::Array2::from_shape_vec((x.nrows(), k), out).map_err(|e| Error::Internal(e.to_string()))
    }
    /// Every row of an `n × p` matrix (any memory layout; read in place when row-major) explained.
    pub fn explain_array(&self, x: ndarray::ArrayView2<'_, f64>) -> Result<Vec<Explained>> {
        let x = x.as_standard_layout(); // a view when already row-major
        self.explain_rows(x.as_slice().expect("standard layout"), x.ncols())
    }
    /// Every row of `x` (`p` features each, the model's) explained.
    pub fn explain_rows(&self, x: &[f64], p: usize) -> Result<Vec<Explained>> {
        if p != self.n_features() {
            return Err(Error::InvalidInput(format!("rows of {p} features for a model of {}", self.n_features())));
        }
        check_rows(x, p)?;
        x.chunks(p).map(|r| self.explain(r)).collect()
    }
    /// One row's prediction explained (`bias + Σ contributions = value`, see [`Explained::scale`]).
    pub fn explain(&self, row: &[f64]) -> Result<Explained> {
        match self {
            Estimator::RandomForest(m) => m.explain(row),
            Estimator::GradientBoosting(m) => m.explain(row),
            Estimator::Linear(m) => m.explain(row),
        }
    }
    /// Number of features.
    pub fn n_features(&self) -> usize {
        match self {
            Estimator::RandomForest(m) => m.p,
            Estimator::GradientBoosting(m) => m.p,
            Estimator::Linear(m) => m.p,
        }
    }
    /// Number of classes (0 for regression).
    pub fn n_classes(&self) -> usize {
        match self {
            Estimator::RandomForest(m) => m.n_classes,
            Estimator::GradientBoosting(m) => m.n_classes,
            Estimator::Linear(m) => m.n_classes,
        }
    }
    /// Widen to `n` classes (a training fold may lack the highest class codes).
    pub(super) fn set_n_classes(&mut self, n: usize) {
        match self {
            Estimator::RandomForest(m) => m.n_classes = m.n_classes.max(n),
            Estimator::GradientBoosting(m) => m.set_n_classes(n),
            Estimator::Linear(m) => m.set_n_classes(n),
        }
    }
}
