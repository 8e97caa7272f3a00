// A typed usage of the whole package that RUNS: compiled with `tsc --strict` against the committed
// declarations (index.d.ts, generated, plus landopp.d.ts for the JS helpers) and executed on the
// bundled fixtures by types.test.mjs. A type that lies (an option the runtime refuses, a field it
// does not return) fails here at compile time or at run time.
import {
  readRaster, readLayer, transform, crsInfo, geodesicAreaPerimeter, features, score, zonalStats, terrain, terrainToFile, spectralIndices,
  buildSearchIndex, SearchIndex, info, kfold, spatialFolds, holdout, spatialHoldout, crossValPredict, trainModel, loadModel, driftReport, abAssign,
  Model,
  type RasterResult, type CrsInfo, type RasterInput, type SearchPage, type SearchQuery, type ScoreResult, type FeatureTable,
  type Params, type ModelCard, type DriftReport, type Site, type Info, type Profile,
} from 'landopp'
import { strict as assert } from 'node:assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// run from the repository root (types.test.mjs sets the working directory)
const root = process.cwd()
const fixtures = join(root, 'fixtures')
const dem = join(fixtures, 'slovenia', 'dem.tif')
const parcels = join(fixtures, 'slovenia', 'lulc_polygons.gpkg')
const sample = JSON.parse(readFileSync(join(root, 'examples', 'node-search-service', 'sample-area.json'), 'utf8'))
const profile: Profile = JSON.parse(readFileSync(join(root, 'core', 'presets', 'agriculture_landcover.json'), 'utf8'))

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'landopp-usage-'))
  try {
    const r: RasterResult = await readRaster(dem, { window: [0, 0, 10, 10], band: 1 })
    const first: number = r.bands[0].data[0]
    assert.equal(r.width, 10)
    const fc = await readLayer(parcels, { parcels: true, idField: 'index', duplicateIds: 'refuse' })
    const c: CrsInfo = crsInfo('EPSG:26919')
    const { x, y } = transform('EPSG:4326', 'EPSG:26919', Float64Array.of(-68.8), Float64Array.of(44.8))
    const { areaM2 } = geodesicAreaPerimeter(fc, 'EPSG:32633')
    assert.ok(areaM2.length === 88 && c.epsg === 26919)
    const mem: RasterInput = { width: 2, height: 1, transform: [465_300, 10, 0, 5_080_000, 0, -10], crs: 'EPSG:32633', bands: [Float32Array.of(1, 2)] }
    const slope: RasterResult = await terrain(mem, 'slope', { compute_edges: true })
    const z = await zonalStats(dem, fc, { stats: ['mean'], minCoverageFrac: 0.5, maxCells: 30e6 })
    await terrainToFile(dem, join(tmp, 'slope.tif'), 'slope', { compress: 'none' })
    const dn: RasterInput = { ...mem, bands: [Uint16Array.of(812, 1400)] }
    const red: RasterInput = { ...mem, bands: [Uint16Array.of(600, 700)] }
    const scl: RasterInput = { ...mem, bands: [Uint8Array.of(4, 9)] }
    const ndvi: RasterResult = await spectralIndices({ N: dn, R: red }, ['NDVI'], { sensor: 'sentinel2_l2a', baseline: '04.00', scl })
    const reused: Float32Array = new Float32Array(ndvi.width * ndvi.height)
    await spectralIndices({ N: dn, R: red }, ['SAVI'], { out: { SAVI: reused }, constants: { L: 0.5 } })
    const cells: Uint16Array | Float32Array | Float64Array | Int16Array | Uint8Array | Int8Array | Int32Array | Uint32Array = ndvi.bands[0].data
    assert.ok(Number.isNaN(cells[1]), 'SCL 9 (cloud) is masked')
    const mean: Float64Array = z[0].values
    const table: FeatureTable = await features(sample.spec, fixtures)
    const s: ScoreResult = await score(table, profile, { explain: false })
    const rank: Float64Array = s.rank
    const idx: SearchIndex = await buildSearchIndex(parcels, table, profile, { idField: 'index', duplicateIds: 'refuse' })
    const q: SearchQuery = {
      aoi: { bbox: [14.54, 45.86, 14.58, 45.89] }, crs: 'EPSG:4326',
      filters: [{ column: 'score', min: 0.1 }, { column: 'landuse_dominant', in: ['grassland', 'cultivated land'] }],
      include_excluded: false, sort_by: 'score', ascending: false, limit: 10, explain: true,
    }
    const page: SearchPage = await idx.query(q)
    assert.ok(page.total > 0, 'the `in` filter of the types is the one the core takes')
    const best: string | undefined = page.hits[0]?.explanation[0]?.criterion
    const n: number = idx.querySync(q).total + idx.length
    const many = await idx.queryMany([q, q])
    const firstId: string = idx.ids()[many.row[0]]
    await idx.rescore({ ...profile, method: { type: 'topsis' } })
    const topsis: SearchPage = await idx.query({ limit: 3 })
    const gap: number | null | undefined = topsis.hits[0]?.explanation[0]?.gapToIdeal
    assert.equal(typeof gap, 'number')
    // ML on the sample's features: is a parcel grassland?
    const land = table.columns.find((col) => col.name === 'area_acres')
    assert.ok(land)
    const withTarget: FeatureTable = {
      ids: table.ids,
      columns: [...table.columns, { name: 'big', values: Float64Array.from(land.values, (v) => (v > 1 ? 1 : 0)), source: 'usage', unit: '', method: 'area > 1 acre' }],
    }
    const px = Float64Array.from(table.ids, (_, i) => (i % 10) * 100)
    const py = Float64Array.from(table.ids, (_, i) => Math.floor(i / 10) * 100)
    const folds: Uint32Array = kfold(table.ids.length, 5, 0)
    const sfolds: Uint32Array = await spatialFolds(px, py, { blocks: 9, k: 3 })
    const held: Uint32Array = holdout(table.ids.length, { testFraction: 0.2 })
    const sheld: Uint32Array = await spatialHoldout(px, py, { testFraction: 0.2, blocks: 9, seed: 1 })
    const params: Params = { model: 'gradient_boosting', task: 'classification', max_iter: 20 }
    const train = { features: ['slope_mean', 'mrr_fill'], target: 'big', params }
    const oof: Float64Array = await crossValPredict(withTarget, folds, train)
    const m: Model = await trainModel(withTarget, { ...train, modelVersion: '1.0.0', unseenCategory: 'ignore' })
    const p: Float64Array = await m.predict(withTarget)
    const ex = await m.explain(withTarget)
    const contribution: number = ex[0].contributions[0][0]
    const imp = await m.permutationImportance(withTarget, { metric: 'roc_auc', nRepeats: 3 })
    const key = new TextEncoder().encode('a 16-byte secret')
    await m.save(join(tmp, 'm.json'), { hmacKey: key })
    const back: Model = await loadModel(join(tmp, 'm.json'), { hmacKey: key, expectFeatures: ['slope_mean', 'mrr_fill'] })
    const card: ModelCard = back.card
    const version: string = card.modelVersion
    // a card's hyper-parameters are a parameters document: they train the same model again
    const again: Model = await trainModel(withTarget, { ...train, params: card.hyperParameters })
    assert.equal(again.card.hyperParameters.model, 'gradient_boosting')
    const drift: DriftReport = await driftReport(withTarget, withTarget, { psiThreshold: 0.2 })
    assert.equal(drift.psiThreshold, 0.2)
    const sites: Site[] = idx.assembleSites({ limit: 1000 }, 1, 0)
    assert.ok(sites.length > 0 && sites[0].parcelIds.length > 0)
    const about: Info = info(dem)
    assert.equal(about.kind, 'raster')
    const arm: string[] = abAssign(table.ids, { salt: 's', shareB: 0.1, modelA: '1.0.0', modelB: '1.1.0' })
    assert.equal(version, '1.0.0')
    console.log(first, x[0], y[0], slope.width, mean[0], rank[0], best, n, firstId, sfolds[0], held[0], sheld[0], oof[0], p[0],
      contribution, imp[0].importanceMean, drift.drifted.length, arm[0])
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
