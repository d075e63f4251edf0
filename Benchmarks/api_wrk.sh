#!/usr/bin/env bash
# API request rate: wrk on GET /api/remote/connections against rviewer, next to nginx
# returning the same JSON body from the same machine in the same run (a ratio, not a test).
# Usage: Benchmarks/api_wrk.sh [seconds-per-run]   (make bench builds and runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
bin=.build/release/rviewer
[ -x "$bin" ] || swift build -c release --product rviewer
command -v wrk >/dev/null || { echo "wrk missing: run scripts/setup.sh bench" >&2; exit 1; }
work=$(mktemp -d)
cleanup() {
  [ -n "${rv_pid:-}" ] && kill "$rv_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --port 0 --state-dir "$work/state" --log-level warning >"$work/rv.out" 2>"$work/rv.err" &
rv_pid=$!
for _ in $(seq 100); do grep -q listening "$work/rv.out" 2>/dev/null && break; sleep 0.05; done
rv_port=$(grep -o '[0-9]*$' "$work/rv.out")
body=$(curl -s "http://127.0.0.1:$rv_port/api/remote/connections")

nginx_port=""
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/nginx"
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type application/json; return 200 '$body'; }
  }
}
CONF
  "$nginx_bin" -c "$work/nginx.conf" -p "$work/nginx" 2>/dev/null || nginx_port=""
  sleep 0.3
fi

run_wrk() { # url conns -> "rps p99"
  local out
  out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "${secs}s" --latency "$1" 2>&1)
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p99"
}

echo "API rate, GET /api/remote/connections, ${secs}s per run, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "(rviewer 1 reactor thread; nginx 1 worker returning the same body; wrk on the same machine)"
printf '| conns | rviewer req/s | rviewer p99 | nginx req/s | nginx p99 | ratio |\n|---|---|---|---|---|---|\n'
for c in 1 64 256; do
  read -r rrps rp99 < <(run_wrk "http://127.0.0.1:$rv_port/api/remote/connections" "$c")
  if [ -n "$nginx_port" ]; then
    read -r nrps np99 < <(run_wrk "http://127.0.0.1:$nginx_port/api/remote/connections" "$c")
    ratio=$(awk -v a="$rrps" -v b="$nrps" 'BEGIN { printf "%.2fx", a/b }')
  else
    nrps="-"; np99="-"; ratio="(nginx not installed)"
  fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$c" "$rrps" "$rp99" "$nrps" "$np99" "$ratio"
done
echo "rviewer threads during the run: $(awk '/^Threads/ {print $2}' /proc/$rv_pid/status), RSS $(awk '/^VmRSS/ {print $2" "$3}' /proc/$rv_pid/status)"
