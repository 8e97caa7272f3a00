// Package entry (CommonJS): the generated native binding (index.js) plus the few helpers that
// are better written in JS. Search pages cross the boundary as JSON text and are parsed here —
// V8's JSON.parse is faster than building objects through N-API one property at a time.
'use strict'

const native = require('./index.js')

/** @param {object} [q] */
native.SearchIndex.prototype.query = async function query(q = {}) {
  return JSON.parse(await this.queryJson(q))
}

/** @param {object} [q] */
native.SearchIndex.prototype.querySync = function querySync(q = {}) {
  return JSON.parse(this.queryJsonSync(q))
}

module.exports = native
