#!/usr/bin/env bash
# Source me: a throwaway Redis for the server's tests (port 6390, no persistence) and
# LANDOPP_TEST_REDIS_URL. Installs redis-server (apt) when missing and we are root; otherwise
# skips visibly — except under CI=true, where a missing service is a failure.
redis_skip() {
  if [ "${CI:-}" = "true" ]; then echo "redis-server is required under CI=true: $*" >&2; return 1; fi
  echo "SKIPPED: the server's Redis tests ($*)"; unset LANDOPP_TEST_REDIS_URL; return 0
}
redis_setup() {
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing redis-server"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    else
      redis_skip "redis-server is not installed and apt is not ours to run"; return $?
    fi
  fi
  if ! redis-cli -p 6390 ping >/dev/null 2>&1; then
    redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null \
      || { redis_skip "redis-server does not start"; return $?; }
    for _ in $(seq 50); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  redis-cli -p 6390 flushall >/dev/null
  export LANDOPP_TEST_REDIS_URL="redis://127.0.0.1:6390/0"
  echo "Redis $(redis-cli -p 6390 info server | sed -n 's/^redis_version:\(.*\)\r*$/\1/p') ready: $LANDOPP_TEST_REDIS_URL"
}
redis_setup
