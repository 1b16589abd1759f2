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

# How perf script runs without CAP_SYS_ADMIN in its bounding set (Firedancer's `flame` drops it
# for the same reason: with it, perf enters each sandboxed tile's empty mount namespace and names
# nothing). One probe for the capture session (capture/scripts.py) and `check`: `choose_capdrop`
# sets `capdrop` to the tool that demonstrably drops it (setpriv, capsh), `plain` when perf script
# cannot hold it anyway, or "" (status 1) when it would and nothing here can drop it; `symbolizer
# CMD...` runs CMD that way. Needs `$me`, the uid the script runs as.
CAPDROP = r"""
sys_admin_in() {  # SET: is CAP_SYS_ADMIN (bit 21) in capability SET (CapBnd...) of the status on stdin? (unknown: yes)
  v=
  while read -r k rest; do [ "$k" = "$1:" ] && v=$rest; done
  case $v in *[!0-9a-fA-F]*|''|?|??|???|????|?????) return 0 ;; esac
  v=${v#"${v%??????}"}
  [ $(( (0x$v >> 21) & 1 )) = 1 ]
}
symbolizer() {  # CMD...: run CMD without CAP_SYS_ADMIN in its bounding set, as choose_capdrop chose
  case ${capdrop:-} in
    setpriv) setpriv --bounding-set -sys_admin -- "$@" ;;
    capsh) capsh --drop=cap_sys_admin -- -c 'exec "$@"' fleetflame-symbolize "$@" ;;
    plain) "$@" ;;
    *) echo "fleetflame: perf script not started: the capability check did not run" >&2; return 1 ;;  # (a bug)
  esac
}
choose_capdrop() {  # set capdrop: setpriv|capsh|plain (no drop needed); "" and status 1: needed, no way
  capdrop=plain
  sys_admin_in CapBnd < /proc/$$/status || return 0   # perf script cannot gain it at all
  # an unprivileged user's perf script has no CAP_SYS_ADMIN (root's regains its bounding set at exec)
  [ "$me" = 0 ] || sys_admin_in CapPrm < /proc/$$/status || return 0
  for capdrop in setpriv capsh; do
    command -v "$capdrop" > /dev/null 2>&1 || continue
    # the tool must work here (it needs CAP_SETPCAP) and what it runs must really lack CAP_SYS_ADMIN
    st=$(symbolizer cat /proc/self/status < /dev/null 2> /dev/null) || continue
    printf '%s\n' "$st" | sys_admin_in CapBnd && continue
    printf '%s\n' "$st" | sys_admin_in CapEff && continue
    return 0
  done
  capdrop=
  return 1
}
"""

# Preflight facts for `fleetflame check`, one `key=value` per line. `capdrop` says how perf script
# can run without CAP_SYS_ADMIN (needed for sandboxed tiles' symbols, see capture/scripts.py);
# `capsysadmin=1` when we hold CAP_SYS_ADMIN, i.e. when that drop is needed at all.
CHECK = CAPDROP + r"""
perf=$1 tmpdir=$2
echo "uid=$(id -u)"
if v=$("$perf" --version 2>/dev/null); then echo "perf=$v"; else echo "perf="; fi
echo "paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)"
for c in timeout setsid gzip sha256sum stat mktemp dd tail nice df; do
  command -v "$c" > /dev/null 2>&1 || echo "missing=$c"
done
if [ -d "$tmpdir" ] && [ -w "$tmpdir" ]; then echo "tmpdir_writable=1"; fi
df -Pk "$tmpdir" 2>/dev/null | awk 'NR == 2 { print "free_kb=" $4 }'
me=$(id -u)
if choose_capdrop; then
  case $capdrop in setpriv|capsh) echo "capsysadmin=1" ;; esac
else
  echo "capsysadmin=1"
fi
echo "capdrop=$capdrop"
"""
