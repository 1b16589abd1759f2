"""The fixed POSIX shell scripts fleetflame runs on hosts, and how to call them.

Each script is a constant run as `sh -c SCRIPT NAME ARG...`: inventory values and tile ids only
ever arrive as positional arguments, quoted by the connection layer, never spliced into script
text. A capture lives in its own folder on the host, `TMPDIR/fleetflame-CAPTURE_ID/`:

    meta.json       what the control machine knew when it started the capture
    started         perf's start time (`date +%s.%N` on the host)
    timeout.pid     pid of `timeout`, which bounds perf and forwards a stop signal to it
    perf.data       perf's recording; perf.stderr its messages; rc its exit status (written last)
    perf.script.gz  `perf script` output, gzip; script.rc its exit status
"""

from __future__ import annotations

from collections.abc import Sequence

# Thread listing: `PID TID COMM` per thread. `read` is a shell builtin, so no process per thread.
THREADS = r"""
for t in /proc/[0-9]*/task/[0-9]*; do
  IFS= read -r c 2>/dev/null < "$t/comm" || continue
  t=${t#/proc/}
  printf '%s %s %s\n' "${t%%/*}" "${t##*/}" "$c"
done
"""

# Prepare the capture folder, say "ready", wait for "go" on stdin, then start perf detached from
# this session (setsid, no inherited stdio) so that neither a dropped link nor the end of this
# SSH channel stops it; `timeout` bounds it even if the control machine is never heard from again.
START = r"""
dir=$1 dur=$2 owner=${SUDO_UID:-$(id -u)}
shift 2
command -v "$1" > /dev/null 2>&1 || { echo "$1: command not found" >&2; exit 7; }
umask 077
mkdir -p "$dir" && cd "$dir" || exit 3
IFS= read -r meta || exit 4
printf '%s\n' "$meta" > meta.json
echo ready
IFS= read -r go || exit 5
[ "$go" = go ] || exit 5
setsid sh -c '
  owner=$1 dur=$2
  shift 2
  date +%s.%N > started.tmp && mv started.tmp started
  timeout --preserve-status -s INT -k 10 "$dur" "$@" -o perf.data 2> perf.stderr &
  echo $! > timeout.pid
  wait $!
  echo $? > rc.tmp
  chown -R "$owner" . 2>/dev/null
  mv rc.tmp rc
' fleetflame-record "$owner" "$dur" "$@" < /dev/null > /dev/null 2>&1 &
while [ ! -e timeout.pid ] || [ ! -e started ]; do sleep 0.01; done
cat started
"""

# Ask perf to stop now, as Ctrl-C does for `fdctl flame`: SIGINT to timeout, which passes it on.
STOP = r"""
cd "$1" || exit 3
[ -e rc ] && exit 0
[ -e timeout.pid ] && kill -INT "$(cat timeout.pid)" 2>/dev/null
exit 0
"""

# Wait (at most $2 seconds) until perf has ended; print `RC STARTED` and perf's messages. The
# first $3 seconds are polled once a second, the rest ten times a second: few processes while perf
# records, a prompt answer when it ends (or fails at once, or is stopped early).
WAIT = r"""
cd "$1" || exit 3
n=$(( $2 * 10 )) slow=$3
while [ ! -e rc ]; do
  [ "$n" -gt 0 ] || exit 4
  if [ "$slow" -gt 0 ]; then
    slow=$((slow - 1)) n=$((n - 10))
    sleep 1
  else
    n=$((n - 1))
    sleep 0.1
  fi
done
printf '%s %s\n' "$(cat rc)" "$(cat started 2>/dev/null)"
cat perf.stderr 2>/dev/null
"""

# Where symbolizing stands: `done` (perf.script.gz complete), `running` (another fetch is at it),
# or `none`; and whether perf has ended (`rc`).
STATE = r"""
cd "$1" || exit 3
if [ -e perf.script.gz ]; then s=done
elif [ -d symbolize.lock ] && kill -0 "$(cat symbolize.lock/pid 2>/dev/null)" 2>/dev/null; then s=running
else s=none; fi
printf '%s %s\n' "$s" "$(cat rc 2>/dev/null || echo -)"
"""

# Symbolize where the binaries are, at low priority, streaming gzip to stdout while keeping a
# copy on the host (tee -p carries on if the link drops) so an interrupted fetch can resume by
# SFTP. A lock folder keeps two fetches from symbolizing at once; exit 10 means "already done or
# in progress elsewhere: pull perf.script.gz instead".
SYMBOLIZE = r"""
cd "$1" || exit 3
perf=$2 owner=${SUDO_UID:-$(id -u)}
shift 2
umask 077
[ -e perf.script.gz ] && exit 10
if ! mkdir symbolize.lock 2>/dev/null; then
  kill -0 "$(cat symbolize.lock/pid 2>/dev/null)" 2>/dev/null && exit 10
  rm -rf symbolize.lock && mkdir symbolize.lock || exit 10
fi
echo $$ > symbolize.lock/pid
{ nice -n 19 "$perf" script -f -i perf.data "$@" 2> script.stderr; echo $? > script.rc; } \
  | gzip -1 | tee -p perf.script.gz.tmp
if [ "$(cat script.rc)" != 0 ]; then cat script.stderr >&2; rm -rf symbolize.lock; exit 6; fi
mv perf.script.gz.tmp perf.script.gz
chown -R "$owner" . 2>/dev/null
rm -rf symbolize.lock
exit 0
"""

# `SIZE SHA256 NAME` for each file that exists.
SUMS = r"""
cd "$1" || exit 3
shift
for f; do
  [ -e "$f" ] || continue
  printf '%s %s\n' "$(wc -c < "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"" $f"
done
"""

CLEAN = r"""
case $1 in
  */fleetflame-*) rm -rf -- "$1" ;;
  *) echo "refusing to remove $1" >&2; exit 3 ;;
esac
"""

# Every capture folder on the host: the path, then its meta.json on one line.
LIST = r"""
for d in "$1"/fleetflame-*/; do
  [ -e "$d/meta.json" ] || continue
  printf '%s\t' "${d%/}"
  head -n 1 "$d/meta.json"
done
"""


def sh(script: str, name: str, *args: object) -> list[str]:
    """argv running a fixed script with positional arguments."""
    return ["sh", "-c", script, f"fleetflame-{name}", *(str(a) for a in args)]


def capture_dir(tmpdir: str, capture_id: str) -> str:
    return f"{tmpdir.rstrip('/') or ''}/fleetflame-{capture_id}"


def perf_record_argv(
    perf: str, frequency: int, call_graph: str, target_args: Sequence[str]
) -> list[str]:
    return [perf, "record", "-F", str(frequency), "--call-graph", call_graph, *target_args]

# Preflight facts for `fleetflame check`, one `key=value` per line.
CHECK = r"""
perf=$1 tmpdir=$2
echo "uid=$(id -u)"
if v=$("$perf" --version 2>/dev/null); then echo "perf=$v"; else echo "perf="; fi
echo "paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)"
for c in timeout setsid gzip sha256sum tee nice; do
  command -v "$c" > /dev/null 2>&1 || echo "missing=$c"
done
if [ -d "$tmpdir" ] && [ -w "$tmpdir" ]; then echo "tmpdir_writable=1"; fi
df -Pk "$tmpdir" 2>/dev/null | awk 'NR == 2 { print "free_kb=" $4 }'
"""
