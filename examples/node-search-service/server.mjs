// A parcel search service on node:http only: loads the bundled sample area at start-up (features
// + the agriculture_landcover preset → a SearchIndex), then answers
//
//   GET /search?bbox=xmin,ymin,xmax,ymax[&crs=EPSG:4326][&minScore=0.5][&filter=slope_mean::10][&top=10][&cursor=o10][&explain=false]
//
// with ranked parcels and their explanations as JSON (one off-thread query per request; the page
// comes from Rust as JSON text and is written as is).
// Errors are JSON `{error, code}` with status 400 (a bad request: any input error code of the
// core), 429 (over the rate limit, with Retry-After) or 500.
//
// It listens on 127.0.0.1 only (HOST to change it), takes at most MAX_CONNECTIONS (256)
// connections, and gives each client address RATE_LIMIT requests per second (50; bursts of twice
// that; 0 turns the limit off).
//
//   node examples/node-search-service/server.mjs            # PORT=8080 by default
//   curl 'localhost:8080/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&top=5'
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createRequire } from 'node:module'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const landopp = require(process.env.LANDOPP_NODE ?? join(here, '..', '..', 'node', 'landopp.js'))

class BadRequest extends Error {
  constructor(message) {
    super(message)
    this.code = 'BAD_REQUEST'
  }
}

/** Parse `/search` parameters into a landopp query. */
export function parseSearch(params) {
  const query = { limit: 10, filters: [] }
  const bbox = params.get('bbox')
  if (bbox != null) {
    const b = bbox.split(',').map(Number)
    if (b.length !== 4 || b.some((v) => !Number.isFinite(v))) throw new BadRequest('bbox must be xmin,ymin,xmax,ymax')
    query.aoi = { bbox: b }
  }
  if (params.has('crs')) query.crs = params.get('crs')
  if (params.has('minScore')) {
    const m = Number(params.get('minScore'))
    if (!Number.isFinite(m)) throw new BadRequest('minScore must be a number')
    query.filters.push({ column: 'score', min: m })
  }
  if (params.has('top')) {
    const t = Number(params.get('top'))
    if (!Number.isInteger(t) || t < 1 || t > 1000) throw new BadRequest('top must be an integer in 1..1000')
    query.limit = t
  }
  // filter=column:min:max (either bound may be empty), repeatable — as the reference server takes it
  for (const f of params.getAll('filter')) {
    const [column, lo, hi, ...rest] = f.split(':')
    const num = (v) => (v === '' || v === undefined ? undefined : Number(v))
    const [min, max] = [num(lo), num(hi)]
    if (!column || rest.length || hi === undefined || [min, max].some((v) => v !== undefined && !Number.isFinite(v))) {
      throw new BadRequest('filter must be column:min:max')
    }
    query.filters.push({ column, ...(min !== undefined && { min }), ...(max !== undefined && { max }) })
  }
  if (params.has('cursor')) query.cursor = params.get('cursor')
  if (params.get('explain') === 'false') query.explain = false
  return query
}

/** Core error codes that mean the request was wrong (400), as opposed to the service (500). */
const CLIENT_CODES = new Set(['BAD_REQUEST', 'INVALID_INPUT', 'INVALID_GEOMETRY', 'NOT_FOUND', 'CRS', 'EMPTY', 'UNSUPPORTED'])

/** A token bucket per client address: `rate` requests per second, bursts of `burst`. */
export function rateLimiter(rate, burst = 2 * rate, now = () => performance.now() / 1000) {
  const buckets = new Map()
  return (client) => {
    if (!(rate > 0)) return 0
    const t = now()
    const b = buckets.get(client) ?? { tokens: burst, at: t }
    b.tokens = Math.min(burst, b.tokens + (t - b.at) * rate)
    b.at = t
    buckets.set(client, b)
    if (buckets.size > 10000) for (const [k, v] of buckets) if (v.tokens >= burst) buckets.delete(k)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil((1 - b.tokens) / rate) // seconds until a token is back
  }
}

/** Load the sample area (or `land`: `{parcels, idField, table, profile}`, parcels with a feature
 * table computed beforehand) and return a (not yet listening) http.Server. */
export async function createSearchService({
  dataDir = join(here, '..', '..', 'fixtures'),
  rateLimit = Number(process.env.RATE_LIMIT ?? 50),
  maxConnections = Number(process.env.MAX_CONNECTIONS ?? 256),
  land = undefined,
} = {}) {
  let index
  if (land) {
    index = await landopp.buildSearchIndex(land.parcels, land.table, land.profile, { idField: land.idField })
  } else {
    const { spec, preset } = JSON.parse(readFileSync(join(here, 'sample-area.json'), 'utf8'))
    const profile = JSON.parse(readFileSync(join(here, '..', '..', 'core', 'presets', `${preset}.json`), 'utf8'))
    const table = await landopp.features(spec, dataDir)
    index = await landopp.buildSearchIndex(join(dataDir, spec.parcels.path), table, profile, {
      idField: spec.parcels.id_field,
    })
  }
  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
  const limited = rateLimiter(rateLimit)
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost')
    const wait = limited(req.socket.remoteAddress)
    if (wait > 0) {
      res.setHeader('retry-after', String(wait))
      return send(res, 429, JSON.stringify({ error: 'rate limit exceeded', code: 'RATE_LIMITED' }))
    }
    try {
      if (req.method !== 'GET') return send(res, 405, JSON.stringify({ error: 'GET only', code: 'METHOD' }))
      if (url.pathname === '/healthz') return send(res, 200, JSON.stringify({ parcels: index.length }))
      if (url.pathname !== '/search') return send(res, 404, JSON.stringify({ error: 'not found', code: 'NOT_FOUND' }))
      // the page comes from Rust as JSON text and is forwarded as is
      send(res, 200, (await index.queryText(parseSearch(url.searchParams))).page)
    } catch (e) {
      send(res, CLIENT_CODES.has(e.code) ? 400 : 500, JSON.stringify({ error: e.message, code: e.code ?? 'INTERNAL' }))
    }
  })
  server.maxConnections = maxConnections
  server.index = index
  return server
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await createSearchService()
  const port = Number(process.env.PORT ?? 8080)
  const host = process.env.HOST ?? '127.0.0.1'
  server.listen(port, host, () => console.log(`landopp search service on http://${host}:${port}/search (${server.index.length} parcels)`))
}
