"""Fixed POSIX shell scripts for looking at hosts (`tiles`, `check`), and how to call any script.

Each script is a constant run as `sh -c SCRIPT NAME ARG...`: inventory values and tile ids only
ever arrive as positional arguments, quoted by the connection layer, never spliced into script
text. The capture itself has its own script, `capture/scripts.py`.
"""

from __future__ import annotations

# Thread listing: `PID TID COMM` per thread. `read` is a shell builtin, so no process per thread.
THREADS = r"""
for t in /proc/[0-9]*/task/[0-9]*; do
  IFS= read -r c 2>/dev/null < "$t/comm" || continue
  t=${t#/proc/}
  printf '%s %s %s\n' "${t%%/*}" "${t##*/}" "$c"
done
"""


def sh(script: str, name: str, *args: object) -> list[str]:
    """argv running a fixed script with positional arguments."""
    return ["sh", "-c", script, f"fleetflame-{name}", *(str(a) for a in args)]


# Preflight facts for `fleetflame check`, one `key=value` per line.
CHECK = r"""
perf=$1 tmpdir=$2
echo "uid=$(id -u)"
if v=$("$perf" --version 2>/dev/null); then echo "perf=$v"; else echo "perf="; fi
echo "paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)"
for c in timeout setsid gzip sha256sum stat mktemp dd tail nice df; do
  command -v "$c" > /dev/null 2>&1 || echo "missing=$c"
done
if [ -d "$tmpdir" ] && [ -w "$tmpdir" ]; then echo "tmpdir_writable=1"; fi
df -Pk "$tmpdir" 2>/dev/null | awk 'NR == 2 { print "free_kb=" $4 }'
"""
