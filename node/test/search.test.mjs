import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const landopp = require('..')
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixture = (p) => join(root, 'fixtures', p)
const sample = JSON.parse(readFileSync(join(root, 'examples/node-search-service/sample-area.json'), 'utf8'))
sample.profile = JSON.parse(readFileSync(join(root, `core/presets/${sample.preset}.json`), 'utf8'))

const close = (a, b, rel = 1e-6) => (a == null && (b == null || Number.isNaN(b))) || Math.abs(a - b) <= rel * Math.max(1, Math.abs(b))

test('zonalStats equals exactextract (fixtures/expected/zonal_exactextract.json), from paths and from typed arrays', async () => {
  const exp = JSON.parse(readFileSync(fixture('expected/zonal_exactextract.json'), 'utf8'))
  for (const c of Object.values(exp)) {
    const cols = await landopp.zonalStats(join(root, c.raster), join(root, c.polygons), { stats: c.stats })
    assert.deepEqual(cols.map((x) => x.name), c.stats)
    for (const { name, values } of cols) {
      assert.ok(values instanceof Float64Array)
      values.forEach((v, i) => assert.ok(close(Number.isNaN(v) ? null : v, c.values[name][i]), `${c.raster} ${name}[${i}]: ${v} vs ${c.values[name][i]}`))
    }
  }
  // the same raster handed over as typed arrays (Float32Array and Float64Array bands)
  const r = await landopp.readRaster(fixture('slovenia/dem.tif'))
  const input = { width: r.width, height: r.height, transform: r.transform, crs: r.crs, nodata: r.nodata, bands: [Float32Array.from(r.bands[0].data)] }
  const fromPath = await landopp.zonalStats(fixture('slovenia/dem.tif'), fixture('slovenia/lulc_polygons.gpkg'), { stats: ['mean', 'count'] })
  const fromMem = await landopp.zonalStats(input, fixture('slovenia/lulc_polygons.gpkg'), { stats: ['mean', 'count'] })
  assert.deepEqual(fromMem, fromPath)
  const slope = await landopp.terrain({ ...input, bands: [r.bands[0].data] }, 'slope')
  const slopePath = await landopp.terrain(fixture('slovenia/dem.tif'), 'slope')
  assert.deepEqual(slope.bands[0].data, slopePath.bands[0].data)
  // GeoJSON polygons in
  const fc = await landopp.readLayer(fixture('slovenia/lulc_polygons.gpkg'))
  const fromGeojson = await landopp.zonalStats(fixture('slovenia/dem.tif'), fc, { stats: ['mean', 'count'] })
  assert.deepEqual(fromGeojson, fromPath)
  // errors carry the core code
  await assert.rejects(landopp.zonalStats(fixture('slovenia/dem.tif'), fixture('slovenia/lulc_polygons.gpkg'), { stats: ['nope'] }), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(landopp.zonalStats('missing.tif', fixture('slovenia/lulc_polygons.gpkg')), (e) => e.code === 'NOT_FOUND')
  // a malformed in-memory raster is read on the worker thread: the Promise rejects with the core code
  const bad = (e) => e.code === 'INVALID_INPUT'
  await assert.rejects(landopp.terrain({ ...input, width: 7 }, 'slope'), (e) => bad(e) && /cells, expected/.test(e.message))
  await assert.rejects(landopp.terrain({ ...input, transform: [0, 1, 0] }, 'slope'), (e) => bad(e) && /transform needs 6/.test(e.message))
  await assert.rejects(landopp.zonalStats({ ...input, height: 3 }, fixture('slovenia/lulc_polygons.gpkg')), bad)
  await assert.rejects(landopp.spectralIndices({ N: { ...input, width: 7 }, R: input }, ['NDVI']), bad)
  await assert.rejects(landopp.terrain({ ...input, crs: 'EPSG:999999' }, 'slope'), (e) => typeof e.code === 'string' && e.code !== 'InvalidArg')
})

test('score returns typed arrays; explanations on request sum to the score', async () => {
  const t = await landopp.features(sample.spec, fixture(''))
  const r = await landopp.score(t, sample.profile)
  assert.ok(r.score instanceof Float64Array && r.rank instanceof Float64Array && r.excluded instanceof Uint8Array)
  assert.equal(r.explanations, undefined)
  // `first` gives distinct ranks 1..n; the default `min` gives every parcel the count of better
  // scored parcels + 1 (the excluded ones after all scored ones, as one group)
  const first = await landopp.score(t, { ...sample.profile, ties: 'first' })
  assert.deepEqual([...first.rank].sort((a, b) => a - b), Array.from({ length: t.ids.length }, (_, i) => i + 1))
  const key = (i) => (r.excluded[i] ? -1 : r.score[i])
  r.rank.forEach((v, i) => assert.equal(v, 1 + r.rank.filter((_, j) => key(j) > key(i)).length))
  const e = await landopp.score(t, sample.profile, { explain: true })
  // excluded parcels (the preset's TOO_SMALL / SLIVER screens) score 0 whatever their terms
  e.explanations.forEach((ex, i) => assert.ok(e.excluded[i] === 1 || Math.abs(ex.reduce((s, c) => s + c.contribution, 0) - e.score[i]) < 1e-12))
  const withC = { ...sample.profile, constraints: [{ code: 'TINY', column: 'area_acres', op: '<', value: 1 }] }
  const c = await landopp.score(t, withC)
  assert.deepEqual(c.reasonSets, ['', 'TINY'])
  c.excluded.forEach((x, i) => assert.equal(x === 1, c.reasonSets[c.reasons[i]] === 'TINY'))
})

test('SearchIndex: build once, query concurrently, paginate, rescore, assemble sites', async () => {
  const t = await landopp.features(sample.spec, fixture(''))
  const idx = await landopp.buildSearchIndex(fixture('slovenia/lulc_polygons.gpkg'), t, sample.profile, { idField: 'index' })
  assert.equal(idx.length, 88)
  // the preset screens out slivers and parcels under an acre (excluded: score 0, not listed by default)
  const all = await idx.query({ limit: 1000, include_excluded: true })
  assert.equal(all.total, 88)
  for (let i = 1; i < all.hits.length; i++) assert.ok(all.hits[i - 1].score >= all.hits[i].score)
  for (const h of all.hits.filter((h) => !h.excluded)) assert.ok(Math.abs(h.explanation.reduce((s, c) => s + c.contribution, 0) - h.score) < 1e-12)
  assert.ok(all.hits.some((h) => h.excluded && h.reasons.includes('TOO_SMALL')))
  assert.equal((await idx.query({ limit: 1000 })).total, all.hits.filter((h) => !h.excluded).length)
  // bbox in WGS 84 over part of the area; concurrent async queries equal the sync ones
  const q = { aoi: { bbox: [14.555, 45.865, 14.56, 45.87] }, crs: 'EPSG:4326', filters: [{ column: 'slope_mean', max: 20 }], limit: 5 }
  const pages = await Promise.all(Array.from({ length: 16 }, () => idx.query(q)))
  for (const p of pages) assert.deepEqual(p, idx.querySync(q))
  assert.ok(pages[0].total > 0 && pages[0].total < 88 && pages[0].hits.length <= 5)
  // cursor pagination visits every match once
  const seen = []
  let cursor
  do {
    const p = await idx.query({ ...q, cursor })
    seen.push(...p.hits.map((h) => h.id))
    cursor = p.nextCursor ?? undefined
  } while (cursor)
  assert.equal(seen.length, pages[0].total)
  assert.equal(new Set(seen).size, seen.length)
  // re-weighting re-ranks without recomputing features
  const before = (await idx.query({ limit: 1 })).hits[0].id
  const sizeOnly = { version: 1, method: { type: 'weighted_sum' }, criteria: [{ column: 'area_acres', weight: 1, transform: { type: 'linear_benefit', min: 0, max: 1e6 } }] }
  await idx.rescore(sizeOnly)
  const top = (await idx.query({ limit: 1, explain: false })).hits[0]
  assert.deepEqual(top.explanation, [])
  const biggest = t.ids[t.columns.find((c) => c.name === 'area_acres').values.reduce((b, v, i, a) => (v > a[b] ? i : b), 0)]
  assert.equal(top.id, biggest)
  assert.notEqual(before, undefined)
  const sites = idx.assembleSites({ filters: [{ column: 'score', min: 0.01 }] }, 0, 0)
  assert.equal(sites.reduce((s, x) => s + x.parcelIds.length, 0), (await idx.query({ filters: [{ column: 'score', min: 0.01 }], limit: 1000 })).total)
  // errors
  await assert.rejects(idx.query({ filters: [{ column: 'nope', max: 1 }] }), (e) => e.code === 'NOT_FOUND')
  await assert.rejects(idx.query({ aoi: { bbox: [1, 1, 0, 0] } }), (e) => e.code === 'INVALID_INPUT')
  assert.throws(() => idx.querySync({ bogus: 1 }), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(idx.rescore({ version: 1, criteria: [], method: { type: 'weighted_sum' } }), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(landopp.buildSearchIndex(fixture('slovenia/lulc_polygons.gpkg'), { ids: ['a'], columns: [] }), (e) => e.code === 'INVALID_INPUT')
})

test('explanations of TOPSIS and weighted product carry their own terms and reproduce the score', async () => {
  const t = await landopp.features(sample.spec, fixture(''))
  for (const type of ['topsis', 'weighted_product']) {
    const profile = { ...sample.profile, method: { type } }
    const idx = await landopp.buildSearchIndex(fixture('slovenia/lulc_polygons.gpkg'), t, profile, { idField: 'index' })
    const page = await idx.query({ limit: 20 })
    assert.ok(page.hits.length > 0)
    for (const h of page.hits) {
      const ex = h.explanation
      assert.ok(ex.every((c) => Number.isNaN(c.contribution)), 'not additive: no contribution')
      const back = type === 'topsis'
        ? (() => {
            const p = Math.sqrt(ex.reduce((s, c) => s + c.gapToIdeal, 0))
            const m = Math.sqrt(ex.reduce((s, c) => s + c.gapToAntiIdeal, 0))
            return p + m > 0 ? m / (p + m) : 0
          })()
        : ex.reduce((s, c) => s * c.factor, 1)
      assert.ok(Math.abs(back - h.score) < 1e-12, `${type}: ${back} vs ${h.score}`)
    }
  }
})

test('example service over loopback: GET /search ranks parcels with explanations', async () => {
  const { createSearchService } = await import('../../examples/node-search-service/server.mjs')
  const server = await createSearchService()
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${server.address().port}`
  try {
    const res = await fetch(`${base}/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&minScore=0.2&top=3`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    const page = await res.json()
    assert.equal(page.hits.length, 3)
    assert.ok(page.total >= 3 && page.nextCursor === 'o3')
    assert.ok(page.hits.every((h) => h.score >= 0.2 && h.explanation.length === 4))
    assert.ok(page.hits[0].score >= page.hits[1].score)
    const next = await (await fetch(`${base}/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&minScore=0.2&top=3&cursor=o3&explain=false`)).json()
    assert.ok(next.hits.every((h) => !page.hits.some((p) => p.id === h.id) && h.explanation.length === 0))
    // column filters: column:min:max, either bound open
    const filtered = await (await fetch(`${base}/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&filter=slope_mean::5&filter=area_acres:2:&top=50&explain=false`)).json()
    assert.ok(filtered.total > 0 && filtered.total < page.total + 100)
    const all = await (await fetch(`${base}/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&top=1000&explain=false`)).json()
    assert.ok(filtered.total < all.total, `${filtered.total} < ${all.total}`)
    for (const f of ['slope_mean', 'slope_mean:1', 'slope_mean:a:', ':1:2']) {
      assert.equal((await fetch(`${base}/search?filter=${f}`)).status, 400, f)
    }
    const bad = await fetch(`${base}/search?bbox=1,2,3`)
    assert.equal(bad.status, 400)
    assert.equal((await bad.json()).code, 'BAD_REQUEST')
    const badCrs = await fetch(`${base}/search?bbox=0,0,1,1&crs=EPSG:999999`)
    assert.equal(badCrs.status, 400)
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    assert.equal((await fetch(`${base}/nope`)).status, 404)
    // every client error code of the core is a 4xx (an inverted box is INVALID_INPUT)
    const inverted = await fetch(`${base}/search?bbox=3,3,1,1`)
    assert.equal(inverted.status, 400)
    assert.equal((await inverted.json()).code, 'INVALID_INPUT')
    assert.equal(server.maxConnections, 256)
  } finally {
    server.close()
  }
})

test('example service: a client over the rate limit gets 429 with Retry-After; others are served', async () => {
  const { createSearchService, rateLimiter } = await import('../../examples/node-search-service/server.mjs')
  // the bucket: 2/s with bursts of 4, on a fake clock
  let t = 0
  const lim = rateLimiter(2, 4, () => t)
  assert.deepEqual([1, 2, 3, 4, 5].map(() => lim('a')), [0, 0, 0, 0, 1])
  assert.equal(lim('b'), 0)
  t = 0.5
  assert.equal(lim('a'), 0)
  const server = await createSearchService({ rateLimit: 1 })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${server.address().port}`
  try {
    const codes = []
    for (let i = 0; i < 4; i++) codes.push((await fetch(`${base}/healthz`)).status)
    assert.deepEqual(codes.slice(0, 2), [200, 200])
    const over = await fetch(`${base}/healthz`)
    assert.equal(over.status, 429)
    assert.ok(Number(over.headers.get('retry-after')) >= 1)
    assert.equal((await over.json()).code, 'RATE_LIMITED')
  } finally {
    server.close()
  }
})

test('SearchIndex.queryMany: many queries in one call, hits as typed arrays equal to query()', async () => {
  const t = await landopp.features(sample.spec, fixture(''))
  const idx = await landopp.buildSearchIndex(fixture('slovenia/lulc_polygons.gpkg'), t, sample.profile, { idField: 'index' })
  const qs = Array.from({ length: 8 }, (_, i) => ({ aoi: { bbox: [14.55 + 0.003 * i, 45.86, 14.56 + 0.003 * i, 45.87] }, crs: 'EPSG:4326', limit: 7 }))
  const h = await idx.queryMany(qs)
  assert.ok(h.row instanceof Uint32Array && h.score instanceof Float64Array && h.contribution instanceof Float64Array)
  const ids = idx.ids()
  assert.equal(ids.length, 88)
  const k = h.criteria.length
  assert.equal(k, sample.profile.criteria.length)
  for (let q = 0; q < qs.length; q++) {
    const page = idx.querySync(qs[q])
    assert.equal(h.totals[q], page.total)
    const mine = [...h.query.keys()].filter((i) => h.query[i] === q)
    assert.deepEqual(mine.map((i) => ids[h.row[i]]), page.hits.map((x) => x.id))
    mine.forEach((i, n) => {
      assert.equal(h.score[i], page.hits[n].score)
      assert.deepEqual([...h.contribution.subarray(i * k, (i + 1) * k)], page.hits[n].explanation.map((c) => c.contribution))
    })
  }
  await assert.rejects(idx.queryMany([{ bogus: 1 }]), (e) => e.code === 'INVALID_INPUT')
})

test('search hits: `explanation` is an own enumerable property (JSON, spread) equal to the score explanations', async () => {
  const t = await landopp.features(sample.spec, fixture(''))
  // one missing value: its explanation entry has `raw: null`
  const mrr = t.columns.find((c) => c.name === 'mrr_fill')
  mrr.values = Float64Array.from(mrr.values)
  mrr.values[0] = NaN
  const idx = await landopp.buildSearchIndex(fixture('slovenia/lulc_polygons.gpkg'), t, sample.profile, { idField: 'index' })
  const s = await landopp.score(t, sample.profile, { explain: true })
  const row = new Map(t.ids.map((id, i) => [String(id), i]))
  const page = idx.querySync({ limit: 1000, include_excluded: true })
  assert.equal(page.hits.length, 88)
  let nulls = 0
  let labels = 0
  for (const h of page.hits) {
    assert.ok(Object.keys(h).includes('explanation'))
    const want = s.explanations[row.get(String(h.id))]
    const viaJson = JSON.parse(JSON.stringify(h)).explanation
    assert.deepEqual(viaJson, JSON.parse(JSON.stringify(want)))
    assert.deepEqual({ ...h }.explanation, h.explanation)
    nulls += h.explanation.filter((c) => c.raw === null).length
    labels += h.explanation.filter((c) => typeof c.label === 'string').length
  }
  assert.equal(nulls, 1)
  assert.equal(labels, 88) // the categorical land-use criterion, one label per hit
  // built once, on first read
  assert.equal(page.hits[0].explanation, page.hits[0].explanation)
})

test('buildSearchIndex: ids of any length and script cross intact (more than one 4,096-id block)', async () => {
  const n = 5000
  const ids = Array.from({ length: n }, (_, i) => (i === 7 ? 'é🌲-' + 'x'.repeat(300) : i === 9 ? 'parcelle-é' : `p${i}`))
  const features = ids.map((id, i) => ({
    type: 'Feature',
    properties: { pid: id },
    geometry: { type: 'Polygon', coordinates: [[[i, 0], [i + 0.5, 0], [i + 0.5, 0.5], [i, 0.5], [i, 0]]] },
  }))
  const fc = { type: 'FeatureCollection', crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::32633' } }, features }
  const x = Float64Array.from(ids, (_, i) => i % 97)
  const idx = await landopp.buildSearchIndex(fc, { ids, columns: [{ name: 'x', values: x, source: '', unit: '', method: '' }] }, null, { idField: 'pid' })
  assert.equal(idx.length, n)
  const page = idx.querySync({ aoi: { bbox: [6.9, -1, 9.9, 1] }, limit: 10 })
  assert.deepEqual(page.hits.map((h) => h.id).sort(), [ids[7], 'p8', ids[9]].sort())
  const all = idx.querySync({ limit: n })
  assert.deepEqual(new Set(all.hits.map((h) => h.id)), new Set(ids))
  // an id that is not a string is an argument error naming its position
  assert.throws(() => landopp.buildSearchIndex(fc, { ids: ['a', 2], columns: [] }), /ids\[1\]: expected a string/)
  // a parcel file starts reading while the table crosses: its errors still reject the Promise
  assert.throws(() => landopp.buildSearchIndex(fixture('slovenia/lulc_polygons.gpkg'), { ids: ['a', 2], columns: [] }), /ids\[1\]/)
  await assert.rejects(landopp.buildSearchIndex(fixture('missing.gpkg'), { ids: [], columns: [] }), (e) => e.code === 'NOT_FOUND')
})
