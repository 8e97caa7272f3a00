import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

test('TypeScript usage file compiles against the declarations (index.d.ts + landopp.d.ts) and runs', () => {
  const tsc = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc')
  const outDir = join(here, '.usage-build')
  rmSync(outDir, { recursive: true, force: true })
  try {
    // compiled inside the package, so that `import ... from 'landopp'` resolves to it (self-reference)
    const out = execFileSync(process.execPath, [tsc, '--strict', '--target', 'es2022', '--module', 'nodenext',
      '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node', '--rootDir', join(here, '..'),
      '--outDir', outDir, join(here, 'usage.ts')], { encoding: 'utf8' })
    assert.equal(out.trim(), '')
    // the same usage, executed on the bundled fixtures: every typed call is accepted at run time
    execFileSync(process.execPath, [join(outDir, 'test', 'usage.js')],
      { cwd: join(here, '..', '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  } finally {
    rmSync(outDir, { recursive: true, force: true })
  }
})
