#!/usr/bin/env bash
# Takes docs/screenshot.png: the real Runicorn viewer, started by rviewer on a "remote"
# server (a loopback sshd with its own host key and config, logging in as a user of its
# own whose home holds a venv with runicorn from PyPI and three demo runs), opened at its
# http://localhost URL through rviewer's tunnel by a headless Chromium.
# Needs root (the login user) and Debian's chromium. Usage: scripts/readme-screenshot.sh [binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug/rviewer}
[ "$(id -u)" -eq 0 ] || { echo "readme-screenshot: needs root" >&2; exit 1; }
command -v chromium >/dev/null || apt-get install -y -qq chromium
[ -x "$bin" ] || swift build --product rviewer
home=/var/tmp/rviewer-shot-home; user=rviewer-shot
work=$(mktemp -d); chmod 755 "$work"
cleanup() { for p in ${rv_pid:-} ${sshd_pid:-}; do kill "$p" 2>/dev/null || true; done; pkill -u "$user" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

id "$user" >/dev/null 2>&1 || useradd -M -s /bin/sh -d "$home" "$user"
mkdir -p "$home"
# The system python3: a pyenv one under /root would not run as the login user.
[ -x "$home/venvs/demo/bin/runicorn" ] && "$home/venvs/demo/bin/python" -c "" 2>/dev/null && [ "$(readlink -f "$home/venvs/demo/bin/python3")" = "$(readlink -f /usr/bin/python3)" ] || { rm -rf "$home/venvs/demo"; /usr/bin/python3 -m venv "$home/venvs/demo"; "$home/venvs/demo/bin/pip" install -q --disable-pip-version-check runicorn; }
rm -rf "$home/runs"
"$home/venvs/demo/bin/python" - "$home/runs" <<'PY'
import math, random, sys
import runicorn as rn
random.seed(7)
for name, lr in [("baseline", 0.1), ("warmup", 0.05), ("cosine", 0.08)]:
    run = rn.init(path="resnet18/cifar10", storage=sys.argv[1], alias=name)
    for step in range(300):
        decay = math.exp(-step * lr / 12)
        run.log({"train/loss": 2.3 * decay + 0.15 + random.uniform(-0.04, 0.04),
                 "val/accuracy": 0.95 - 0.85 * decay + random.uniform(-0.01, 0.01)}, step=step)
    run.summary({"best_accuracy": 0.95 - 0.85 * math.exp(-299 * lr / 12)})
    run.finish()
PY
chown -R "$user" "$home"

ssh-keygen -q -t ed25519 -N '' -f "$work/host"; ssh-keygen -q -t ed25519 -N '' -f "$work/key"
cp "$work/key.pub" "$work/authorized_keys"
sport=$(free_port); mkdir -p /run/sshd
printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPidFile %s\nStrictModes no\nUsePAM yes\n' \
  "$sport" "$work/host" "$work/authorized_keys" "$work/sshd.pid" > "$work/sshd_config"
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" & sshd_pid=$!
"$bin" serve --port 0 --state-dir "$work/state" --log-level warning > "$work/rv.out" 2> "$work/rv.err" & rv_pid=$!
for _ in $(seq 100); do grep -q listening "$work/rv.out" 2>/dev/null && break; sleep 0.1; done
api="http://127.0.0.1:$(grep -o '[0-9]*$' "$work/rv.out")"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
id=$(curl -s -XPOST "$api/api/remote/connect" -H 'Content-Type: application/json' \
  -d "{\"host\":\"127.0.0.1\",\"port\":$sport,\"username\":\"$user\",\"auth_method\":\"key\",\"private_key_path\":\"$work/key\"}" | json '["connection_id"]')
start=$(curl -s -XPOST "$api/api/remote/viewer/start" -H 'Content-Type: application/json' \
  -d "{\"connection_id\":\"$id\",\"env_name\":\"demo\",\"remote_root\":\"$home/runs\",\"auto_open\":false}")
url=$(json '["viewer"]["url"]' <<<"$start") || { echo "viewer start: $start" >&2; exit 1; }
echo "viewer at $url"
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,800 \
  --virtual-time-budget=8000 --screenshot="$PWD/docs/screenshot.png" "$url" 2>/dev/null
echo "wrote docs/screenshot.png"
