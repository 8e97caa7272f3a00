// Live data sources: stacSearch pages through a loopback STAC API built from the real Earth
// Search item in fixtures/stac; bestScenes picks each parcel's clearest scene from the real
// Sentinel-2 SCL band (nothing reaches the internet).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { existsSync, readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

process.env.LANDOPP_HTTP_CACHE = 'off'
const require = createRequire(import.meta.url)
const landopp = require('../index.js')
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const item = JSON.parse(readFileSync(join(root, 'fixtures', 'stac', 'S2A_29RKH_20200219_0_L2A.stac.json'), 'utf8'))

function shared() {
  const p = process.env.LANDOPP_SHARED_DATA ?? join(root, '..', 'shared', 'data')
  if (existsSync(join(p, 'README.md'))) return p
  if (process.env.CI === 'true') throw new Error(`CI=true but the shared test data is missing at ${p}`)
  console.log(`SKIPPED: shared test data not found at ${p} (set LANDOPP_SHARED_DATA)`)
  return null
}

const items = Array.from({ length: 25 }, (_, i) => {
  const it = structuredClone(item)
  it.id = `S2A_29RKH_2020_${String(i).padStart(3, '0')}_L2A`
  it.properties.datetime = `2020-02-${String(1 + (i % 28)).padStart(2, '0')}T11:34:25Z`
  it.properties['eo:cloud_cover'] = (i * 7) % 50
  it.links = []
  it.assets.scl.href = '/files/SCL.tif'
  return it
})
const data = shared()
let searches = 0
let fail = 0
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x')
  if (url.pathname === '/files/SCL.tif' && data) {
    const bytes = readFileSync(join(data, 'sentinel2_l2a_29RKH_2020-02-19', 'SCL.tif'))
    res.writeHead(200, { 'content-length': bytes.length })
    return res.end(bytes)
  }
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    searches++
    if (fail) { res.writeHead(fail, { 'content-type': 'text/plain' }); return res.end('secret') }
    const q = JSON.parse(body)
    const start = q.token ?? 0
    const page = items.slice(start, start + q.limit)
    const links = start + q.limit < items.length
      ? [{ rel: 'next', href: `http://127.0.0.1:${server.address().port}/search`, method: 'POST', body: { token: start + q.limit }, merge: true }]
      : []
    res.writeHead(200, { 'content-type': 'application/geo+json' })
    res.end(JSON.stringify({ type: 'FeatureCollection', features: page, links, numberMatched: items.length }))
  })
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${server.address().port}`
after(() => server.close())

test('stacSearch pages through next links into imagery records (camelCase)', async () => {
  searches = 0
  const found = await landopp.stacSearch({ url: base, collections: ['sentinel-2-l2a'], limit: 10, max_cloud_cover: 30 })
  const want = items.filter((_, i) => (i * 7) % 50 <= 30).map((i) => i.id)
  assert.deepEqual(found.items.map((r) => r.sceneId), want)
  assert.equal(found.pages, 3)
  assert.equal(searches, 3)
  const r = found.items[0]
  assert.equal(r.platform, 'sentinel-2a')
  assert.equal(r.resolutionM, 10)
  assert.equal(r.assets.scl.href, `${base}/files/SCL.tif`)
  assert.equal(r.assets.red.band, 'red')
})

test('bestScenes takes the records back and judges clouds over each parcel', async (t) => {
  if (!data) return t.skip('shared data missing')
  const found = await landopp.stacSearch({ url: base, max_items: 2 })
  const parcels = {
    type: 'FeatureCollection',
    features: [
      { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[-11.5, 24.5], [-11.45, 24.5], [-11.45, 24.55], [-11.5, 24.55], [-11.5, 24.5]]] } },
      { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[-13.5, 24.5], [-13.45, 24.5], [-13.45, 24.55], [-13.5, 24.55], [-13.5, 24.5]]] } },
    ],
  }
  const c = await landopp.bestScenes(found.items, parcels)
  // the same mask twice: the later capture (item 1, 2020-02-02); the parcel off the tile: none
  assert.deepEqual(c.best, [1, null])
  assert.ok(c.clear[0][0] > 0.9 && c.clear[0][0] <= 1, String(c.clear[0][0]))
  assert.equal(c.clear[0][0], c.clear[1][0])
  assert.equal(c.clear[0][1], 0)
})

test('a failing service rejects with REMOTE, the status and no body', async () => {
  fail = 503
  try {
    await assert.rejects(landopp.stacSearch({ url: `${base}/?sig=hush`, timeout_s: 5 }), (e) => {
      assert.equal(e.code, 'REMOTE')
      assert.match(e.message, /\(HTTP 503\)/)
      assert.ok(!e.message.includes('hush') && !e.message.includes('secret'), e.message)
      return true
    })
  } finally {
    fail = 0
  }
  await assert.rejects(landopp.stacSearch({ url: base, limit: 0 }), (e) => e.code === 'INVALID_INPUT')
})

test('ogcFeatures and arcgisFeatures page a county layer into GeoJSON', async () => {
  const lulc = JSON.parse(readFileSync(join(root, 'fixtures', 'formats', 'slovenia_lulc.geojson'), 'utf8'))
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x')
    const send = (b) => { res.writeHead(200, { 'content-type': 'application/geo+json' }); res.end(JSON.stringify(b)) }
    if (url.pathname.endsWith('/FeatureServer/0')) {
      return send({ name: 'lulc', objectIdField: 'OBJECTID', maxRecordCount: 40, fields: [{ name: 'EDITED', type: 'esriFieldTypeDate' }] })
    }
    const feats = lulc.features.map((f, i) => ({ ...f, properties: { ...f.properties, EDITED: 1_600_000_000_000 + i * 86_400_000 } }))
    if (url.pathname.endsWith('/query')) {
      const off = Number(url.searchParams.get('resultOffset')); const n = Number(url.searchParams.get('resultRecordCount'))
      return send({ type: 'FeatureCollection', crs: lulc.crs, features: feats.slice(off, off + n), exceededTransferLimit: off + n < feats.length })
    }
    const off = Number(url.searchParams.get('offset') ?? 0); const n = Number(url.searchParams.get('limit'))
    const links = off + n < feats.length ? [{ rel: 'next', href: `items?limit=${n}&offset=${off + n}` }] : []
    send({ type: 'FeatureCollection', crs: lulc.crs, features: feats.slice(off, off + n), links })
  })
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const at = `http://127.0.0.1:${srv.address().port}`
  try {
    const ogc = await landopp.ogcFeatures({ url: `${at}/ogc`, collection: 'lulc', limit: 30 })
    assert.equal(ogc.features.length, 88)
    assert.deepEqual(ogc.features[3].geometry, lulc.features[3].geometry)
    const arc = await landopp.arcgisFeatures({ url: `${at}/arcgis/rest/services/Lulc/FeatureServer/0` })
    assert.equal(arc.features.length, 88)
    assert.equal(arc.features[1].properties.EDITED, '2020-09-14T12:26:40Z')
    assert.equal(arc['landopp:field_types'].EDITED, 'datetime')
  } finally {
    srv.close()
  }
})

