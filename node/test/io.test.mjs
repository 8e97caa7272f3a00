import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import * as esm from '../index.mjs'

const require = createRequire(import.meta.url)
const landopp = require('../index.js')
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixture = (p) => join(root, 'fixtures', p)
const expected = (n) => JSON.parse(readFileSync(fixture(`expected/${n}`), 'utf8'))

function shared() {
  const p = process.env.LANDOPP_SHARED_DATA ?? join(root, '..', 'shared', 'data')
  if (existsSync(join(p, 'README.md'))) return p
  if (process.env.CI === 'true') throw new Error(`CI=true but the shared test data is missing at ${p}`)
  return null
}

test('require and import expose the same API', () => {
  assert.equal(esm.version(), landopp.version())
  assert.equal(typeof esm.readRaster, 'function')
})

// the typed array each GDAL data type comes back in
const ARRAY_OF = {
  Byte: Uint8Array, Int8: Int8Array, Int16: Int16Array, UInt16: Uint16Array,
  Int32: Int32Array, UInt32: Uint32Array, Float32: Float32Array, Float64: Float64Array,
}

test('readRaster matches rasterio statistics for every fixture GeoTIFF (parity file)', async () => {
  const exp = expected('rasters_rasterio.json')
  let n = 0
  for (const [key, e] of Object.entries(exp)) {
    let path
    if (key.startsWith('shared:')) {
      const s = shared()
      if (!s) continue
      path = join(s, key.slice(7))
    } else path = join(root, key)
    const r = await landopp.readRaster(path)
    assert.equal(r.width, e.width, key)
    assert.equal(r.height, e.height, key)
    assert.equal(r.bands.length, e.count, key)
    r.transform.forEach((v, i) => assert.ok(Math.abs(v - e.transform[i]) <= 1e-12 * Math.max(1, Math.abs(v)), key))
    assert.equal(r.crs ?? null, e.epsg ? `EPSG:${e.epsg}` : null, key)
    r.bands.forEach((b, i) => {
      assert.ok(b.data instanceof ARRAY_OF[b.dtype], `${key} band ${i}: ${b.dtype} as ${b.data.constructor.name}`)
      let sum = 0
      let count = 0
      for (const v of b.data) {
        if (Number.isNaN(v) || (r.nodata != null && v === r.nodata)) continue
        sum += v
        count++
      }
      assert.equal(count, e.bands[i].count, `${key} band ${i}`)
      assert.ok(Math.abs(sum - e.bands[i].sum) <= 1e-9 * Math.max(1, Math.abs(sum)), `${key} band ${i}: ${sum}`)
    })
    n++
  }
  assert.ok(n >= 11)
})

test('readRaster reads an overview, or the coarsest image within a resolution', async () => {
  // the bundled DEM as a COG (20² and 10² overviews of 40²): fixtures/fuzz/geotiff
  const cog = fixture('fuzz/geotiff/seed-cog-overviews.tif')
  const full = await landopp.readRaster(cog)
  const o0 = await landopp.readRaster(cog, { overview: 0 })
  assert.deepEqual([o0.width, o0.height], [20, 20])
  assert.equal(o0.transform[1], full.transform[1] * 2)
  assert.equal(o0.transform[0], full.transform[0])
  const coarse = await landopp.readRaster(cog, { resolution: full.transform[1] * 5 })
  assert.equal(coarse.width, 10)
  await assert.rejects(landopp.readRaster(cog, { overview: 2 }), { code: 'NOT_FOUND' })
})

