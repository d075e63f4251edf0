#!/usr/bin/env bash
# Environment detection: SSH exec channels and wall time of a full detection for
# 1, 10 and 100 environments, against a loopback sshd (a benchmark, not a test).
# Needs root (it creates the login user whose home holds the environments).
# Usage: Benchmarks/detect_bench.sh [runs-per-point]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
[ "$(id -u)" -eq 0 ] || { echo "detect_bench: needs root" >&2; exit 1; }
bin=.build/release/rviewer
[ -x "$bin" ] || swift build -c release --product rviewer
work=$(mktemp -d); chmod 755 "$work"; user=rviewer-bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cleanup() { [ -n "${rv_pid:-}" ] && kill "$rv_pid" 2>/dev/null; [ -n "${sshd_pid:-}" ] && kill "$sshd_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$work/host"; ssh-keygen -q -t ed25519 -N '' -f "$work/key"
cp "$work/key.pub" "$work/authorized_keys"
sport=$(free_port); mkdir -p /run/sshd
cat >"$work/sshd_config" <<CONF
Port $sport
ListenAddress 127.0.0.1
HostKey $work/host
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
StrictModes no
UsePAM yes
LogLevel VERBOSE
CONF
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" & sshd_pid=$!
home="$work/home"
id "$user" >/dev/null 2>&1 && usermod -d "$home" "$user" || useradd -M -s /bin/sh -d "$home" "$user"
"$bin" serve --port 0 --state-dir "$work/state" --log-level warning >"$work/rv.out" 2>"$work/rv.err" & rv_pid=$!
for _ in $(seq 100); do grep -q listening "$work/rv.out" 2>/dev/null && break; sleep 0.05; done
api="http://127.0.0.1:$(grep -o '[0-9]*$' "$work/rv.out")"
for _ in $(seq 100); do python3 -c "import socket; socket.create_connection((\"127.0.0.1\", $sport), 0.2)" 2>/dev/null && break; sleep 0.05; done
id=$(curl -s -XPOST "$api/api/remote/connect" -H 'Content-Type: application/json' \
  -d "{\"host\":\"127.0.0.1\",\"port\":$sport,\"username\":\"$user\",\"auth_method\":\"key\",\"private_key_path\":\"$work/key\"}" \
  | tee "$work/connect.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["connection_id"])') || { cat "$work/connect.json" "$work/sshd.log" >&2; exit 1; }
ping=$(curl -s "$api/api/remote/ping?connection_id=$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["latency_ms"])')

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "# Environment detection"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($cpu); libssh2 $(curl -s "$api/api/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["libraries"]["libssh2"])'); loopback sshd; median of $runs runs"
echo "(SSH round trip measured by ping: ${ping} ms)"
printf '| environments | exec channels | wall ms (median) | min | max |\n|---|---|---|---|---|\n'
for n in 1 10 100; do
  rm -rf "$home"; mkdir -p "$home/venvs"
  for i in $(seq "$n"); do /usr/bin/python3 -m venv --without-pip "$home/venvs/env$i"; done
  chown -R "$user" "$home"
  times=()
  before=$(grep -c "Starting session" "$work/sshd.log" || true)
  for _ in $(seq "$runs"); do
    t=$(curl -s -o "$work/detect.json" -w '%{time_total}' -XPOST "$api/api/remote/environments/detect" \
        -H 'Content-Type: application/json' -d "{\"connection_id\":\"$id\",\"force_refresh\":true}")
    times+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t*1000 }')")
  done
  after=$(grep -c "Starting session" "$work/sshd.log" || true)
  found=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["environments_found"])' "$work/detect.json")
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  printf '| %s (found %s) | %s per detection | %s | %s | %s |\n' "$n" "$found" "$(( (after - before) / runs ))" \
    "$(sed -n "$(( (runs + 1) / 2 ))p" <<<"$sorted")" "$(head -n1 <<<"$sorted")" "$(tail -n1 <<<"$sorted")"
done
