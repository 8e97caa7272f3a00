// Package entry (CommonJS): the generated native binding (index.js) plus the few helpers that
// are better written in JS. A search page crosses the boundary as JSON text (V8's JSON.parse is
// faster than building objects through N-API one property at a time); the hits' explanations
// cross as a second JSON text that is parsed only when a hit's `explanation` is first read.
'use strict'

const native = require('./index.js')

function toPage(parts) {
  const page = JSON.parse(parts[0])
  const text = parts[1]
  let parsed = null
  page.hits.forEach((hit, i) => {
    if (text === undefined) {
      hit.explanation = []
      return
    }
    Object.defineProperty(hit, 'explanation', {
      enumerable: true,
      configurable: true,
      get() {
        parsed ??= JSON.parse(text)
        const value = parsed[i]
        Object.defineProperty(hit, 'explanation', { value, enumerable: true, writable: true, configurable: true })
        return value
      },
    })
  })
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

module.exports = native
