// Machine learning from Node: training, prediction with explanations, model files, drift, A/B.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const landopp = require('../landopp.js')

// deterministic data: price falls with slope, commercial zone adds 30; a class target too
function table(n = 400) {
  const slope = new Float64Array(n)
  const road = new Float64Array(n)
  const zone = new Float64Array(n)
  const price = new Float64Array(n)
  const use = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    slope[i] = (i * 37) % 23
    road[i] = ((i * 91) % 97) * 10
    zone[i] = i % 3 // codes into ['C2', 'I3', 'R1']
    price[i] = 100 - 2 * slope[i] + (zone[i] === 0 ? 30 : 0)
    use[i] = zone[i] === 0 ? 1 : 0
  }
  const col = (name, values, categories) => ({ name, values, categories, source: '', unit: '', method: '' })
  return {
    ids: Array.from({ length: n }, (_, i) => `p${i}`),
    columns: [col('slope', slope), col('road_m', road), col('zone', zone, ['C2', 'I3', 'R1']), col('price', price), col('use', use)],
  }
}

test('linear model recovers an exact relation; explanations sum to the prediction', async () => {
  const t = table()
  const m = await landopp.trainModel(t, { features: ['slope', 'zone'], target: 'price', params: { model: 'linear', task: 'regression', alpha: 1e-9 } })
  const p = await m.predict(t)
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(p[i] - t.columns[3].values[i]) < 1e-6)
  const ex = await m.explain(t)
  assert.equal(ex[0].contributions.length, 2) // per card feature (zone's one-hot parts summed)
  const sum = ex[5].bias[0] + ex[5].contributions.reduce((a, c) => a + c[0], 0)
  assert.ok(Math.abs(sum - p[5]) < 1e-9)
  assert.deepEqual(m.card.categories, { zone: ['C2', 'I3', 'R1'] })
  const imp = await m.permutationImportance(t, { nRepeats: 2 })
  assert.equal(imp.length, 2)
  assert.ok(imp.every((r) => r.importanceMean > 0))
})

test('categorical codes must index their categories (no truncation of -1 or 1.9)', async () => {
  for (const bad of [-1, 1.9, 3]) {
    const t = table()
    t.columns[2].values[7] = bad
    await assert.rejects(
      landopp.trainModel(t, { features: ['slope', 'zone'], target: 'price', params: { model: 'linear', task: 'regression' } }),
      (e) => e.code === 'INVALID_INPUT' && /zone/.test(e.message) && /row 7/.test(e.message), String(bad))
  }
})

test('every family cross-validates; classification gives probabilities', async () => {
  const t = table()
  const folds = landopp.kfold(t.ids.length, 4, 1)
  assert.equal(folds.length, 400)
  const x = Float64Array.from(t.ids, (_, i) => (i % 20) * 100)
  const y = Float64Array.from(t.ids, (_, i) => Math.floor(i / 20) * 100)
  const sf = await landopp.spatialFolds(x, y, { blocks: 10, k: 4 })
  assert.deepEqual([...new Set(sf)].sort(), [0, 1, 2, 3])
  const h = landopp.holdout(400, { testFraction: 0.25, seed: 2 })
  assert.equal(h.reduce((a, b) => a + b, 0), 100)
  const sh = await landopp.spatialHoldout(x, y, { testFraction: 0.3, blocks: 10 })
  const nTest = sh.reduce((a, b) => a + b, 0)
  assert.ok(nTest >= 120 && nTest < 400, `${nTest}`)
  assert.throws(() => landopp.holdout(10, { testFraction: 1 }), (e) => e.code === 'INVALID_INPUT')
  for (const model of ['random_forest', 'gradient_boosting', 'linear']) {
    const prob = await landopp.crossValPredict(t, folds, { features: ['slope', 'road_m', 'zone'], target: 'use', params: { model, task: 'classification' } })
    assert.equal(prob.length, 800)
    let right = 0
    for (let i = 0; i < 400; i++) {
      assert.ok(Math.abs(prob[2 * i] + prob[2 * i + 1] - 1) < 1e-9)
      right += (prob[2 * i + 1] > 0.5) === (t.columns[4].values[i] === 1)
    }
    assert.ok(right / 400 > 0.95, `${model}: ${right}`)
  }
})

test('model files: signed and encrypted round trip; tampering and wrong keys are typed errors', async () => {
  const t = table()
  const m = await landopp.trainModel(t, { features: ['slope', 'zone'], target: 'price', modelVersion: '2.0.0', params: { model: 'gradient_boosting', task: 'regression', seed: 3 } })
  const dir = mkdtempSync(join(tmpdir(), 'landopp-ml-'))
  const path = join(dir, 'm.json')
  const keys = { hmacKey: Buffer.from('a 16-byte secret'), encryptionKey: Buffer.alloc(32, 7) }
  await m.save(path, keys)
  const back = await landopp.loadModel(path, { ...keys, expectFeatures: ['slope', 'zone'] })
  assert.equal(back.card.modelVersion, '2.0.0')
  assert.deepEqual(await back.predict(t), await m.predict(t))
  await assert.rejects(landopp.loadModel(path, { ...keys, encryptionKey: Buffer.alloc(32, 8) }), { code: 'INTEGRITY' })
  await assert.rejects(landopp.loadModel(path, { ...keys, hmacKey: Buffer.from('another 16-b key') }), { code: 'INTEGRITY' })
  await assert.rejects(landopp.loadModel(path, { ...keys, expectFeatures: ['zone', 'slope'] }), { code: 'INVALID_INPUT' })
  const env = JSON.parse(readFileSync(path, 'utf8'))
  env.payload = (env.payload[0] === '0' ? '1' : '0') + env.payload.slice(1)
  writeFileSync(path, JSON.stringify(env))
  await assert.rejects(landopp.loadModel(path, keys), { code: 'INTEGRITY' })
  writeFileSync(path, '{"type": "FeatureCollection"}')
  await assert.rejects(landopp.loadModel(path), { code: 'FORMAT' })
})