test('readRaster window and band', async () => {
  const full = await landopp.readRaster(fixture('olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif'))
  const w = await landopp.readRaster(fixture('olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif'), { window: [10, 20, 30, 40], band: 4 })
  assert.equal(w.width, 40)
  assert.equal(w.height, 30)
  assert.equal(w.bands[0].data[0], full.bands[3].data[10 * full.width + 20])
  // the band alone, whole: the same cells, type, name and grid as that band of the full read
  const one = await landopp.readRaster(fixture('olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif'), { band: 4 })
  assert.equal(one.bands.length, 1)
  assert.equal(one.bands[0].dtype, full.bands[3].dtype)
  assert.equal(one.bands[0].data.constructor, full.bands[3].data.constructor)
  assert.equal(one.bands[0].description, full.bands[3].description)
  assert.deepEqual(one.transform, full.transform)
  assert.deepEqual(one.bands[0].data, full.bands[3].data)
  await assert.rejects(landopp.readRaster(fixture('olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif'), { band: 7 }), (e) => e.code === 'NOT_FOUND')
  // band numbers are 1-based, as GDAL numbers bands
  await assert.rejects(landopp.readRaster(fixture('olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif'), { band: 0 }), (e) => e.code === 'INVALID_INPUT')
})

test('readRaster bands go back in as they came out: in-memory terrain equals terrain of the file', async () => {
  for (const f of ['slovenia/dem.tif', 'olinda/landsat7_etm_b1_b2_b3_b4_b5_b7.tif']) {
    const r = await landopp.readRaster(fixture(f), { band: 1 })
    const { width, height, transform, crs, nodata } = r
    const mem = await landopp.terrain({ width, height, transform, crs, nodata, bands: [r.bands[0].data] }, 'slope')
    const file = await landopp.terrain(fixture(f), 'slope')
    assert.equal(mem.bands[0].dtype, file.bands[0].dtype, f)
    assert.deepEqual(mem.bands[0].data, file.bands[0].data, f)
  }
})

test('readLayer returns GeoJSON with typed properties; parcels are validated', async () => {
  const fc = await landopp.readLayer(fixture('slovenia/lulc_polygons.gpkg'))
  assert.equal(fc.type, 'FeatureCollection')
  assert.equal(fc.features.length, 88)
  assert.equal(typeof fc.features[0].properties.LULC_ID, 'number')
  const p = await landopp.readLayer(fixture('olinda/olinda_census_tracts.gpkg'), { parcels: true, idField: 'CD_GEOCODI' })
  assert.equal(p.features.length, 470)
  assert.equal(p.features[0].properties.geometry_status.status, 'valid')
  assert.deepEqual(landopp.listLayers(fixture('slovenia/lulc_polygons.gpkg')), ['lulc_polygons'])
})

test('geodesic area within 0.01 % of pyproj.Geod (parity file)', async () => {
  const exp = expected('geodesic_area_pyproj.json')['fixtures/olinda/olinda_census_tracts.gpkg']
  const fc = await landopp.readLayer(fixture('olinda/olinda_census_tracts.gpkg'))
  const { areaM2, perimeterM } = landopp.geodesicAreaPerimeter(fc, 'EPSG:4674')
  fc.features.forEach((f, i) => {
    const [a, p] = exp[`${f.properties.ID}`] ?? exp[`${f.properties.ID}.0`]
    assert.ok(Math.abs(areaM2[i] - a) / a < 1e-4, `area ${i}`)
    assert.ok(Math.abs(perimeterM[i] - p) / p < 1e-4, `perimeter ${i}`)
  })
})

test('transform within 1 cm of pyproj (parity file)', () => {
  for (const c of expected('crs_pyproj.json')) {
    const lon = Float64Array.from(c.lonlat.map((p) => p[0]))
    const lat = Float64Array.from(c.lonlat.map((p) => p[1]))
    const { x, y } = landopp.transform('EPSG:4326', `EPSG:${c.epsg}`, lon, lat)
    const unit = landopp.crsInfo(`EPSG:${c.epsg}`).linearUnitM ?? 111_000
    c.projected.forEach((p, i) => assert.ok(Math.hypot(x[i] - p[0], y[i] - p[1]) * unit < 0.01, `EPSG:${c.epsg}`))
  }
})

