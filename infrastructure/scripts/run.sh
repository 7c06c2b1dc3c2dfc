#!/usr/bin/env bash
# `make run`: the API on HOST:PORT at once, as before (it never waits for the web app), and
# beside it the web app on WEB_PORT once `make web-build` has installed and built it; in dev,
# the demo tenants once the API answers ready. Ctrl-C stops both.
set -uo pipefail
cd "$(dirname "$0")/../.."
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
WEB_PORT=${WEB_PORT:-3000}
export HOST PORT CARETRAIL_ENV=${CARETRAIL_ENV:-dev}
api="http://$HOST:$PORT"
# The address browsers reach the API at, and the app's origin the API lets them call it from.
export CARETRAIL_API_URL=${CARETRAIL_API_URL:-$api}
export CARETRAIL_CORS_ORIGINS=${CARETRAIL_CORS_ORIGINS:-"[\"http://$HOST:$WEB_PORT\", \"http://localhost:$WEB_PORT\"]"}

.venv/bin/caretrail serve &
api_pid=$!

(
  for _ in $(seq 1 600); do
    .venv/bin/python -c "import urllib.request as u; u.urlopen('$api/health/ready', timeout=2)" \
      2>/dev/null && break
    sleep 1
  done
  if [ "$CARETRAIL_ENV" = dev ]; then .venv/bin/caretrail demo --api "$api"; fi
) &

(
  make -s web-build >frontend/.run.log 2>&1 || { echo "web app: build failed, see frontend/.run.log"; exit 1; }
  cd frontend && exec ./node_modules/.bin/next start -H "$HOST" -p "$WEB_PORT" >>.run.log 2>&1
) &
web_pid=$!

trap 'kill $api_pid $web_pid 2>/dev/null; pkill -P $web_pid 2>/dev/null' EXIT
echo "API:     $api   (docs: $api/docs)"
echo "web app: http://$HOST:$WEB_PORT   (after its install and build; log: frontend/.run.log)"
wait $api_pid
