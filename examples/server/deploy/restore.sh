#!/usr/bin/env bash
# Restore landopp-server's store from a backup made by backup.sh. Stop the servers first.
#   PostgreSQL (LANDOPP_DATABASE_URL set): pg_restore --clean --if-exists into that database
#     (the dump's objects are dropped and re-made; other objects are left alone).
#   Embedded SQLite (LANDOPP_STORE, default landopp-server.db): the backup file replaces the
#     store (its -wal and -shm files removed), after an integrity check.
# Usage: deploy/restore.sh BACKUP
set -euo pipefail
in=${1:?usage: restore.sh BACKUP}
[ -f "$in" ] || { echo "restore.sh: $in does not exist" >&2; exit 1; }
if [ -n "${LANDOPP_DATABASE_URL:-}" ]; then
  pg_restore --clean --if-exists --no-owner --single-transaction -d "$LANDOPP_DATABASE_URL" "$in"
else
  store=${LANDOPP_STORE:-landopp-server.db}
  # the backup must be a sound SQLite file before it replaces anything
  head -c 16 "$in" | grep -q "SQLite format 3" || { echo "restore.sh: $in is not an SQLite file" >&2; exit 1; }
  tmp="$store.restoring"
  cp "$in" "$tmp"
  rm -f "$store-wal" "$store-shm"
  mv -f "$tmp" "$store"
fi
echo "restored from $in"
