//! Conversions between JS values and core types: JSON, ids, raster bands, feature tables lent as typed arrays.

use crate::features::{FeatureColumnJs, FeatureTableJs};
use landopp::vector::{self};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A JSON value returned to JS as a plain object.
pub struct Json(pub(crate) serde_json::Value);

impl TypeName for Json {
    fn type_name() -> &'static str {
        "Object"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> napi::Result<napi::sys::napi_value> {
        unsafe { serde_json::Value::to_napi_value(env, val.0) }
    }
}

/// Parcel ids as they cross from JS (`Array<string>`): one `napi_get_value_string_utf8` per id
/// into a stack buffer — ids are short — where napi-rs's `String` asks for the length first and
/// copies second. 1 M ids: ~180 ms of a `buildSearchIndex` call's synchronous part before.
pub struct Ids(pub Vec<String>);

impl TypeName for Ids {
    fn type_name() -> &'static str {
        "Array<string>"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl ValidateNapiValue for Ids {
    unsafe fn validate(env: napi::sys::napi_env, v: napi::sys::napi_value) -> napi::Result<napi::sys::napi_value> {
        unsafe { <Vec<String> as ValidateNapiValue>::validate(env, v) }
    }
}

impl FromNapiValue for Ids {
    unsafe fn from_napi_value(env: napi::sys::napi_env, v: napi::sys::napi_value) -> napi::Result<Self> {
        use napi::sys;
        let fail = |what: String| napi::Error::new(napi::Status::InvalidArg, what);
        let mut len = 0u32;
        if unsafe { sys::napi_get_array_length(env, v, &mut len) } != sys::Status::napi_ok {
            return Err(fail("ids: expected an array of strings".into()));
        }
        // a sparse array may claim 2^32 - 1 elements: grow as they are read
        let mut out = Vec::with_capacity((len as usize).min(1 << 16));
        let mut buf = [0u8; 256];
        let mut one = |i: u32| -> napi::Result<String> {
            let mut e = std::ptr::null_mut();
            if unsafe { sys::napi_get_element(env, v, i, &mut e) } != sys::Status::napi_ok {
                return Err(fail(format!("ids[{i}]: cannot be read")));
            }
            let mut n = 0usize;
            let st = unsafe { sys::napi_get_value_string_utf8(env, e, buf.as_mut_ptr().cast(), buf.len(), &mut n) };
            if st != sys::Status::napi_ok {
                return Err(fail(format!("ids[{i}]: expected a string")));
            }
            // `n` bytes were written and the terminating NUL fits after them: the whole string
            if n + 1 < buf.len() {
                String::from_utf8(buf[..n].to_vec()).map_err(|_| fail(format!("ids[{i}]: not UTF-8")))
            } else {
                unsafe { String::from_napi_value(env, e) }
            }
        };
        // element handles are released a block at a time (1 M handles in the call's own scope
        // would stay alive until it returns); the scope is closed on every path
        for b0 in (0..len).step_by(4096) {
            let mut scope: sys::napi_handle_scope = std::ptr::null_mut();
            if unsafe { sys::napi_open_handle_scope(env, &mut scope) } != sys::Status::napi_ok {
                return Err(fail("ids: cannot open a handle scope".into()));
            }
            let r = (b0..(b0 + 4096).min(len)).try_for_each(|i| one(i).map(|id| out.push(id)));
            unsafe { sys::napi_close_handle_scope(env, scope) };
            r?;
        }
        Ok(Ids(out))
    }
}

impl ToNapiValue for Ids {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> napi::Result<napi::sys::napi_value> {
        unsafe { Vec::<String>::to_napi_value(env, val.0) }
    }
}

/// A count, size or index from JS. Taken as a JS number (napi's `u32` conversion wraps: `-1`
/// becomes 4294967295 and `NaN` 0) and checked here: a whole number from 0 to 2^53 - 1.
pub(crate) fn whole(v: f64, what: &str) -> landopp::Result<usize> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        Ok(v as usize)
    } else {
        Err(landopp::Error::InvalidInput(format!("{what} must be a whole number ≥ 0, got {v}")))
    }
}

/// An optional whole number from JS, or the core's default when it is absent.
pub(crate) fn whole_or(v: Option<f64>, default: usize, what: &str) -> landopp::Result<usize> {
    v.map_or(Ok(default), |v| whole(v, what))
}

