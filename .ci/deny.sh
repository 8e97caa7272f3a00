#!/usr/bin/env bash
# Supply-chain checks (deny.toml): licences, bans, sources, and RustSec advisories checked offline
# against the snapshot in ../shared/advisory-db (see its PROVENANCE.md). Installs cargo-deny when
# missing (crates.io, ~2 min). Usage: bash .ci/deny.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SNAP=${LANDOPP_ADVISORY_DB:-../shared/advisory-db}
if [ ! -d "$SNAP/crates" ]; then
  [ "${CI:-}" = "true" ] && { echo "the advisory snapshot $SNAP is missing (CI=true)" >&2; exit 1; }
  echo "SKIPPED: cargo deny (no advisory snapshot at $SNAP)"; exit 0
fi
# the version pinned here names the database folder below
cargo deny --version 2>/dev/null | grep -q ' 0\.20\.2$' || cargo install --locked -q cargo-deny@0.20.2
# cargo-deny reads a database as a git checkout named after its URL: the snapshot (files only) is
# committed once into a scratch repository with the snapshot's date, so staleness is measured
# from it, not from today
DBS=$(mktemp -d); trap 'rm -rf "$DBS"' EXIT
DB="$DBS/advisory-db-3157b0e258782691"
cp -r "$SNAP" "$DB"
date=$(grep -o -m1 '([0-9]\{4\}-[0-9][0-9]-[0-9][0-9])' "$SNAP/PROVENANCE.md" | tr -d '()') || true
[ -n "$date" ] || { echo "no snapshot date (YYYY-MM-DD) in $SNAP/PROVENANCE.md" >&2; exit 1; }
(cd "$DB" && git init -q && git add -A && GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z" \
  git -c user.name=snapshot -c user.email=snapshot@localhost commit -q -m "RustSec advisory-db snapshot ${date}")
cargo fetch --locked -q
LANDOPP_ADVISORY_DBS="$DBS" cargo deny --offline --locked check --show-stats advisories bans licenses sources
