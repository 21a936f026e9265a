#!/bin/sh
# cache's command and health check (compose.yaml), mounted into the Redis
# image. The password comes from the file REDIS_PASSWORD_FILE names (a Compose
# secret) or from REDIS_PASSWORD (the quick start's .env), and reaches Redis in
# a configuration read on standard input: never on a command line, where `ps`,
# `docker inspect` and `docker compose config` would show it. Empty: no password.
#   redis.sh start   Redis, through the image's entrypoint (which drops root for
#                    the redis user, as with the image's own command)
#   redis.sh ping    exits 0 when Redis answers PONG (authenticated when needed)
# Memory: at most REDIS_MAXMEMORY (256mb) of data; past it Redis evicts the
# least frequently used keys (allkeys-lfu: a value written once and never read
# goes before a rate-limit counter counted at every request). docs/operations.md.
set -eu

password=${REDIS_PASSWORD:-}
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
  if [ -n "$password" ]; then
    echo "cache: REDIS_PASSWORD and REDIS_PASSWORD_FILE are both set: set one" >&2
    exit 1
  fi
  if ! password=$(cat "$REDIS_PASSWORD_FILE"); then
    echo "cache: REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE cannot be read" >&2
    exit 1
  fi
fi
unset REDIS_PASSWORD

case "${1:-}" in
  start)
    # Tenacity 100: a write past the bound evicts until Redis is back under it
    # before it runs; the default (10) evicts in time slices, and a burst of
    # writes on a busy machine went 3.5 MB over a 32 MB bound.
    set -- --appendonly yes --maxmemory "${REDIS_MAXMEMORY:-256mb}" --maxmemory-policy allkeys-lfu \
      --maxmemory-eviction-tenacity 100
    if [ -z "$password" ]; then
      exec docker-entrypoint.sh redis-server "$@"
    fi
    # Every byte as \xHH in double quotes: any password passes Redis's parser.
    quoted=$(printf %s "$password" | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g')
    exec docker-entrypoint.sh redis-server "$@" - <<CONFIG
requirepass "$quoted"
CONFIG
    ;;
  ping)
    # redis-cli takes the password from REDISCLI_AUTH, not from its arguments;
    # the reply is compared, since redis-cli exits 0 on NOAUTH too.
    if [ -n "$password" ]; then
      REDISCLI_AUTH=$password
      export REDISCLI_AUTH
    fi
    redis-cli ping | grep -qx PONG
    ;;
  *)
    echo "usage: redis.sh start|ping" >&2
    exit 2
    ;;
esac