/// A band's cells as the typed array of its data type: `Uint8Array` (Byte), `Int8Array`,
/// `Int16Array`, `Uint16Array`, `Int32Array`, `Uint32Array`, `Float32Array`, `Float64Array`.
pub type Cells =
    Either8<Float64Array, Float32Array, Uint16Array, Int16Array, Uint8Array, Int8Array, Int32Array, Uint32Array>;

#[napi(object)]
pub struct RasterBand {
    /// Data type name (GDAL's: Byte, Int8, Int16, UInt16, Int32, UInt32, Float32, Float64).
    pub dtype: String,
    /// Cells, row-major, in the typed array of `dtype` (nodata cells keep their value).
    #[napi(
        ts_type = "Float64Array | Float32Array | Uint16Array | Int16Array | Uint8Array | Int8Array | Int32Array | Uint32Array"
    )]
    pub data: Cells,
    pub description: Option<String>,
}

#[napi(object)]
pub struct RasterResult {
    pub width: u32,
    pub height: u32,
    /// GDAL geotransform.
    pub transform: Vec<f64>,
    pub crs: Option<String>,
    pub nodata: Option<f64>,
    pub bands: Vec<RasterBand>,
}

/// A band's cells, row-major, moved into the typed array of its type.
pub(crate) fn cells(b: landopp::BandData) -> Cells {
    use landopp::BandData as B;
    match b {
        B::F64(a) => Either8::A(Float64Array::new(row_major(a))),
        B::F32(a) => Either8::B(Float32Array::new(row_major(a))),
        B::U16(a) => Either8::C(Uint16Array::new(row_major(a))),
        B::I16(a) => Either8::D(Int16Array::new(row_major(a))),
        B::U8(a) => Either8::E(Uint8Array::new(row_major(a))),
        B::I8(a) => Either8::F(Int8Array::new(row_major(a))),
        B::I32(a) => Either8::G(Int32Array::new(row_major(a))),
        B::U32(a) => Either8::H(Uint32Array::new(row_major(a))),
    }
}

/// The cells of `a` in row-major order, without a copy when `a` is already laid out so.
pub(crate) fn row_major<T: Clone>(a: ndarray::Array2<T>) -> Vec<T> {
    let n = a.len();
    if a.is_standard_layout() {
        let (v, off) = a.into_raw_vec_and_offset();
        if v.len() == n {
            return v;
        }
        let o = off.unwrap_or(0);
        return v[o..o + n].to_vec();
    }
    a.iter().cloned().collect()
}

pub(crate) fn raster_js(mut r: landopp::Raster) -> RasterResult {
    let (width, height) = (r.width() as u32, r.height() as u32);
    let (transform, crs, nodata) = (r.transform.0.to_vec(), r.crs.as_ref().map(|c| c.to_user_string()), r.nodata);
    let names = std::mem::take(&mut r.band_names);
    let bands = r
        .into_bands()
        .into_iter()
        .zip(names)
        .map(|(b, description)| RasterBand { dtype: b.dtype().gdal_name().to_string(), data: cells(b), description })
        .collect();
    RasterResult { width, height, transform, crs, nodata, bands }
}

/// A JS band's cells as the core's borrowed view, in their type.
pub(crate) fn view(c: &Cells) -> landopp::BandView<'_> {
    use landopp::BandView as V;
    match c {
        Either8::A(a) => V::F64(a),
        Either8::B(a) => V::F32(a),
        Either8::C(a) => V::U16(a),
        Either8::D(a) => V::I16(a),
        Either8::E(a) => V::U8(a),
        Either8::F(a) => V::I8(a),
        Either8::G(a) => V::I32(a),
        Either8::H(a) => V::U32(a),
    }
}

/// An in-memory raster from JS: one typed array per band (row-major, `width × height` cells),
/// a GDAL geotransform, an optional CRS and nodata. The arrays are read off the JS thread while
/// the call runs: do not write to them until its Promise settles.
#[napi(object)]
pub struct RasterInput {
    pub width: f64,
    pub height: f64,
    /// GDAL geotransform `[x0, dx, rx, y0, ry, dy]`.
    pub transform: Vec<f64>,
    pub crs: Option<String>,
    pub nodata: Option<f64>,
    /// One typed array per band, kept in its type (a `Uint16Array` Sentinel-2 band stays u16:
    /// the spectral kernel's fast integer path, a quarter of the memory of a `Float64Array`).
    #[napi(
        ts_type = "Array<Float64Array | Float32Array | Uint16Array | Int16Array | Uint8Array | Int8Array | Int32Array | Uint32Array>"
    )]
    pub bands: Vec<Cells>,
}

