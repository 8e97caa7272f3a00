import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

test('TypeScript usage file compiles against the declarations (index.d.ts + landopp.d.ts)', () => {
  const tsc = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc')
  const out = execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext',
    '--moduleResolution', 'nodenext', '--skipLibCheck', join(here, 'usage.ts')], { encoding: 'utf8' })
  assert.equal(out.trim(), '')
})