test('validate reports every violation of a table schema by row', async () => {
  const path = join(root, 'fixtures', 'slovenia', 'lulc_polygons.gpkg')
  const schema = { id_field: 'index', crs: 'EPSG:32633', columns: [{ name: 'AREA', type: 'number', min: 0 }] }
  const clean = await landopp.validate(path, schema)
  assert.equal(clean.rows, 88)
  assert.deepEqual(clean.violations, [])
  const fc = await landopp.readLayer(path)
  fc.features[4].properties.AREA = -3
  fc.features[6].properties.index = fc.features[2].properties.index
  const r = await landopp.validate(fc, JSON.stringify({ ...schema, crs: undefined }))
  assert.deepEqual(r.violations.map((v) => [v.row, v.column, v.rule]), [[4, 'AREA', 'min'], [6, 'index', 'duplicate']])
  await assert.rejects(landopp.validate(path, { colums: [] }), (e) => e.code === 'INVALID_INPUT')
})

test('soilDataAccess fetches the map units under the parcels and their tables', async () => {
  const queries = []
  let status = 200
  const sda = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      const sql = JSON.parse(body).query
      queries.push(sql)
      let table
      if (sql.includes('FROM mupolygon')) {
        table = [['mukey', 'mupolygonkey', 'wkt'],
          ['101', '9001', 'POLYGON ((-11.6 24.4, -11.3 24.4, -11.3 24.7, -11.6 24.7, -11.6 24.4))']]
      } else if (sql.includes('FROM component')) {
        table = [['mukey', 'cokey', 'comppct_r', 'majcompflag', 'drainagecl', 'hydgrp'], ['101', '1', '70', 'Yes', 'Well drained', 'B']]
      } else if (sql.includes('FROM mapunit')) {
        table = [['mukey', 'farmlndcl'], ['101', null]]
      } else {
        table = [['mukey', 'slopegradwta'], ['101', '4.5']]
      }
      const out = status === 200 ? JSON.stringify({ Table: table }) : 'secret'
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
      res.end(out)
    })
  })
  await new Promise((r) => sda.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${sda.address().port}/tabular/post.rest`
  const parcels = {
    type: 'FeatureCollection',
    features: [{ type: 'Feature', properties: { pid: 'a' },
      geometry: { type: 'Polygon', coordinates: [[[-11.5, 24.5], [-11.45, 24.5], [-11.45, 24.55], [-11.5, 24.55], [-11.5, 24.5]]] } }],
  }
  try {
    const got = await landopp.soilDataAccess(parcels, { url, muaggatt: ['slopegradwta'] })
    assert.equal(got.requests, 4)
    assert.equal(got.mapunits.features.length, 1)
    assert.equal(got.mapunits.features[0].properties.mukey, '101')
    assert.deepEqual(got.component.rows[0], ['101', '1', '70', 'Yes', 'Well drained', 'B'])
    assert.deepEqual(got.mapunit.rows, [['101', null]])
    assert.deepEqual(got.muaggatt.columns, ['mukey', 'slopegradwta'])
    // the parcel goes out as WKT in WGS 84
    assert.match(queries[0], /MULTIPOLYGON \(\(\(-11\.5000000 24\.5000000, /)
    status = 503
    await assert.rejects(landopp.soilDataAccess(parcels, { url, timeout_s: 5 }), (e) => {
      assert.equal(e.code, 'REMOTE')
      assert.match(e.message, /503/)
      assert.doesNotMatch(e.message, /secret/)
      return true
    })
    await assert.rejects(landopp.soilDataAccess(parcels, { url, muaggatt: ['x;'] }), { code: 'INVALID_INPUT' })
  } finally {
    sda.close()
  }
})