/// A raster argument: a path, or typed arrays from JS read on the worker thread (the call's
/// Promise settles before the caller may write to them again), so a large in-memory raster
/// is not copied on the JS thread and its errors reject with the core's codes.
pub enum RasterSource {
    Path(String),
    Js(RasterInput),
    Taken,
}

impl RasterSource {
    pub(super) fn from_js(v: Either<String, RasterInput>) -> napi::Result<Self> {
        Ok(match v {
            Either::A(p) => RasterSource::Path(p),
            Either::B(r) => RasterSource::Js(r),
        })
    }

    /// A raster from JS typed arrays, each band copied into the core's own (in its type).
    fn from_input(r: RasterInput) -> landopp::Result<landopp::Raster> {
        let g = r.grid()?;
        let bands = r.bands.iter().map(|b| view(b).to_band(g.height, g.width)).collect::<landopp::Result<Vec<_>>>()?;
        landopp::Raster::new(bands, g.transform, g.crs, r.nodata)
    }

    pub(super) fn load(self) -> landopp::Result<landopp::Raster> {
        match self {
            RasterSource::Path(p) => landopp::Raster::read(p),
            RasterSource::Js(r) => Self::from_input(r),
            RasterSource::Taken => Err(landopp::Error::InvalidInput("raster already used".into())),
        }
    }
}

/// Polygons from JS: a vector file path (with its layer) or a GeoJSON FeatureCollection object.
pub(crate) fn parcels_from_js(
    v: serde_json::Value,
    layer: Option<&str>,
    id_field: Option<&str>,
    duplicate_ids: Option<&str>,
) -> landopp::Result<landopp::Parcels> {
    let dup = landopp::vector::DuplicateIds::parse_or_default(duplicate_ids)?;
    match v {
        serde_json::Value::String(path) => landopp::Parcels::read_with(&path, layer, id_field, dup),
        v => {
            let layer = vector::geojson::parse(&v.to_string(), "geojson", std::path::Path::new("<geojson>"))?;
            landopp::Parcels::from_layer_with(layer, id_field, dup)
        }
    }
}

/// A JS `Float64Array` lent to the core without copying (napi-rs keeps a reference to it, released
/// on the JS thread whenever the last holder drops).
pub(crate) struct JsColumn(Float64Array);

impl std::fmt::Debug for JsColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Float64Array({})", self.0.len())
    }
}

impl landopp::ColumnStore for JsColumn {
    fn as_slice(&self) -> &[f64] {
        &self.0
    }
}

/// How numeric columns reach the core.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Lend {
    /// Borrowed in place for one call (the caller must not write to the arrays until it settles).
    Borrow,
    /// Copied (in parallel), for objects kept in Rust across calls.
    Copy,
}

pub(crate) fn table_from_js(table: FeatureTableJs, lend: Lend) -> landopp::Result<landopp::FeatureTable> {
    columns_into_table(std::sync::Arc::new(table.ids.0), table.columns, lend)
}

/// A feature table over `ids` from JS columns.
pub(crate) fn columns_into_table(
    ids: std::sync::Arc<Vec<String>>,
    columns: Vec<FeatureColumnJs>,
    lend: Lend,
) -> landopp::Result<landopp::FeatureTable> {
    use rayon::prelude::*;
    let copy = |c: &FeatureColumnJs| lend == Lend::Copy && c.categories.is_none();
    // numeric columns to copy are copied out of JS memory in parallel (the JS thread waits, briefly)
    let slices: Vec<&[f64]> = columns.iter().map(|c| if copy(c) { &c.values[..] } else { &[][..] }).collect();
    let mut owned: Vec<Vec<f64>> = slices.par_iter().map(|v| v.to_vec()).collect();
    let mut t = landopp::FeatureTable::from_shared_ids(ids);
    for (k, c) in columns.into_iter().enumerate() {
        let copied = copy(&c);
        match c.categories {
            Some(cats) => t.add_coded(c.name, &c.values, cats, Default::default())?,
            None if copied => t.add_column(c.name, std::mem::take(&mut owned[k]), Default::default())?,
            None => t.add_values(c.name, landopp::Values::from_store(JsColumn(c.values)), Default::default())?,
        }
    }
    Ok(t)
}