test('info and writeLayer', async () => {
  const i = landopp.info(fixture('jacksboro/jacksboro_fault_dem.tif'))
  assert.equal(i.kind, 'raster')
  assert.equal(i.dtype, 'Int16')
  const dir = mkdtempSync(join(tmpdir(), 'landopp-'))
  const fc = await landopp.readLayer(fixture('slovenia/lulc_polygons.gpkg'))
  landopp.writeLayer(join(dir, 'o.gpkg'), fc, 'EPSG:32633')
  const back = await landopp.readLayer(join(dir, 'o.gpkg'))
  assert.equal(back.features.length, 88)
  assert.equal(landopp.info(join(dir, 'o.gpkg')).layers[0].crs, 'EPSG:32633')
})

test('dates and date-times: ISO strings with their types in landopp:field_types, written back typed', async () => {
  const fc = await landopp.readLayer(fixture('formats/temporal.gpkg'))
  assert.deepEqual(fc['landopp:field_types'], { sold: 'date', updated: 'datetime', naive: 'datetime' })
  const byName = Object.fromEntries(fc.features.map((f) => [f.properties.name, f.properties]))
  assert.equal(byName.a.sold, '2021-03-04')
  assert.equal(byName.b.sold, null)
  assert.equal(byName.a.updated, '2021-06-01T12:30:15.250+02:00')
  assert.equal(byName.c.naive, '1999-12-31T23:59:59.500')
  const dir = mkdtempSync(join(tmpdir(), 'landopp-t-'))
  for (const ext of ['gpkg', 'geojson']) {
    landopp.writeLayer(join(dir, `t.${ext}`), fc, 'EPSG:4326')
    const back = await landopp.readLayer(join(dir, `t.${ext}`))
    assert.deepEqual(back['landopp:field_types'], fc['landopp:field_types'], ext)
    assert.deepEqual(back.features.map((f) => f.properties), fc.features.map((f) => f.properties), ext)
  }
})

// The shared list of bad inputs: every case rejects/throws with err.code equal to the core code.
test('error codes (fixtures/expected/errors.json)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'landopp-err-'))
  const b = readFileSync(fixture('jacksboro/jacksboro_fault_dem.tif'))
  writeFileSync(join(dir, 't.tif'), b.subarray(0, b.length >> 1))
  writeFileSync(join(dir, 'n.tif'), 'hello world, not a tiff')
  const g = Buffer.from(readFileSync(fixture('slovenia/lulc_polygons.gpkg')))
  g.fill(0xa5, 100, 4100)
  writeFileSync(join(dir, 'c.gpkg'), g)
  writeFileSync(join(dir, 'e.geojson'), '{"type":"FeatureCollection","features":[]}')
  const nanPoly = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }] }
  const cases = {
    missing_file: () => landopp.readRaster('/nonexistent/dem.tif'),
    missing_vector: () => landopp.readLayer('/nonexistent/parcels.gpkg'),
    truncated_tiff: () => landopp.readRaster(join(dir, 't.tif')),
    not_a_tiff: () => landopp.readRaster(join(dir, 'n.tif')),
    corrupt_gpkg: () => landopp.readLayer(join(dir, 'c.gpkg')),
    unsupported_compression: () => landopp.readRaster(fixture('formats/unsupported_jpeg.tif')),
    unknown_layer: () => landopp.readLayer(fixture('slovenia/lulc_polygons.gpkg'), { layer: 'nope' }),
    unknown_epsg: () => landopp.crsInfo('EPSG:99999'),
    empty_layer: () => landopp.readLayer(join(dir, 'e.geojson'), { parcels: true }),
    // JSON cannot carry NaN: a non-finite coordinate reaches the core through a typed array
    nan_coordinates: () => landopp.transform('EPSG:4326', 'EPSG:32633', Float64Array.of(NaN), Float64Array.of(1)),
    unknown_id_field: () => landopp.readLayer(fixture('slovenia/lulc_polygons.gpkg'), { parcels: true, idField: 'NOPE' }),
    lines_as_parcels: () => landopp.geodesicAreaPerimeter({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: [[0, 0], [1, 1]] } }] }),
    unsupported_vector_format: () => landopp.readLayer(fixture('slovenia/dem.tif')),
  }
  assert.ok(landopp.geodesicAreaPerimeter(nanPoly).areaM2[0] > 0)
  for (const c of expected('errors.json')) {
    const fn = cases[c.case]
    assert.ok(fn, `no Node case for ${c.case}`)
    await assert.rejects(async () => fn(), (err) => {
      assert.equal(err.code, c.code, `${c.case}: ${err.message}`)
      assert.ok(err.message.length > 0)
      return true
    }, c.case)
  }
})

