#!/usr/bin/env bash
# Re-record the perf script inputs of the collapse golden tests (root, perf, gcc, node needed).
# Not run by the tests: the recorded files are committed. After re-recording, check the diffs of
# tests/collapse/expected/ by hand, then re-bless with FLEETFLAME_BLESS=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/inputs
build=$(mktemp -d /tmp/fleetflame-collapse.XXXXXX)
trap 'rm -rf "$build"' EXIT
cflags="-O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-optimize-sibling-calls"
gcc $cflags -o "$build/deep" "$here/programs/deep.c"
gcc $cflags -pthread -o "$build/threads" "$here/programs/threads.c"
gcc $cflags -o "$build/jitlike" "$here/programs/jitlike.c"
# built without -g so its build-id differs from deep and perf finds no symbols for it anywhere
gcc -O1 -fno-omit-frame-pointer -fno-optimize-sibling-calls -o "$build/deep-stripped" "$here/programs/deep.c"
strip "$build/deep-stripped"
cd "$build"
fields=comm,pid,tid,time,period,event,ip,sym,symoff,dso

# keep the first records of a perf script file so that it stays under a size budget
trim() { python3 - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
limit = int(sys.argv[2])
records = data.split(b"\n\n")
out, size = [], 0
for r in records:
    if size + len(r) + 2 > limit:
        break
    out.append(r)
    size += len(r) + 2
sys.stdout.buffer.write(b"\n\n".join(out) + b"\n\n")
PY
}

rec() {  # rec NAME [perf record args] -- command...
  local name=$1; shift
  perf record -q --no-buildid-cache -F 999 -g -o "$name.data" "$@" >/dev/null 2>&1
}

rec deep -- ./deep 0.4
perf script -i deep.data --header 2>/dev/null > deep.txt
trim deep.txt 250000 > "$out/deep.txt"
perf script -i deep.data -F +srcline 2>/dev/null > deep-srcline.txt
trim deep-srcline.txt 250000 > "$out/deep-srcline.txt"

rec stripped -- ./deep-stripped 0.3
perf script -i stripped.data 2>/dev/null > stripped.txt
trim stripped.txt 150000 > "$out/stripped.txt"

rec threads -- ./threads 0.4
perf script -i threads.data -F $fields 2>/dev/null > threads.txt
trim threads.txt 280000 > "$out/threads.txt"

rec multi -e cpu-clock -e page-faults -- ./threads 0.3
perf script -i multi.data -F $fields 2>/dev/null > multi.txt
trim multi.txt 280000 > "$out/multi-event.txt"

rec jitlike -- ./jitlike 0.3
perf script -i jitlike.data 2>/dev/null > jitlike.txt
trim jitlike.txt 100000 > "$out/anon-exec.txt"

rec jitmap -- ./jitlike 0.3 map
perf script -i jitmap.data 2>/dev/null > jitmap.txt
trim jitmap.txt 100000 > "$out/jitmap.txt"

rec node -- node --perf-basic-prof "$here/programs/jit.js" 1
perf script -i node.data -F $fields 2>/dev/null > node.txt
trim node.txt 290000 > "$out/node-jit.txt"
ls -l "$out"
