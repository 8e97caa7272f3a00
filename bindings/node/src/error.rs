//! Core errors as JS errors whose `code` is the core's stable code.

use napi::Env;

/// A core error as a JS error whose `code` is the landopp code.
pub(crate) fn js_err(e: &landopp::Error) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

/// Reject an AsyncTask with a JS error carrying `code` (napi keeps the JS object as is).
pub(crate) fn reject_with_code(env: &Env, e: landopp::Error) -> napi::Error {
    let js = napi::JsError::from(js_err(&e)).into_unknown(*env);
    napi::Error::from(js)
}

/// Core work on the JS thread: errors become JS errors with the core's `code`, and a panic an
/// `INTERNAL` one instead of aborting the process (AsyncTasks wrap their work the same way).
pub(crate) fn guard<T>(env: &Env, f: impl FnOnce() -> landopp::Result<T>) -> napi::Result<T> {
    landopp::error::catch_panic(f).map_err(|e| reject_with_code(env, e))
}
