#!/usr/bin/env bash
# The production store's figures on 1 M real parcels (Bangor's, replicated x100 by
# server_compare.mjs with LANDOPP_BENCH_INPUTS_ONLY=1; pass that folder):
#   - import into PostGIS: `landopp-server import` (parcels + ten feature columns + one profile's
#     scores, WGS 84 and native geometry, interior point, geodesic area, hash partitions, GIST
#     indexes) vs `ogr2ogr -f PostgreSQL` of the same GeoPackage (its geometry and attribute
#     columns, GIST index), interleaved, median of N runs, each into a fresh database;
#   - replica start-up to ready from the imported database (median of N).
# Usage: benches/compare/pg_import_compare.sh INPUTS_DIR [N=5]
# Needs: a local PostgreSQL 15 + PostGIS (pg_ctlcluster 15 main start), gdal-bin, a release
# build (cargo build --release -p landopp-server), curl; run as root (databases made as postgres).
set -euo pipefail
in=${1:?usage: pg_import_compare.sh INPUTS_DIR [N]}
n=${2:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/target/release/landopp-server
attrs=$(paste -sd, "$in/columns.txt")
su postgres -c "psql -qAt -c \"SELECT 1 FROM pg_roles WHERE rolname='landopp_bench'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE landopp_bench LOGIN SUPERUSER PASSWORD 'landopp_bench'\""
url() { echo "postgres://landopp_bench:landopp_bench@127.0.0.1:5432/$1"; }
fresh() { su postgres -c "psql -qc 'DROP DATABASE IF EXISTS $1 WITH (FORCE)' -c 'CREATE DATABASE $1 OWNER landopp_bench'" 2>&1 | grep -v NOTICE || true; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
lo=(); og=()
trap 'jobs -p | xargs -r kill 2>/dev/null' EXIT
for i in $(seq "$n"); do
  fresh bench_ogr; su postgres -c "psql -qd bench_ogr -c 'CREATE EXTENSION postgis'"
  t=$(date +%s%N)
  ogr2ogr -f PostgreSQL "PG:dbname=bench_ogr host=127.0.0.1 user=landopp_bench password=landopp_bench" \
    "$in/parcels_x100.gpkg" -nln ogr_parcels -lco GEOMETRY_NAME=geom 2>/dev/null
  og+=("$(ms "$t")")
  fresh bench_lo; "$bin" migrate --database-url "$(url bench_lo)" >/dev/null
  t=$(date +%s%N)
  "$bin" import "$in/parcels_x100.gpkg" --id-field pid --attributes "$attrs" --profile "$in/profile.json" \
    --database-url "$(url bench_lo)" >/dev/null
  lo+=("$(ms "$t")")
done
rows=$(su postgres -c "psql -qAtd bench_lo -c 'SELECT COUNT(*) FROM land_parcels'")
st=()
for i in $(seq "$n"); do
  t=$(date +%s%N)
  LANDOPP_LOG=warn LANDOPP_DATABASE_URL=$(url bench_lo) LANDOPP_BOOTSTRAP_ADMIN_KEY=lok_0123456789abcdef_$(printf 'ab%.0s' $(seq 32)) "$bin" --listen 127.0.0.1:18997 --store /tmp/bench-unused.db >/dev/null 2>&1 &
  p=$!
  until curl -sf http://127.0.0.1:18997/readyz >/dev/null 2>&1; do sleep 0.02; kill -0 $p 2>/dev/null || { echo "replica died" >&2; exit 1; }; done
  st+=("$(ms "$t")")
  kill $p; wait $p 2>/dev/null || true
done
mo=$(printf '%s\n' "${og[@]}" | median); ml=$(printf '%s\n' "${lo[@]}" | median); ms_=$(printf '%s\n' "${st[@]}" | median)
echo "$rows parcels; $(date -u +%F); runs: ogr2ogr ${og[*]} ms / landopp import ${lo[*]} ms / replica start ${st[*]} ms"
echo
echo "| case | landopp | reference | ratio (reference / landopp) |"
echo "|---|---:|---:|---:|"
echo "| import 1 M parcels into PostGIS, median of $n interleaved runs | $ml ms ($(( rows * 1000 / ml )) parcels/s) | ogr2ogr $mo ms | $(awk -v a="$mo" -v b="$ml" 'BEGIN{printf "%.2f", a/b}')x |"
echo "| replica start-up to ready from PostGIS, 1 M parcels, median of $n | $ms_ ms | target 10000 ms | |"