/// A configuration (profile, feature spec, model parameters) as JS gives it: an object (read
/// directly by serde, no JSON text), or a string — a file name when it names an existing file,
/// else JSON or TOML text (the core's one rule).
pub(crate) fn config_source(v: serde_json::Value) -> landopp::config::ConfigSource {
    match v {
        serde_json::Value::String(s) => landopp::config::ConfigSource::text_or_file(s),
        v => landopp::config::ConfigSource::Value(v),
    }
}

/// A result as JSON text, in Node's key case ([`Camel`]).
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> landopp::Result<String> {
    serde_json::to_string(&Camel(v)).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
}

/// A result as a JSON value, in Node's key case ([`Camel`]).
pub(crate) fn to_value<T: serde::Serialize + ?Sized>(v: &T) -> landopp::Result<serde_json::Value> {
    serde_json::to_value(Camel(v)).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
}

/// Serializes `T` with every struct field name in camelCase (`top_k` → `topK`): the one key case of
/// everything Node returns. Map keys are the user's (feature, criterion and column names, parcel
/// ids) and pass unchanged, as do enum variant names, which are values.
pub(crate) struct Camel<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: serde::Serialize + ?Sized> serde::Serialize for Camel<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(camel::Ser(s))
    }
}

/// `snake_case` → `camelCase`, once per distinct field name and thread (field names are
/// `&'static str` in serde's struct protocol — a few hundred in the library — so the renamed ones
/// are leaked once, looked up by address without a lock: a search page renames ~1,000 fields).
fn camel_name(key: &'static str) -> &'static str {
    use std::cell::RefCell;
    use std::collections::HashMap;
    if !key.contains('_') {
        return key;
    }
    thread_local! {
        static NAMES: RefCell<HashMap<(usize, usize), &'static str>> = RefCell::new(HashMap::new());
    }
    NAMES.with_borrow_mut(|names| *names.entry((key.as_ptr() as usize, key.len())).or_insert_with(|| camel_leaked(key)))
}

/// The camelCase form of `key`, leaked once per process (several threads share it).
fn camel_leaked(key: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static ALL: Mutex<Option<HashMap<&'static str, &'static str>>> = Mutex::new(None);
    let mut all = ALL.lock().unwrap_or_else(|e| e.into_inner());
    all.get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| Box::leak(landopp::config::camel_case(key).into_boxed_str()))
}

/// The serializer adapter behind [`Camel`]: forwards everything to the wrapped serializer and
/// wraps every nested value again, renaming struct fields on the way.
mod camel {
    use super::{camel_name, Camel};
    use serde::ser::{self, Serialize};

    pub(super) struct Ser<S>(pub(super) S);
    pub(super) struct Wrap<C>(C);

    macro_rules! forward {
        ($($f:ident($t:ty)),*) => {$(
            fn $f(self, v: $t) -> Result<S::Ok, S::Error> { self.0.$f(v) }
        )*};
    }

    impl<S: ser::Serializer> ser::Serializer for Ser<S> {
        type Ok = S::Ok;
        type Error = S::Error;
        type SerializeSeq = Wrap<S::SerializeSeq>;
        type SerializeTuple = Wrap<S::SerializeTuple>;
        type SerializeTupleStruct = Wrap<S::SerializeTupleStruct>;
        type SerializeTupleVariant = Wrap<S::SerializeTupleVariant>;
        type SerializeMap = Wrap<S::SerializeMap>;
        type SerializeStruct = Wrap<S::SerializeStruct>;
        type SerializeStructVariant = Wrap<S::SerializeStructVariant>;

        forward!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_i128(i128),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_u128(u128),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_char(char),
            serialize_str(&str),
            serialize_bytes(&[u8]),
            serialize_unit_struct(&'static str)
        );

