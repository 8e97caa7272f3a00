//! napi-rs glue for landopp: conversion, error mapping and AsyncTask wrappers only.
//! Every error carries `err.code` = the core's stable code (`NOT_FOUND`, `FORMAT`, ...).

// napi-rs macros and the ToNapiValue impl below are FFI glue: unsafe is inherent here.
#![allow(missing_docs, unsafe_code, missing_debug_implementations)]

use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

// The addon's allocator: see `landopp::alloc` (result buffers freed by V8's finalizers on the JS
// thread; with glibc malloc every 1 M-row `score` faulted its buffers in again, +60 %).
#[global_allocator]
static GLOBAL: landopp::alloc::Allocator = landopp::alloc::Allocator;

#[napi_derive::module_init]
fn init_allocator() {
    landopp::alloc::configure();
}

use crate::error::guard;

pub mod convert;
pub mod error;
pub mod features;
pub mod io;
pub mod ml;
pub mod scoring;
pub mod search;
pub mod sources;
pub mod spectral;
pub mod terrain;
pub mod zonal;

/// The library version.
#[napi]
pub fn version() -> String {
    landopp::VERSION.to_string()
}

/// How the addon was compiled: `release`, or `debug` (`npm run build:debug`: several times
/// slower; the package warns when it loads one).
#[napi(ts_return_type = "'debug' | 'release'")]
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Test hook: a panic inside the addon (on the JS thread, or on a worker with `onWorker`), to
/// check that a bug rejects / throws with `code: 'INTERNAL'` instead of aborting the process.
#[napi(ts_return_type = "Promise<void> | void")]
pub fn panic_for_tests(env: Env, on_worker: bool) -> napi::Result<Either<AsyncTask<ml::Job<()>>, ()>> {
    let boom = || -> landopp::Result<()> { panic!("a panic raised on purpose by panicForTests") };
    if on_worker {
        return Ok(Either::A(ml::Job::new(boom)));
    }
    guard(&env, boom).map(Either::B)
}
