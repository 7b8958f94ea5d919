#!/usr/bin/env bash
# Streaming benchmark: 8 concurrent 20,000-token streams from the simulator at full speed,
# received once by `roundtable ask` and once by 8 concurrent `curl`s. Prints CPU-seconds
# (user+sys), wall time and peak resident memory of each, and the CPU ratio.
# Usage: benches/ask_vs_curl.sh [streams] [tokens] [whole|chunked]
#   whole    the simulator's writes reach the client as they are (large reads on loopback)
#   chunked  a relay in front of the simulator forwards each response in random-sized pieces
#            of 1 to 1400 bytes with pauses, so the client gets many small reads, as over a
#            real network (events split anywhere, several per read or one across many)
# BIN=path/to/roundtable measures another build (for before/after figures); RUNS=n (default 5)
# runs of each side are averaged; JSON=1 measures `ask --json`. `ask` gets a fresh data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-8}
tokens=${2:-20000}
delivery=${3:-whole}
port=${BENCH_PORT:-18787}
command -v curl >/dev/null || { echo "curl is needed: apt-get install curl" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then cargo build --release --quiet; fi
bin=${BIN:-target/release/roundtable}
"$bin" sim --port "$port" >/dev/null 2>&1 &
sim=$!
relay=""
trap 'kill $sim $relay 2>/dev/null' EXIT
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/api/v1/models" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port/api/v1"
if [ "$delivery" = chunked ]; then
  command -v python3 >/dev/null || { echo "python3 is needed for the chunked relay" >&2; exit 1; }
  relay_port=$((port + 1))
  python3 - "$port" "$relay_port" <<'PY' &
import random, socket, sys, threading, time
upstream, listen = int(sys.argv[1]), int(sys.argv[2])
def pipe(src, dst, chunked):
    rng = random.Random(7)
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if not chunked:
                dst.sendall(data)
                continue
            i = 0
            while i < len(data):
                n = rng.randint(1, 1400)
                dst.sendall(data[i:i + n])
                i += n
                if rng.random() < 0.3:
                    time.sleep(0.0002)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(client):
    server = socket.create_connection(("127.0.0.1", upstream))
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=pipe, args=(client, server, False), daemon=True).start()
    pipe(server, client, True)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", listen))
ls.listen(64)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
  relay=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$relay_port/api/v1/models" >/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$relay_port/api/v1"
fi
models=()
for i in $(seq "$streams"); do models+=(-m "bench-$i@tokens=$tokens@tps=0@ttft=0"); done
prompt="Write a long essay on congestion control"
tmp=$(mktemp -d)
# A fresh data directory: `ask` stores every answer, and a history grown by earlier runs must
# not change the figures (it did: the start-up check once re-read all of it).
export ROUNDTABLE_DATA_DIR="$tmp/data" ROUNDTABLE_CONFIG_DIR="$tmp/config" ROUNDTABLE_CACHE_DIR="$tmp/cache"

runs=${RUNS:-5}
measure() { # label, command... : the mean of $runs runs (one run is near /usr/bin/time's 10 ms resolution)
  local label=$1; shift
  local cpu_sum=0 wall_sum=0 rss_max=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/$label" "$@" >/dev/null
    read -r wall user sys rss <"$tmp/$label"
    cpu_sum=$(echo "$cpu_sum + $user + $sys" | bc -l)
    wall_sum=$(echo "$wall_sum + $wall" | bc -l)
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  done
  cpu=$(echo "$cpu_sum / $runs" | bc -l)
  printf "%-6s cpu %6.3fs  wall %6.3fs  peak rss %7.1f MiB  (mean of %d runs)\n" "$label" "$cpu" \
    "$(echo "$wall_sum / $runs" | bc -l)" "$(echo "$rss_max/1024" | bc -l)" "$runs"
  echo "$cpu" >"$tmp/$label.cpu"
}

# Warm-up so both runs see a warm simulator.
OPENROUTER_API_KEY=bench "$bin" ask -m warm@tokens=100@tps=0@ttft=0 --base-url "$base" hi >/dev/null

curl_all() {
  for i in $(seq "$streams"); do
    curl -sN "$base/chat/completions" -H "Authorization: Bearer bench" -H "Content-Type: application/json" \
      -d "{\"model\":\"bench-$i@tokens=$tokens@tps=0@ttft=0\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$prompt\"}]}" \
      >/dev/null &
  done
  wait
}
export -f curl_all
export base streams tokens prompt

echo "$streams streams x $tokens tokens, simulator at full speed, delivery: $delivery${JSON:+, ask --json}"
json=()
[ -n "${JSON:-}" ] && json=(--json)
OPENROUTER_API_KEY=bench measure ask "$bin" ask "${json[@]}" "${models[@]}" --base-url "$base" "$prompt"
measure curl bash -c curl_all
printf "ratio  ask/curl cpu = %.2f\n" "$(echo "$(cat "$tmp/ask.cpu") / $(cat "$tmp/curl.cpu")" | bc -l)"
rm -rf "$tmp"
