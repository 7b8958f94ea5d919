#!/usr/bin/env python3
"""Writes link/hot-code.ld: the functions a chatroom session runs, placed together at link time.

Why: the kernel maps a binary's code into the process 64 KiB around each page it faults in, so
the few thousand functions a session runs, spread over 15.9 MB of code, made ~11.8 MiB of the
chatroom's resident memory. Placed together they take a few MiB (README, "At a real model's
pace").

Usage: scripts/hot-code-layout.py BINARY CALLGRIND_OUT...
  BINARY is a release build linked without the layout (`ROUNDTABLE_NO_CODE_LAYOUT=1 cargo build
  --release`: valgrind does not name functions outside `.text`), and each CALLGRIND_OUT a whole
  session of it (start, a streamed answer, Ctrl+Q) under tmux, for example against
  `roundtable sim --port 18999`:
    valgrind --tool=callgrind --demangle=no --callgrind-out-file=one.out BINARY \
      --base-url http://127.0.0.1:18999/api/v1 -m bench/model-1@tokens=5000@tps=200@ttft=0
  The shipped file comes from three: that one, two panes, and the demo (no key, no --base-url).

The script names functions by their mangled path without the hash rustc appends (`17h…E`), so
the file stays useful when the compiler or a dependency changes the hashes; a path shared by
many instantiations of which few run (`<&T as Debug>::fmt`) is named exactly instead, hash and
all, where it would otherwise pull in more unused code than it places. Names the linker does
not find are ignored: a stale entry costs nothing but its placement.
"""

import collections
import os
import re
import subprocess
import sys

HASHED = re.compile(r"^(_ZN.*)17h[0-9a-f]{16}E$")
# A path whose instantiations that never ran add up to more than this (bytes) and to more than
# those that ran is named exactly.
OVER_BYTES = 8 * 1024


def executed(path, binary_name):
    """Mangled names of the functions of `binary_name` that a callgrind profile saw run."""
    names, objects, seen = {}, {}, set()
    current_object = callee_object = None
    for line in open(path, errors="replace"):
        m = re.match(r"(c?ob)=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(3):
                objects[m.group(2)] = m.group(3).strip()
            obj = objects.get(m.group(2))
            if m.group(1) == "ob":
                current_object = obj
            else:
                callee_object = obj
            continue
        m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3).strip()
            name = names.get(m.group(2))
            obj = current_object if m.group(1) == "fn" else callee_object
            if name and obj and obj.endswith(binary_name):
                seen.add(name)
    return seen


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, profiles = sys.argv[1], sys.argv[2:]
    symbols = {}
    nm = subprocess.run(["nm", "-S", binary], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4 and parts[2] in "tT":
            symbols[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    runs = collections.Counter()
    for path in profiles:
        for name in executed(path, binary.rsplit("/", 1)[-1]):
            if name in symbols:
                runs[name] += 1
    path_of = lambda name: (HASHED.match(name) or [None, None])[1]
    total, ran = collections.Counter(), collections.Counter()
    for name, (_, size) in symbols.items():
        p = path_of(name)
        if p:
            total[p] += size
            if name in runs:
                ran[p] += size
    # Most often run first (every session's path, then what only some ran), then in the order
    # the compiler laid them out, which keeps callers near their callees.
    order = sorted(runs, key=lambda n: (-runs[n], symbols[n][0]))
    patterns, placed = [], set()
    for name in order:
        p = path_of(name)
        unused = total[p] - ran[p] if p else 0
        pattern = name if not p or (unused > OVER_BYTES and unused > ran[p]) else p + "17h*"
        if pattern not in placed:
            placed.add(pattern)
            patterns.append(pattern)
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "link", "hot-code.ld")
    with open(target, "w") as out:
        out.write("/* Written by scripts/hot-code-layout.py: the code a chatroom session runs, together\n")
        out.write("   (build.rs passes it to the linker for release builds on Linux). Do not edit. */\n")
        out.write("SECTIONS\n{\n  .text.hot : {\n")
        for pattern in patterns:
            # LLVM puts code it expects to run once (`main`, argument parsing) in `.text.unlikely.`.
            out.write(f"    *(.text.{pattern} .text.unlikely.{pattern})\n")
        out.write("  }\n}\nINSERT BEFORE .text;\n")
    size = sum(symbols[n][1] for n in runs)
    print(f"{len(runs)} functions ran ({size / 1e6:.2f} MB), {len(patterns)} patterns -> link/hot-code.ld")


if __name__ == "__main__":
    main()
