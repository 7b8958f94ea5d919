#!/usr/bin/env bash
# Streaming benchmark: 8 concurrent 20,000-token streams from the simulator at full speed,
# received once by `roundtable ask` and once by 8 concurrent `curl`s. Prints CPU-seconds
# (user+sys), wall time and peak resident memory of each, and the CPU ratio.
# Usage: benches/ask_vs_curl.sh [streams] [tokens]
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-8}
tokens=${2:-20000}
port=${BENCH_PORT:-18787}
command -v curl >/dev/null || { echo "curl is needed: apt-get install curl" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }

cargo build --release --quiet
bin=target/release/roundtable
"$bin" sim --port "$port" >/dev/null 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null' EXIT
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/api/v1/models" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port/api/v1"
models=()
for i in $(seq "$streams"); do models+=(-m "bench-$i@tokens=$tokens@tps=0@ttft=0"); done
prompt="Write a long essay on congestion control"
tmp=$(mktemp -d)

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/$label" "$@" >/dev/null
  read -r wall user sys rss <"$tmp/$label"
  cpu=$(echo "$user + $sys" | bc -l)
  printf "%-6s cpu %6.2fs  wall %6.2fs  peak rss %7.1f MiB\n" "$label" "$cpu" "$wall" "$(echo "$rss/1024" | bc -l)"
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

echo "$streams streams x $tokens tokens, simulator at full speed"
OPENROUTER_API_KEY=bench measure ask "$bin" ask "${models[@]}" --base-url "$base" "$prompt"
measure curl bash -c curl_all
printf "ratio  ask/curl cpu = %.2f\n" "$(echo "$(cat "$tmp/ask.cpu") / $(cat "$tmp/curl.cpu")" | bc -l)"
rm -rf "$tmp"
