#!/usr/bin/env bash
# Back up landopp-server's store to OUT.
#   PostgreSQL (LANDOPP_DATABASE_URL set): pg_dump custom format (-Fc), online, consistent;
#     LANDOPP_BACKUP_SCHEMA limits it to one schema.
#   Embedded SQLite (LANDOPP_STORE, default landopp-server.db): `landopp-server backup`
#     (VACUUM INTO: an online, consistent snapshot).
# Usage: deploy/backup.sh OUT   (LANDOPP_SERVER: the server binary, default landopp-server)
set -euo pipefail
out=${1:?usage: backup.sh OUT}
[ -e "$out" ] && { echo "backup.sh: $out exists" >&2; exit 1; }
if [ -n "${LANDOPP_DATABASE_URL:-}" ]; then
  args=(-Fc --no-owner -f "$out")
  [ -n "${LANDOPP_BACKUP_SCHEMA:-}" ] && args+=(-n "$LANDOPP_BACKUP_SCHEMA")
  pg_dump "${args[@]}" "$LANDOPP_DATABASE_URL"
else
  "${LANDOPP_SERVER:-landopp-server}" --store "${LANDOPP_STORE:-landopp-server.db}" backup "$out"
fi
echo "backed up to $out ($(du -h "$out" | cut -f1))"
