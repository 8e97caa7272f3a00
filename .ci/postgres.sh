#!/usr/bin/env bash
# Source me: make a PostgreSQL 15 + PostGIS 3 database for the server's tests and export
# LANDOPP_TEST_DATABASE_URL. Installs (apt) and starts the cluster when missing and we are root;
# otherwise skips visibly — except under CI=true, where a missing service is a failure.
pg_skip() {
  if [ "${CI:-}" = "true" ]; then echo "PostgreSQL + PostGIS are required under CI=true: $*" >&2; return 1; fi
  echo "SKIPPED: the server's PostgreSQL tests ($*)"; unset LANDOPP_TEST_DATABASE_URL; return 0
}
pg_setup() {
  if [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing postgresql-15-postgis-3"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15-postgis-3 >/dev/null
    else
      pg_skip "postgresql-15-postgis-3 is not installed and apt is not ours to run"; return $?
    fi
  fi
  if ! pg_lsclusters -h 2>/dev/null | awk '$1 == "15" && $2 == "main" && $4 == "online"' | grep -q .; then
    if [ "$(id -u)" = 0 ]; then pg_ctlcluster 15 main start || { pg_skip "the cluster 15/main does not start"; return $?; }
    else pg_skip "the cluster 15/main is down and we are not root"; return $?; fi
  fi
  local q="psql -v ON_ERROR_STOP=1 -qAt"
  su postgres -c "$q -c \"SELECT 1 FROM pg_roles WHERE rolname = 'landopp_ci'\"" | grep -q 1 \
    || su postgres -c "$q -c \"CREATE ROLE landopp_ci LOGIN SUPERUSER PASSWORD 'landopp_ci'\"" >/dev/null
  su postgres -c "$q -c 'DROP DATABASE IF EXISTS landopp_ci WITH (FORCE)'" >/dev/null
  su postgres -c "$q -c 'CREATE DATABASE landopp_ci OWNER landopp_ci'" >/dev/null
  export LANDOPP_TEST_DATABASE_URL="postgres://landopp_ci:landopp_ci@127.0.0.1:5432/landopp_ci"
  echo "PostgreSQL $(su postgres -c "$q -c 'SHOW server_version'") + PostGIS ready: $LANDOPP_TEST_DATABASE_URL"
}
pg_setup
