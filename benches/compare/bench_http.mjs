// HTTP helpers the server benchmarks share: requests, readiness, an open-loop load generator
// (requests fired on a fixed schedule, latency measured from the scheduled time: no coordinated
// omission), percentiles, and the 2 km search boxes over the replicated Bangor parcels.
import http from 'node:http'
import { readFileSync } from 'node:fs'

export const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
export const pct = (v, p) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor((v.length * p) / 100))]
export const now = () => Number(process.hrtime.bigint()) / 1e6
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let b = ''
      res.on('data', (d) => { b += d })
      res.on('end', () => resolve({ status: res.statusCode, body: b }))
    })
    req.on('error', reject)
    req.end()
  })
}
export function post(port, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body)
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let b = ''
      res.on('data', (d) => { b += d })
      res.on('end', () => resolve({ status: res.statusCode, body: b }))
    })
    req.on('error', reject)
    req.end(data)
  })
}
export async function waitReady(port, path, headers, proc, limitMs = 600_000) {
  const t0 = now()
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}`)
    try {
      if ((await get(port, path, headers)).status === 200) return now() - t0
    } catch {}
    if (now() - t0 > limitMs) throw new Error('server not ready')
    await sleep(10)
  }
}
export const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024


/** Fire `rate` requests/s for `seconds` on a fixed schedule; latencies from the scheduled times. */
export function load(port, paths, headers, rate, seconds, sockets = 128) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets })
  const n = Math.round(rate * seconds)
  const lat = []
  const status = {}
  let errors = 0
  let sent = 0
  let done = 0
  return new Promise((resolve) => {
    const t0 = now()
    const finish = () => {
      if (++done < n) return
      agent.destroy()
      const wall = now() - t0
      resolve({ rate, n, errors, status, wall_s: wall / 1000, achieved: (n - errors) / (wall / 1000), p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99) })
    }
    const fire = (k, at) => {
      const req = http.request({ host: '127.0.0.1', port, path: paths[k % paths.length], headers, agent }, (res) => {
        res.resume()
        res.on('end', () => {
          lat.push(now() - at)
          status[res.statusCode] = (status[res.statusCode] ?? 0) + 1
          finish()
        })
      })
      req.on('error', () => { errors++; finish() })
      req.end()
    }
    const tick = () => {
      const el = now() - t0
      while (sent < n && (sent * 1000) / rate <= el) {
        fire(sent, t0 + (sent * 1000) / rate)
        sent++
      }
      if (sent < n) setTimeout(tick, 1)
    }
    tick()
  })
}


/** The benchmark's 2 km boxes (NAD83 / Maine East ftUS coordinates of the replicated area),
 * `count` of them from `seed`. */
export function boxes(count, seed = 42n) {
  let s = seed
  const M = 2n ** 64n
  const next = () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) % M
    return Number(s >> 11n) / 2 ** 53
  }
  const out = []
  for (let i = 0; i < count; i++) {
    const x0 = 505000 + next() * 150000
    const y0 = 4955000 + next() * 150000
    out.push(`${x0},${y0},${x0 + 2000},${y0 + 2000}`)
  }
  return out
}