test('bad input: unseen category, schema, parameters, empty and one-class targets', async () => {
  const t = table()
  const m = await landopp.trainModel(t, { features: ['slope', 'zone'], target: 'price', params: { task: 'regression', n_estimators: 5 } })
  const unseen = { columns: [{ name: 'slope', values: Float64Array.of(3), source: '', unit: '', method: '' },
    { name: 'zone', values: Float64Array.of(0), categories: ['Z9'], source: '', unit: '', method: '' }] }
  await assert.rejects(m.predict(unseen), (e) => e.code === 'INVALID_INPUT' && /"Z9" was not seen/.test(e.message))
  await assert.rejects(m.predict({ columns: [unseen.columns[0]] }), { code: 'NOT_FOUND' })
  await assert.rejects(landopp.trainModel(t, { features: ['slope'], target: 'price', params: { task: 'regression', learning_rate: 1 } }), { code: 'INVALID_INPUT' })
  await assert.rejects(landopp.trainModel(t, { features: ['slope'], target: 'price', params: { model: 'svm', task: 'regression' } }), { code: 'INVALID_INPUT' })
  const ones = { columns: [t.columns[0], { ...t.columns[4], values: new Float64Array(400).fill(1) }] }
  await assert.rejects(landopp.trainModel(ones, { features: ['slope'], target: 'use', params: { task: 'classification' } }), /one class/)
  const empty = { columns: t.columns.map((c) => ({ ...c, values: new Float64Array(0) })) }
  await assert.rejects(landopp.trainModel(empty, { features: ['slope'], target: 'price', params: { task: 'regression' } }), { code: 'EMPTY' })
  const withNaN = { columns: [{ ...t.columns[0], values: Float64Array.of(NaN, 1, 2) }, { ...t.columns[3], values: Float64Array.of(1, 2, 3) }] }
  await assert.rejects(landopp.trainModel(withNaN, { features: ['slope'], target: 'price', params: { task: 'regression' } }), /impute/)
})

test('drift report and A/B routing', async () => {
  const t = table()
  const shifted = { columns: t.columns.map((c) => (c.name === 'slope' ? { ...c, values: c.values.map((v) => v + 15) } : c)) }
  const rep = await landopp.driftReport(t, shifted)
  assert.deepEqual(rep.drifted, ['slope'])
  const ids = Array.from({ length: 4000 }, (_, i) => `p${i}`)
  const a = landopp.abAssign(ids, { salt: 's1', shareB: 0.25, modelA: '1.2.0', modelB: '1.3.0' })
  assert.deepEqual(a, landopp.abAssign(ids, { salt: 's1', shareB: 0.25, modelA: '1.2.0', modelB: '1.3.0' }))
  const b = a.filter((v) => v === '1.3.0').length
  assert.ok(b > 850 && b < 1150, `${b}`)
  assert.throws(() => landopp.abAssign(ids, { salt: 's', shareB: 2, modelA: 'a', modelB: 'b' }), { code: 'INVALID_INPUT' })
})

test('hostile numbers: counts from JS are whole numbers, never wrapped to 2^32 - 1 nor truncated', async () => {
  const bad = (e) => e.code === 'INVALID_INPUT' && /whole number/.test(e.message)
  for (const n of [-1, NaN, 2.5, Infinity]) {
    assert.throws(() => landopp.kfold(n, 5), bad)
    assert.throws(() => landopp.holdout(n), bad)
  }
  assert.throws(() => landopp.kfold(10, -1), bad)
  // a count too large to allocate is refused before any allocation
  assert.throws(() => landopp.kfold(2 ** 52, 5), { code: 'INVALID_INPUT' })
  const t = table(60)
  const m = await landopp.trainModel(t, { features: ['slope'], target: 'price', params: { model: 'linear', task: 'regression' } })
  await assert.rejects(m.permutationImportance(t, { nRepeats: -1 }), bad)
  await assert.rejects(m.permutationImportance(t, { nRepeats: 1e9 }), { code: 'INVALID_INPUT' })
  await assert.rejects(landopp.trainModel(t, { features: ['slope'], target: 'price', params: { task: 'regression', n_estimators: 1e9 } }), { code: 'INVALID_INPUT' })
  const x = Float64Array.from({ length: 60 }, (_, i) => i), y = x.map((v) => v * 2)
  await assert.rejects(landopp.spatialFolds(x, y, { blocks: -1 }), bad)
  // sparse arrays claiming 2^32 - 1 ids are read element by element, not pre-allocated
  const sparse = []
  sparse.length = 2 ** 32 - 1
  assert.throws(() => landopp.abAssign(sparse, { salt: 's', shareB: 0.5, modelA: 'a', modelB: 'b' }))
})
