// Rasters over HTTP: readRaster, info and zonalStats take http(s) URLs, read by byte ranges
// from a loopback server (nothing reaches the internet).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { spawn } from 'node:child_process'

process.env.LANDOPP_HTTP_CACHE = mkdtempSync(join(tmpdir(), 'landopp-http-cache-'))
const require = createRequire(import.meta.url)
const landopp = require('../index.js')
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixture = (p) => join(root, 'fixtures', p)

// the server runs in its own process: `info` is synchronous and would block this event loop
const child = spawn(process.execPath, ['--input-type=module', '-e', `
  import http from 'node:http'
  import { readFileSync } from 'node:fs'
  let requests = 0
  const server = http.createServer((req, res) => {
    const name = new URL(req.url, 'http://x').pathname.slice(1)
    if (name === 'requests') return res.end(String(requests))
    let data
    try { data = readFileSync(${JSON.stringify(fixture('slovenia'))} + '/' + name) } catch { res.writeHead(404, { 'content-length': 0 }); return res.end() }
    requests++
    const m = /^bytes=(\\d+)-(\\d+)$/.exec(req.headers.range ?? '')
    if (!m) { res.writeHead(200, { 'content-length': data.length, etag: '"f1"' }); return res.end(data) }
    const a = Number(m[1]); const b = Math.min(Number(m[2]), data.length - 1)
    res.writeHead(206, { 'content-length': b - a + 1, 'content-range': 'bytes ' + a + '-' + b + '/' + data.length, etag: '"f1"' })
    res.end(data.subarray(a, b + 1))
  })
  server.listen(0, '127.0.0.1', () => console.log(server.address().port))
`], { stdio: ['ignore', 'pipe', 'inherit'] })
const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))))
const base = `http://127.0.0.1:${port}`
const served = async () => Number(await (await fetch(`${base}/requests`)).text())

test('readRaster, info and zonalStats read a URL as they read the file', async () => {
  const url = `${base}/dem.tif?signature=secret`
  const [remote, file] = await Promise.all([landopp.readRaster(url), landopp.readRaster(fixture('slovenia/dem.tif'))])
  assert.deepEqual(remote.transform, file.transform)
  assert.deepEqual([...remote.bands[0].data], [...file.bands[0].data])
  assert.ok((await served()) > 0)
  const i = landopp.info(url)
  assert.equal(i.kind, 'raster')
  assert.ok(!JSON.stringify(i).includes('secret'))
  const polys = fixture('slovenia/lulc_polygons.gpkg')
  const a = await landopp.zonalStats(`${base}/dem.tif`, polys, { stats: ['count', 'mean'] })
  const b = await landopp.zonalStats(fixture('slovenia/dem.tif'), polys, { stats: ['count', 'mean'] })
  assert.deepEqual(a, b)
  await assert.rejects(landopp.readRaster(`${base}/nope.tif?token=hush`), (e) => e.code === 'NOT_FOUND' && !e.message.includes('hush'))
})

test('stop the server', () => child.kill())
