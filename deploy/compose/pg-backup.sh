#!/bin/sh
# The backup and restore services of compose.yaml (profile `tools`: never
# started by `up`), mounted into the Postgres image:
#   docker compose run --rm backup          a dump of the database into BACKUP_DIR
#   docker compose run --rm restore <file>  that dump (a file of BACKUP_DIR) into db
# The dump is pg_dump's custom format (-Fc): one consistent snapshot, taken
# while writes go on. The password comes from POSTGRES_PASSWORD_FILE (a
# Compose secret) or POSTGRES_PASSWORD, through a password file of this
# container's own: never on a command line. docs/operations.md: Backups.
set -eu

dir=/backups
# BACKUP_DIR as the host names it, for the messages.
shown=${BACKUP_DIR_ON_HOST:-$dir}

password=${POSTGRES_PASSWORD:-}
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  password=$(cat "$POSTGRES_PASSWORD_FILE")
fi
unset POSTGRES_PASSWORD
umask 077
PGPASSFILE=$(mktemp)
export PGPASSFILE
# .pgpass fields: a backslash or a colon in the password is escaped.
printf '*:*:*:*:%s\n' "$(printf %s "$password" | sed 's/[\\:]/\\&/g')" > "$PGPASSFILE"
export PGHOST=db PGUSER="${POSTGRES_USER:-postgres}" PGDATABASE="${POSTGRES_DB:-desafio3}"

case "${1:-}" in
  backup)
    name="desafio3-$(date -u +%Y%m%dT%H%M%SZ).dump"
    # Written under a temporary name, renamed once complete: a dump in the
    # folder is always a whole one.
    pg_dump --format=custom --file="$dir/.$name.partial"
    mv "$dir/.$name.partial" "$dir/$name"
    # Owned like the folder, so that its owner on the host can read and remove it.
    chown "$(stat -c %u:%g "$dir")" "$dir/$name"
    chmod 0600 "$dir/$name"
    echo "backup written: $shown/$name ($(du -h "$dir/$name" | cut -f1))"
    if [ "${BACKUP_KEEP:-0}" -gt 0 ]; then
      # The newest BACKUP_KEEP dumps stay (names sort by time).
      ls "$dir"/desafio3-*.dump | sort -r | tail -n +"$((BACKUP_KEEP + 1))" | while read -r old; do
        rm -f "$old"
        echo "removed the older $shown/$(basename "$old")"
      done
    fi
    ;;
  restore)
    file=${2:?usage: docker compose run --rm restore <a file of BACKUP_DIR>}
    path="$dir/$(basename "$file")"
    if [ ! -f "$path" ]; then
      echo "restore: no file $shown/$(basename "$file")" >&2
      exit 1
    fi
    if ! pg_restore --list "$path" > /dev/null 2>&1; then
      echo "restore: $shown/$(basename "$file") is not a dump of pg_dump's custom format: nothing restored" >&2
      exit 1
    fi
    # What the dump holds replaces what db holds (tables, their rows, the
    # counts and the migrations' record), in one transaction: all or nothing.
    pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error --dbname="$PGDATABASE" "$path"
    echo "restored $shown/$(basename "$file") into $PGDATABASE"
    ;;
  *)
    echo "usage: pg-backup.sh backup | restore <file>" >&2
    exit 2
    ;;
esac
