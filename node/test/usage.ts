// Compiled with `tsc --noEmit --strict` in the test suite: the committed declarations (index.d.ts,
// generated, plus landopp.d.ts for the JS helpers) must type this usage.
import {
  readRaster, readLayer, transform, crsInfo, geodesicAreaPerimeter, features, score, zonalStats, terrain, terrainToFile, spectralIndices,
  buildSearchIndex, SearchIndex, kfold, spatialFolds, holdout, spatialHoldout, crossValPredict, trainModel, loadModel, driftReport, abAssign,
  Model,
  type RasterResult, type CrsInfo, type RasterInput, type SearchPage, type SearchQuery, type ScoreResultJs,
} from '../landopp.js'

async function main(): Promise<void> {
  const r: RasterResult = await readRaster('dem.tif', { window: [0, 0, 10, 10], band: 0 })
  const first: number = r.bands[0].data[0]
  const fc = await readLayer('parcels.gpkg', { parcels: true, idField: 'id' })
  const c: CrsInfo = crsInfo('EPSG:26919')
  const { x, y } = transform('EPSG:4326', 'EPSG:26919', Float64Array.of(-68.8), Float64Array.of(44.8))
  const { areaM2 } = geodesicAreaPerimeter(fc, c.epsg ? `EPSG:${c.epsg}` : undefined)
  const mem: RasterInput = { width: 2, height: 1, transform: [0, 1, 0, 1, 0, -1], crs: 'EPSG:32633', bands: [Float32Array.of(1, 2)] }
  const slope: RasterResult = await terrain(mem, 'slope', { compute_edges: true })
  const z = await zonalStats('dem.tif', fc, { stats: ['mean'], minCoverageFrac: 0.5, maxCells: 30e6 })
  await terrainToFile('dem.tif', 'slope.tif', 'slope', { compress: 'none' })
  const dn: RasterInput = { ...mem, bands: [Uint16Array.of(812, 1400)] }
  const scl: RasterInput = { ...mem, bands: [Uint8Array.of(4, 9)] }
  const ndvi: RasterResult = await spectralIndices({ N: 'B08.tif', R: dn, G: mem }, ['NDVI'], { sensor: 'sentinel2_l2a', baseline: '04.00', scl, constants: { L: 0.5 } })
  const reused: Float32Array = new Float32Array(ndvi.width * ndvi.height)
  await spectralIndices({ N: 'B08.tif', R: dn }, ['NDVI'], { out: { NDVI: reused } })
  const cells: Uint16Array | Float32Array | Float64Array | Int16Array | Uint8Array | Int8Array | Int32Array | Uint32Array = ndvi.bands[0].data
  const mean: Float64Array = z[0].values
  const table = await features({ version: 1 }, '.')
  const s: ScoreResultJs = await score(table, { version: 1 }, { explain: false })
  const rank: Uint32Array = s.rank
  const idx: SearchIndex = await buildSearchIndex('parcels.gpkg', table, { version: 1 }, { idField: 'id' })
  const q: SearchQuery = { aoi: { bbox: [0, 0, 1, 1] }, crs: 'EPSG:4326', filters: [{ column: 'score', min: 0.5 }], limit: 10 }
  const page: SearchPage = await idx.query(q)
  const best: string | undefined = page.hits[0]?.explanation[0]?.criterion
  const n: number = idx.querySync(q).total + idx.length
  const many = await idx.queryMany([q, q])
  const firstId: string = idx.ids()[many.row[0]]
  await idx.rescore({ version: 1 })
  const folds: Uint32Array = kfold(table.ids.length, 5, 0)
  const sfolds: Uint32Array = await spatialFolds(x, y, { blocks: 25, k: 5 })
  const held: Uint32Array = holdout(table.ids.length, { testFraction: 0.2 })
  const sheld: Uint32Array = await spatialHoldout(x, y, { testFraction: 0.2, blocks: 25, seed: 1 })
  const train = { features: ['slope_mean'], target: 'developed', params: { model: 'gradient_boosting', task: 'classification' } }
  const oof: Float64Array = await crossValPredict(table, folds, train)
  const m: Model = await trainModel(table, { ...train, modelVersion: '1.0.0', unseenCategory: 'ignore' })
  const p: Float64Array = await m.predict(table)
  const ex = await m.explain(table)
  const contribution: number = ex[0].contributions[0][0]
  const imp = await m.permutationImportance(table, { metric: 'roc_auc', nRepeats: 3 })
  await m.save('m.json', { hmacKey: new TextEncoder().encode('a 16-byte secret') })
  const back: Model = await loadModel('m.json', { hmacKey: new TextEncoder().encode('a 16-byte secret'), expectFeatures: ['slope_mean'] })
  const version: string = back.card.model_version
  const drift = await driftReport(table, table, { psiThreshold: 0.2 })
  const arm: string[] = abAssign(table.ids, { salt: 's', shareB: 0.1, modelA: '1.0.0', modelB: '1.1.0' })
  console.log(first, x[0], y[0], areaM2[0], slope.width, mean[0], rank[0], best, n, firstId, sfolds[0], held[0], sheld[0], oof[0], p[0],
    contribution, imp[0].importanceMean, version, drift.drifted, arm[0])
}
void main
