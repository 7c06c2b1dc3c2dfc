#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, starting
# them with the machine's own service commands when they do not. Tests need PostgreSQL; when no
# server can be started here the test suite falls back to an embedded PostgreSQL (see
# tests/conftest.py), so a missing server is reported, not fatal.
set -u

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  echo "starting PostgreSQL"
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
fi
pg_up && echo "PostgreSQL: up" || echo "PostgreSQL: not reachable at 127.0.0.1:5432 (tests will use an embedded server)"

if ! redis_up && command -v redis-server >/dev/null; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 20); do redis_up && break; sleep 0.25; done
fi
redis_up && echo "Redis: up" || echo "Redis: not reachable at 127.0.0.1:6379"
exit 0
