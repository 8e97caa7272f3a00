// The production store's cost on search: the same 1 M parcels served from files with (a) the
// embedded SQLite store, (b) PostgreSQL as the store, (c) PostgreSQL + Redis (rate limits and
// the page cache), the same open-loop load (bench_http.mjs) at 2,000 req/s, 5 interleaved 6 s
// runs each; (c) twice: every request a cache miss (boxes never asked before), and every request
// a hit (the 1,000 boxes of the other runs, cached by a warm-up pass).
//
//   LANDOPP_BENCH_INPUTS_ONLY=1 node benches/compare/server_compare.mjs ../shared/data   (inputs)
//   node benches/compare/server_store_compare.mjs INPUTS_DIR POSTGRES_URL REDIS_URL
// The database must hold the landopp schema (the server migrates it); Redis is flushed.
import { spawn, execFileSync } from 'node:child_process'
import { writeFileSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, get, waitReady, load, boxes } from './bench_http.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const [td, pg, redis] = process.argv.slice(2)
if (!td || !pg || !redis) throw new Error('usage: server_store_compare.mjs INPUTS_DIR POSTGRES_URL REDIS_URL')
const KEY = 'lok_0123456789abcdef_' + 'ab'.repeat(32)
const auth = { 'x-api-key': KEY }
const cols = readFileSync(join(td, 'columns.txt'), 'utf8').trim().split('\n')
const procs = []
const start = (port, name, extra) => {
  const cfg = join(td, `store-${name}.toml`)
  writeFileSync(cfg, `listen = "127.0.0.1:${port}"\nstore = "${join(td, `store-${name}.db`)}"\n${extra}\n` +
    `[data]\nparcels = "${join(td, 'parcels_x100.gpkg')}"\nid_field = "pid"\nattributes = [${cols.map((c) => `"${c}"`).join(', ')}]\n` +
    `profiles = ["${join(td, 'profile.json')}"]\n[limits]\nrate_per_key = 1000000.0\nrate_per_ip = 1000000.0\n`)
  const p = spawn(join(root, 'target', 'release', 'landopp-server'), ['--config', cfg],
    { env: { ...process.env, LANDOPP_BOOTSTRAP_ADMIN_KEY: KEY, LANDOPP_LOG: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] })
  procs.push(p)
  return p
}
const f = 'filter=slope_mean::10&filter=area_acres:0.25:'
const paths = (bs) => bs.map((b) => `/v1/parcels/search?bbox=${b}&${f}&limit=20`)
try {
  execFileSync('redis-cli', ['-u', redis, 'flushall'])
  // one at a time: three 1 M-parcel servers do not fit beside the load generator on 2 cores
  const targets = [
    { name: 'embedded SQLite store', port: 18700, extra: '' },
    { name: 'PostgreSQL store', port: 18701, extra: `database_url = "${pg}"` },
    { name: 'PostgreSQL + Redis, every request a cache miss', port: 18702, extra: `database_url = "${pg}"\nredis_url = "${redis}"`, miss: true },
    { name: 'PostgreSQL + Redis, every request a cache hit', port: 18702, extra: `database_url = "${pg}"\nredis_url = "${redis}"` },
  ]
  const hot = paths(boxes(1000))
  const runs = targets.map(() => [])
  let missSeed = 1000n
  for (let round = 0; round < 5; round++) {
    for (const [i, t] of targets.entries()) {
      if (i === 3) continue // shares the server of target 2
      const p = start(t.port, String(i), t.extra)
      await waitReady(t.port, '/readyz', {}, p)
      await load(t.port, hot, auth, 500, 2) // warm-up (and, with Redis, the 1,000 hot pages cached)
      if (t.miss) {
        missSeed += 1n
        const cold = paths(boxes(12000, missSeed * 7919n))
        runs[i].push(await load(t.port, cold, auth, 2000, 6))
        const h = await get(t.port, hot[0], auth)
        if (h.status !== 200) throw new Error(`hot page: ${h.status}`)
        runs[3].push(await load(t.port, hot, auth, 2000, 6))
      } else {
        runs[i].push(await load(t.port, hot, auth, 2000, 6))
      }
      p.kill('SIGTERM')
      await new Promise((r) => p.on('exit', r))
    }
  }
  const m = (rs, k) => median(rs.map((r) => r[k]))
  console.log(`\n1 M parcels; ${new Date().toISOString().slice(0, 10)}; 2,000 req/s, 5 interleaved 6 s runs each, medians\n`)
  console.log('| store | p50 ms | p95 ms | p99 ms | req/s done | non-200 |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const [i, t] of targets.entries()) {
    const rs = runs[i]
    const bad = rs.reduce((a, r) => a + r.errors + r.n - (r.status[200] ?? 0), 0)
    console.log(`| ${t.name} | ${m(rs, 'p50').toFixed(2)} | ${m(rs, 'p95').toFixed(2)} | ${m(rs, 'p99').toFixed(2)} | ${Math.round(m(rs, 'achieved'))} | ${bad} |`)
  }
} finally {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
}
