"""Fixed POSIX shell scripts that look at a host without recording (`tiles`, `check`).

Each is a constant run with `connection.base.sh(SCRIPT, NAME, ARG...)`: inventory values only
ever arrive as positional arguments, never spliced into script text. `THREAD_LINES` is the one
thread listing: this module's `THREADS` runs it alone, the capture session (`capture/scripts.py`)
runs the same text with a `thread ` prefix on each line.
"""

from __future__ import annotations

# `PREFIX PID TID COMM` per thread, PREFIX being $tp (empty for `THREADS`). `read` is a shell
# builtin, so no process per thread.
THREAD_LINES = r"""
for t in /proc/[0-9]*/task/[0-9]*; do
  IFS= read -r c 2>/dev/null < "$t/comm" || continue
  t=${t#/proc/}
  printf '%s%s %s %s\n' "$tp" "${t%%/*}" "${t##*/}" "$c"
done
"""

THREADS = "tp=\n" + THREAD_LINES

# Preflight facts for `fleetflame check`, one `key=value` per line. `capdrop` says how perf script
# can run without CAP_SYS_ADMIN (needed for sandboxed tiles' symbols, see capture/scripts.py);
# `capsysadmin=1` when we hold CAP_SYS_ADMIN, i.e. when that drop is needed at all.
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
eff=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status 2>/dev/null)
case $eff in
  *[1-9a-f]*) [ $(( 0x$eff >> 21 & 1 )) = 1 ] && echo "capsysadmin=1" ;;
esac
if setpriv --bounding-set -sys_admin -- true > /dev/null 2>&1; then echo "capdrop=setpriv"
elif capsh --drop=cap_sys_admin -- -c true > /dev/null 2>&1; then echo "capdrop=capsh"
else echo "capdrop="; fi
"""
