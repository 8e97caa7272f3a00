// Package entry (CommonJS): the generated native binding (index.js) plus the few helpers that
// are better written in JS. A search page crosses the boundary as JSON text (V8's JSON.parse is
// faster than building objects through N-API one property at a time); the hits' explanations
// cross as numbers in one Float64Array and become objects only when a hit's `explanation` is
// first read.
'use strict'

const native = require('./index.js')

if (native.buildProfile() === 'debug' && !process.env.LANDOPP_ALLOW_DEBUG_BUILD) {
  // as the Python package does: a debug addon is several times slower, and nothing else says so
  process.emitWarning(
    'landopp was built in debug mode (npm run build:debug) and is several times slower than a release build; ' +
      'rebuild with `npm run build` (set LANDOPP_ALLOW_DEBUG_BUILD=1 to silence this)',
    { code: 'LANDOPP_DEBUG_BUILD' }
  )
}

const FIELDS = 5 // raw, transformed, weight, contribution, missing
// each hit keeps its row in the page's explanation numbers and the page's parts under symbols;
// one getter function shared by every hit (V8 then shares the hits' hidden classes: a getter
// closure per hit gave every hit its own, and the young-generation collections that copy them
// were the search latency tail)
const ROW = Symbol('landopp.row')
const PARTS = Symbol('landopp.parts')

function explanationOf() {
  const parts = this[PARTS]
  const i = this[ROW]
  const { criteria, values } = parts
  const k = criteria.length
  if (parts.labels && parts.labelRows === undefined) parts.labelRows = JSON.parse(parts.labels)
  const labels = parts.labelRows
  const value = []
  for (let j = 0; j < k; j++) {
    const o = (i * k + j) * FIELDS
    const c = { criterion: criteria[j], raw: values[o], transformed: values[o + 1], weight: values[o + 2], contribution: values[o + 3], missing: values[o + 4] === 1 }
    if (Number.isNaN(c.raw)) c.raw = null
    const label = labels?.[i]?.[j]
    if (label != null) c.label = label
    // methods that are not sums (weighted product, TOPSIS) carry their own terms; their
    // `contribution` is NaN
    if (parts.extraNames) {
      const e = parts.extraNames.length
      for (let x = 0; x < e; x++) c[parts.extraNames[x]] = parts.extra[(i * k + j) * e + x]
    }
    value.push(c)
  }
  Object.defineProperty(this, 'explanation', { value, enumerable: true, writable: true, configurable: true })
  return value
}
const LAZY_EXPLANATION = { get: explanationOf, enumerable: true, configurable: true }

function toPage(parts) {
  const page = JSON.parse(parts.page)
  const { criteria, values } = parts
  if (!criteria || !values) {
    for (const hit of page.hits) hit.explanation = []
    return page
  }
  const hits = page.hits
  for (let i = 0; i < hits.length; i++) {
    const hit = hits[i]
    hit[ROW] = i
    hit[PARTS] = parts
    Object.defineProperty(hit, 'explanation', LAZY_EXPLANATION)
  }
  return page
}

/** @param {object} [q] */
native.SearchIndex.prototype.query = async function query(q = {}) {
  return toPage(await this.queryJson(q))
}

/** @param {object} [q] */
native.SearchIndex.prototype.querySync = function querySync(q = {}) {
  return toPage(this.queryJsonSync(q))
}

/** @param {object[]} queries */
native.SearchIndex.prototype.queryMany = function queryMany(queries) {
  if (!Array.isArray(queries)) throw invalidInput('queryMany takes an array of queries')
  return this.queryManyJson(JSON.stringify(queries))
}

// napi-rs refuses an argument of the wrong JS type before landopp sees it, with its own status
// as the code (`StringExpected`, `NumberExpected`, `InvalidArg`, ...) or a bare TypeError. Those
// are the caller's input errors: they carry landopp's code `INVALID_INPUT` like every other one
// (the napi status stays in `napiStatus`), thrown or rejected exactly as before.
const NAPI_INPUT = new Set(['InvalidArg', 'ObjectExpected', 'StringExpected', 'NameExpected', 'FunctionExpected',
  'NumberExpected', 'BooleanExpected', 'ArrayExpected', 'BigintExpected', 'DateExpected', 'ArrayBufferExpected',
  'DetachableArraybufferExpected'])

function invalidInput(message) {
  const e = new TypeError(`invalid input: ${message}`)
  e.code = 'INVALID_INPUT'
  return e
}

function asLandoppError(e) {
  // an argument nested so deeply that converting it exhausts the JS stack (a hostile GeoJSON
  // value): V8's RangeError, which is the caller's input too
  const tooDeep = e instanceof RangeError && e.code === undefined && /call stack/.test(e.message)
  if (e instanceof Error && (NAPI_INPUT.has(e.code) || tooDeep || (e instanceof TypeError && e.code === undefined))) {
    if (e.code !== undefined) e.napiStatus = e.code
    e.code = 'INVALID_INPUT'
  }
  return e
}

function withCodes(f) {
  const wrapped = function (...args) {
    let out
    try {
      out = f.apply(this, args)
    } catch (e) {
      throw asLandoppError(e)
    }
    return out instanceof Promise ? out.catch((e) => { throw asLandoppError(e) }) : out
  }
  Object.defineProperty(wrapped, 'name', { value: f.name })
  Object.defineProperty(wrapped, 'length', { value: f.length })
  return wrapped
}

for (const [name, value] of Object.entries(native)) {
  if (typeof value !== 'function') continue
  if (value.prototype && Object.getOwnPropertyNames(value.prototype).length > 1) {
    // a class: its methods (not its getters, not the constructor)
    for (const key of Object.getOwnPropertyNames(value.prototype)) {
      const d = Object.getOwnPropertyDescriptor(value.prototype, key)
      if (key !== 'constructor' && typeof d.value === 'function') value.prototype[key] = withCodes(d.value)
    }
  } else {
    native[name] = withCodes(value)
  }
}

module.exports = native
