#!/usr/bin/env bash
# The npm channel as users get it (napi-rs's layout): the platform package landopp-linux-x64-gnu
# (the release addon `npm run build` made in node/) and the main package with the
# optionalDependencies `napi prepublish` writes, packed with `npm pack`, installed into a fresh
# project, then used with no Rust toolchain on PATH: require, import, and the TypeScript check of a
# typed usage file against the installed package. Usage: bash .ci/npm_pack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
ver=$(node -p "require('./node/package.json').version")
[ -f node/landopp.linux-x64-gnu.node ] || { echo "build the addon first: cd node && npm run build" >&2; exit 1; }

# the platform package: its manifest and the addon
mkdir -p "$OUT/platform"
cp node/npm/linux-x64-gnu/package.json node/npm/linux-x64-gnu/README.md node/landopp.linux-x64-gnu.node "$OUT/platform/"
(cd "$OUT/platform" && npm pack --silent --pack-destination "$OUT" >/dev/null)

# the main package: its "files", with every declared target as an optional dependency
mkdir -p "$OUT/main"
node -e '
  const fs = require("fs"), path = require("path");
  const [src, dst] = process.argv.slice(1);
  const pkg = JSON.parse(fs.readFileSync(path.join(src, "package.json")));
  for (const f of fs.readdirSync(src)) if (pkg.files.includes(f) || f === "README.md") fs.copyFileSync(path.join(src, f), path.join(dst, f));
  const names = fs.readdirSync(path.join(src, "npm")).map((d) => JSON.parse(fs.readFileSync(path.join(src, "npm", d, "package.json"))).name);
  pkg.optionalDependencies = Object.fromEntries(names.map((n) => [n, pkg.version]));
  delete pkg.devDependencies; delete pkg.scripts;
  fs.writeFileSync(path.join(dst, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
' "$ROOT/node" "$OUT/main"
(cd "$OUT/main" && npm pack --silent --pack-destination "$OUT" >/dev/null)
ls -l "$OUT"/*.tgz
tar -tzf "$OUT/landopp-$ver.tgz" | grep -q '\.node$' && { echo "the main package must not carry an addon" >&2; exit 1; }

# a fresh project; the platform tarball satisfies the main package's optional dependency
mkdir -p "$OUT/app" && cd "$OUT/app"
source "$ROOT/.ci/clean-env.sh"
"${clean[@]}" npm init -y >/dev/null
"${clean[@]}" npm install --no-audit --no-fund --loglevel=error "$OUT/landopp-linux-x64-gnu-$ver.tgz" "$OUT/landopp-$ver.tgz"
cp "$ROOT/node/test/usage.ts" ./usage.ts   # it imports from 'landopp': here, the installed package
cat > check.cjs <<'JS'
const landopp = require('landopp')
if (landopp.buildProfile() !== 'release') throw new Error('the packed addon is a ' + landopp.buildProfile() + ' build')
console.log('require: landopp', landopp.version(), landopp.buildProfile())
JS
cat > check.mjs <<'JS'
import * as landopp from 'landopp'
import { createRequire } from 'node:module'
const path = createRequire(import.meta.url).resolve('landopp-linux-x64-gnu')
if (!path.includes('node_modules/landopp-linux-x64-gnu/')) throw new Error(path)
const fc = await landopp.readLayer(process.argv[2])
console.log('import: landopp', landopp.version(), '—', fc.features.length, 'features read; addon from', path)
JS
"${clean[@]}" node check.cjs
"${clean[@]}" node check.mjs "$ROOT/fixtures/slovenia/lulc_polygons.gpkg"
# the typed usage file: type-checked against the installed package's declarations, then run (on
# the repository's fixtures)
"${clean[@]}" node "$ROOT/node/node_modules/typescript/bin/tsc" --strict --target es2022 --module nodenext \
  --moduleResolution nodenext --skipLibCheck --types node --typeRoots "$ROOT/node/node_modules/@types" --outDir out usage.ts
(cd "$ROOT" && "${clean[@]}" node "$OUT/app/out/usage.js")
echo "npm packages: packed, installed into a fresh project, required, imported and type-checked with no Rust toolchain on PATH"