test('features, score and terrain (same spec and profile formats as Rust and Python)', async () => {
  const spec = {
    version: 1,
    parcels: { path: 'slovenia/lulc_polygons.gpkg', id_field: 'index' },
    features: [
      { type: 'shape' },
      { type: 'terrain', raster: 'slovenia/dem.tif', product: 'slope', stats: ['mean'], share_below: [8] },
      { type: 'overlay', layer: 'slovenia/lulc_polygons.gpkg', field: 'LULC_NAME', prefix: 'landuse' },
    ],
  }
  const t = await landopp.features(spec, join(root, 'fixtures'))
  assert.equal(t.ids.length, 88)
  const lu = t.columns.find((c) => c.name === 'landuse_dominant')
  assert.ok(lu.categories.includes('forest'))
  assert.equal(t.columns.find((c) => c.name === 'area_m2').unit, 'm2')
  const profile = {
    version: 1,
    criteria: [
      { column: 'area_acres', weight: 2, transform: { type: 'linear_benefit', min: 0, max: 10 } },
      { column: 'landuse_dominant', weight: 1, transform: { type: 'categorical', scores: { 'cultivated land': 1 }, default: 0 } },
    ],
    method: { type: 'weighted_sum' },
  }
  const r = await landopp.score(t, profile, { explain: true })
  const best = r.rank.indexOf(1)
  const sum = r.explanations[best].reduce((s, c) => s + c.contribution, 0)
  assert.ok(Math.abs(sum - r.score[best]) < 1e-12)
  const slope = await landopp.terrain(fixture('slovenia/dem.tif'), 'slope')
  assert.equal(slope.nodata, -9999)
  assert.equal(slope.bands[0].data.length, slope.width * slope.height)
  // gdaldem's options by their snake_case names (each equal to gdaldem in the Rust tests)
  const flat = await landopp.terrain(fixture('slovenia/dem.tif'), 'aspect', { alg: 'ZevenbergenThorne', zero_for_flat: true })
  assert.ok(flat.nodata == null && flat.bands[0].data.every((v) => v >= 0 && v < 360))
  const igor = await landopp.terrain(fixture('slovenia/dem.tif'), 'hillshade', { hillshade: 'igor' })
  assert.ok(igor.bands[0].data.some((v, i) => v !== slope.bands[0].data[i]))
  assert.deepEqual(landopp.formulaVariables('g*(N-R)/(N+C1*R-C2*B+L)'), ['g', 'N', 'R', 'C1', 'C2', 'B', 'L'])
  assert.throws(() => landopp.formulaVariables('(N-R'), (e) => e.code === 'INVALID_INPUT')
  // color relief from a gdaldem colour table file: RGBA bytes, no nodata
  const table = join(mkdtempSync(join(tmpdir(), 'landopp-colors-')), 'colors.txt')
  writeFileSync(table, '0% 0 96 0\n50% yellow\n100% white\n')
  const rgba = await landopp.colorRelief(fixture('slovenia/dem.tif'), table, { alpha: true, mode: 'nearest_entry' })
  assert.equal(rgba.bands.length, 4)
  assert.ok(rgba.nodata == null && rgba.bands[0].data instanceof Uint8Array && rgba.bands[3].data.every((v) => v === 255))
  writeFileSync(table, '0 0 96 0\n10 secret-colour\n')
  await assert.rejects(landopp.colorRelief(fixture('slovenia/dem.tif'), table),
    (e) => e.code === 'INVALID_INPUT' && /line 2/.test(e.message) && !/secret/.test(e.message))
  for (const bad of [{ computeEdges: false }, { alg: 'Sobel' }, { tri: 'wilson' }]) {
    await assert.rejects(landopp.terrain(fixture('slovenia/dem.tif'), 'slope', bad), (e) => e.code === 'INVALID_INPUT')
  }
  await assert.rejects(landopp.score(t, { ...profile, version: 9 }), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(landopp.features({ ...spec, parcels: { path: 'nope.gpkg' } }, root), (e) => e.code === 'NOT_FOUND')
})

test('terrainToFile streams the in-memory cells; zonalStats maxCells reads strips with identical results', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'landopp-terrain-'))
  const out = join(dir, 'slope.tif')
  await landopp.terrainToFile(fixture('slovenia/dem.tif'), out, 'slope', { compress: 'none' })
  assert.ok(existsSync(out))
  const inMemory = await landopp.terrain(fixture('slovenia/dem.tif'), 'slope')
  const written = await landopp.zonalStats(out, fixture('slovenia/lulc_polygons.gpkg'), { stats: ['mean', 'max'] })
  const direct = await landopp.zonalStats(
    { width: inMemory.width, height: inMemory.height, transform: inMemory.transform, crs: inMemory.crs, nodata: inMemory.nodata, bands: [inMemory.bands[0].data] },
    fixture('slovenia/lulc_polygons.gpkg'), { stats: ['mean', 'max'] })
  assert.deepEqual(written.map((c) => Array.from(c.values)), direct.map((c) => Array.from(c.values)))
  await assert.rejects(landopp.terrainToFile(fixture('slovenia/dem.tif'), join(dir, 'x.tif'), 'slope', { compress: 'zstd' }), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(landopp.terrainToFile(join(dir, 'missing.tif'), join(dir, 'y.tif'), 'slope'), (e) => e.code === 'NOT_FOUND')
  const stats = ['count', 'mean', 'median', 'majority']
  const whole = await landopp.zonalStats(fixture('slovenia/dem.tif'), fixture('slovenia/lulc_polygons.gpkg'), { stats })
  const strips = await landopp.zonalStats(fixture('slovenia/dem.tif'), fixture('slovenia/lulc_polygons.gpkg'), { stats, maxCells: 500 })
  assert.deepEqual(strips.map((c) => Array.from(c.values)), whole.map((c) => Array.from(c.values)))
  await assert.rejects(landopp.zonalStats(fixture('slovenia/dem.tif'), fixture('slovenia/lulc_polygons.gpkg'), { maxCells: 0 }), (e) => e.code === 'INVALID_INPUT')
})