        fn serialize_none(self) -> Result<S::Ok, S::Error> {
            self.0.serialize_none()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
            self.0.serialize_some(&Camel(v))
        }
        fn serialize_unit(self) -> Result<S::Ok, S::Error> {
            self.0.serialize_unit()
        }
        fn serialize_unit_variant(self, name: &'static str, i: u32, variant: &'static str) -> Result<S::Ok, S::Error> {
            self.0.serialize_unit_variant(name, i, variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, v: &T) -> Result<S::Ok, S::Error> {
            self.0.serialize_newtype_struct(name, &Camel(v))
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            name: &'static str,
            i: u32,
            variant: &'static str,
            v: &T,
        ) -> Result<S::Ok, S::Error> {
            self.0.serialize_newtype_variant(name, i, variant, &Camel(v))
        }
        fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
            self.0.serialize_seq(len).map(Wrap)
        }
        fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
            self.0.serialize_tuple(len).map(Wrap)
        }
        fn serialize_tuple_struct(
            self,
            name: &'static str,
            len: usize,
        ) -> Result<Self::SerializeTupleStruct, S::Error> {
            self.0.serialize_tuple_struct(name, len).map(Wrap)
        }
        fn serialize_tuple_variant(
            self,
            name: &'static str,
            i: u32,
            variant: &'static str,
            len: usize,
        ) -> Result<Self::SerializeTupleVariant, S::Error> {
            self.0.serialize_tuple_variant(name, i, variant, len).map(Wrap)
        }
        fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
            self.0.serialize_map(len).map(Wrap)
        }
        fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeStruct, S::Error> {
            self.0.serialize_struct(name, len).map(Wrap)
        }
        fn serialize_struct_variant(
            self,
            name: &'static str,
            i: u32,
            variant: &'static str,
            len: usize,
        ) -> Result<Self::SerializeStructVariant, S::Error> {
            self.0.serialize_struct_variant(name, i, variant, len).map(Wrap)
        }
        fn is_human_readable(&self) -> bool {
            self.0.is_human_readable()
        }
    }

    macro_rules! elements {
        ($($tr:ident :: $f:ident),*) => {$(
            impl<C: ser::$tr> ser::$tr for Wrap<C> {
                type Ok = C::Ok;
                type Error = C::Error;
                fn $f<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), C::Error> {
                    self.0.$f(&Camel(v))
                }
                fn end(self) -> Result<C::Ok, C::Error> {
                    self.0.end()
                }
            }
        )*};
    }
    elements!(
        SerializeSeq::serialize_element,
        SerializeTuple::serialize_element,
        SerializeTupleStruct::serialize_field,
        SerializeTupleVariant::serialize_field
    );

    impl<C: ser::SerializeMap> ser::SerializeMap for Wrap<C> {
        type Ok = C::Ok;
        type Error = C::Error;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), C::Error> {
            // the user's key, unchanged
            self.0.serialize_key(k)
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), C::Error> {
            self.0.serialize_value(&Camel(v))
        }
        fn end(self) -> Result<C::Ok, C::Error> {
            self.0.end()
        }
    }

    macro_rules! fields {
        ($($tr:ident),*) => {$(
            impl<C: ser::$tr> ser::$tr for Wrap<C> {
                type Ok = C::Ok;
                type Error = C::Error;
                fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), C::Error> {
                    self.0.serialize_field(camel_name(key), &Camel(v))
                }
                fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                    self.0.skip_field(camel_name(key))
                }
                fn end(self) -> Result<C::Ok, C::Error> {
                    self.0.end()
                }
            }
        )*};
    }
    fields!(SerializeStruct, SerializeStructVariant);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Inner {
        psi_threshold: f64,
        by_feature: std::collections::BTreeMap<String, Vec<Option<Inner2>>>,
    }
    #[derive(serde::Serialize)]
    struct Inner2 {
        excluded_by: &'static str,
        x: u8,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        OneAtATime { top_k: u8 },
    }

    #[test]
    fn struct_fields_are_camel_case_and_user_keys_stay() {
        let v = Inner {
            psi_threshold: 0.2,
            by_feature: [("slope_mean".to_string(), vec![Some(Inner2 { excluded_by: "flood_zone", x: 1 }), None])]
                .into(),
        };
        let j = to_value(&v).unwrap();
        let want = serde_json::json!({
            "psiThreshold": 0.2,
            "byFeature": {"slope_mean": [{"excludedBy": "flood_zone", "x": 1}, null]}
        });
        assert_eq!(j, want);
        assert_eq!(to_json(&v).unwrap(), serde_json::to_string(&j).unwrap());
        assert_eq!(
            to_value(&Kind::OneAtATime { top_k: 3 }).unwrap(),
            serde_json::json!({"one_at_a_time": {"topK": 3}})
        );
        assert_eq!((camel_name("a_b_c"), camel_name("plain"), camel_name("_private")), ("aBC", "plain", "_private"));
    }
}