test('spectralIndices: catalogue formulas with Sentinel-2 scaling and SCL masking, as Python', async () => {
  const s2 = await landopp.readRaster(fixture('slovenia/s2_l1c_13band_2015-08-30.tif'))
  const grid = { width: s2.width, height: s2.height, transform: s2.transform, crs: s2.crs }
  const band = (i) => ({ ...grid, bands: [s2.bands[i].data] })
  const n = s2.width * s2.height
  const scl = new Float64Array(n).fill(4)
  for (let k = 0; k < n; k += 7) scl[k] = 9 // "cloud high" every 7th cell
  const out = await landopp.spectralIndices({ R: band(3), N: band(7), G: band(2) }, ['NDVI', 'GNDVI'], {
    sensor: 'sentinel2_l1c', baseline: '02.01', scl: { ...grid, bands: [scl] },
  })
  assert.deepEqual(out.bands.map((b) => b.description), ['NDVI', 'GNDVI'])
  const [R, N, G] = [s2.bands[3].data, s2.bands[7].data, s2.bands[2].data]
  let checked = 0
  for (let k = 0; k < n; k++) {
    const got = out.bands[0].data[k]
    if (k % 7 === 0) { assert.ok(Number.isNaN(got)); continue }
    const r = R[k] / 10000, nir = N[k] / 10000, g = G[k] / 10000
    assert.ok(Math.abs(got - (nir - r) / (nir + r)) < 1e-6, `NDVI at ${k}`)
    assert.ok(Math.abs(out.bands[1].data[k] - (nir - g) / (nir + g)) < 1e-6, `GNDVI at ${k}`)
    checked++
  }
  assert.ok(checked > n / 2)
  // digital numbers as Uint16Array (as geotiff.js and Sentinel-2 files hold them) with the SCL as
  // Uint8Array, and the same numbers as Float64Array: the same indices bit for bit (the former
  // through the core's integer path)
  const dn = (i) => Uint16Array.from(s2.bands[i].data, (v) => Math.round(v * 10000))
  const opts = { sensor: 'sentinel2_l1c', baseline: '02.01' }
  const ints = await landopp.spectralIndices({ R: { ...grid, bands: [dn(3)] }, N: { ...grid, bands: [dn(7)] } }, ['NDVI'],
    { ...opts, scl: { ...grid, bands: [Uint8Array.from(scl)] } })
  const floats = await landopp.spectralIndices({ R: { ...grid, bands: [Float64Array.from(dn(3))] }, N: { ...grid, bands: [Float64Array.from(dn(7))] } },
    ['NDVI'], { ...opts, scl: { ...grid, bands: [scl] } })
  assert.equal(ints.bands[0].data.filter(Number.isNaN).length, floats.bands[0].data.filter(Number.isNaN).length)
  assert.ok(ints.bands[0].data.filter(Number.isNaN).length < n / 2)
  assert.deepEqual(Array.from(ints.bands[0].data), Array.from(floats.bands[0].data))
  const dem = await landopp.readRaster(fixture('slovenia/dem.tif'))
  const demGrid = { width: dem.width, height: dem.height, transform: dem.transform, crs: dem.crs }
  const asF64 = await landopp.terrain({ ...demGrid, bands: [dem.bands[0].data] }, 'slope')
  const asI16 = await landopp.terrain({ ...demGrid, bands: [Int16Array.from(dem.bands[0].data, Math.round)] }, 'slope')
  const rounded = await landopp.terrain({ ...demGrid, bands: [Float64Array.from(dem.bands[0].data, Math.round)] }, 'slope')
  assert.equal(asF64.bands[0].data.length, asI16.bands[0].data.length)
  assert.deepEqual(Array.from(asI16.bands[0].data), Array.from(rounded.bands[0].data))
  // out: the caller's Float32Arrays written in place and resolved as the bands, equal to a fresh call
  const fresh = await landopp.spectralIndices({ R: band(3), N: band(7), G: band(2) }, ['NDVI', 'GNDVI'], { sensor: 'sentinel2_l1c', baseline: '02.01' })
  const mine = { NDVI: new Float32Array(n).fill(7), GNDVI: new Float32Array(n).fill(7) }
  const into = await landopp.spectralIndices({ R: band(3), N: band(7), G: band(2) }, ['NDVI', 'GNDVI'], { sensor: 'sentinel2_l1c', baseline: '02.01', out: mine })
  assert.equal(into.bands[0].data, mine.NDVI)
  assert.equal(into.bands[1].data, mine.GNDVI)
  assert.deepEqual(into.bands.map((b) => [b.dtype, b.description]), [['Float32', 'NDVI'], ['Float32', 'GNDVI']])
  assert.deepEqual(mine.NDVI, fresh.bands[0].data)
  assert.deepEqual(mine.GNDVI, fresh.bands[1].data)
  assert.deepEqual([into.width, into.height, into.transform, into.crs], [fresh.width, fresh.height, fresh.transform, fresh.crs])
  assert.ok(Number.isNaN(into.nodata) && Number.isNaN(fresh.nodata))
  const badOut = (o) => landopp.spectralIndices({ R: band(3), N: band(7) }, ['NDVI', 'NDWI'], { out: o })
  await assert.rejects(badOut({ NDVI: mine.NDVI }), (e) => e.code === 'INVALID_INPUT' && /NDWI/.test(e.message))
  await assert.rejects(badOut({ NDVI: mine.NDVI, NDWI: new Float32Array(n - 1) }), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(badOut({ NDVI: mine.NDVI, NDWI: mine.NDVI }), (e) => e.code === 'INVALID_INPUT' && /same/.test(e.message))
  await assert.rejects(landopp.spectralIndices({ N: band(7) }, ['NOT_AN_INDEX']), (e) => e.code === 'NOT_FOUND' || e.code === 'INVALID_INPUT')
  await assert.rejects(landopp.spectralIndices({ N: band(7), R: band(3) }, ['NDVI'], { sensor: 'modis' }), (e) => e.code === 'INVALID_INPUT')
  await assert.rejects(landopp.spectralIndices({ N: band(7) }, ['NDVI']), (e) => e.code === 'INVALID_INPUT')
  const shifted = { ...band(3), transform: [grid.transform[0] + 5, ...grid.transform.slice(1)] }
  await assert.rejects(landopp.spectralIndices({ N: band(7), R: shifted }, ['NDVI']), (e) => e.code === 'INVALID_INPUT')
})

test('a panic inside the addon is an INTERNAL error, never a process abort', async () => {
  assert.throws(() => landopp.panicForTests(false), (e) => e.code === 'INTERNAL')
  await assert.rejects(landopp.panicForTests(true), (e) => e.code === 'INTERNAL')
  // the process is alive and the addon still works
  assert.equal(typeof landopp.version(), 'string')
  assert.deepEqual(landopp.listLayers(fixture('slovenia/lulc_polygons.gpkg')).length, 1)
})

test('arguments of the wrong JS type are INVALID_INPUT errors, thrown or rejected as before', async () => {
  const pkg = require('../landopp.js') // the package entry (index.js is the bare binding)
  // napi-rs refuses them before landopp sees them; the code is landopp's, the napi status kept
  assert.throws(() => pkg.crsInfo(5), (e) => e.code === 'INVALID_INPUT' && e.napiStatus === 'StringExpected')
  assert.throws(() => pkg.kfold('ten', 3), (e) => e.code === 'INVALID_INPUT' && e.napiStatus === 'NumberExpected')
  // nested so deep that converting it exhausts the JS stack: V8's RangeError, with the input code
  let deep = []
  for (let i = 0; i < 200000; i++) deep = [deep]
  assert.throws(() => pkg.crsInfo(deep), (e) => e instanceof RangeError && e.code === 'INVALID_INPUT')
  const wrongType = async (f) => {
    try {
      await f()
    } catch (e) {
      return e
    }
    assert.fail('accepted an argument of the wrong type')
  }
  for (const f of [() => pkg.readRaster(5), () => pkg.score(null, {}), () => pkg.zonalStats(7, null)]) {
    const e = await wrongType(f)
    assert.equal(e.code, 'INVALID_INPUT', String(e.message))
  }
  // queryMany checks its argument before serialising it
  assert.throws(() => pkg.SearchIndex.prototype.queryMany.call({}, undefined), (e) => e.code === 'INVALID_INPUT')
  // landopp's own codes pass through unchanged
  assert.throws(() => pkg.crsInfo('EPSG:999999'), (e) => e.code === 'CRS')
})

test('a debug addon warns when the package loads; a release one does not', async () => {
  const { spawnSync } = await import('node:child_process')
  const env = { ...process.env }
  delete env.LANDOPP_ALLOW_DEBUG_BUILD
  const run = (extra) =>
    spawnSync(process.execPath, ['-e', "require('./landopp.js')"], { cwd: join(root, 'node'), env: { ...env, ...extra }, encoding: 'utf8' })
  const profile = landopp.buildProfile()
  assert.ok(['debug', 'release'].includes(profile), profile)
  const r = run({})
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stderr.includes('LANDOPP_DEBUG_BUILD'), profile === 'debug', r.stderr)
  assert.ok(!run({ LANDOPP_ALLOW_DEBUG_BUILD: '1' }).stderr.includes('LANDOPP_DEBUG_BUILD'))
})
