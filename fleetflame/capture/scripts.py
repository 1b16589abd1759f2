"""The POSIX shell script that runs one capture on a host, and the codes it exits with.

One script, one SSH exec channel per host and capture: `SESSION` creates the host's capture
folder, lists the threads, takes the start signal, starts perf detached from the channel, waits
for it, symbolizes while streaming the result back, sends perf.data, and removes the folder once
the control machine says its results are safe. `fetch` runs the same script in `attach` mode on
a folder left by an earlier run. Values from an inventory or a target reach it only as positional
arguments or as stdin lines it validates; nothing is ever spliced into the script's text.

Safety on a shared host (see docs/SECURITY.md): the tmpdir, and every folder above it as written
and as its links resolve, must be root's or ours and not writable by group or others unless
sticky (OpenSSH's StrictModes rule, /tmp allowed), and a link on the way must be root's or ours;
else the host fails with TMPDIR, naming the folder, its owner and mode, and the fix. The tmpdir is
resolved once (`cd -P`, `pwd -P`) and used by that resolved path. The folder is made there by
`mktemp -d` (an unpredictable name, created 0700 or not at all), entered once (`cd -P`), and
checked from inside: `.` must be that very path (`pwd -P`), ours, mode 0700. From then on every
name is relative to it, never looked up by path again; every file the script, the recorder or perf
creates is created afresh with noclobber (perf's -o names an empty perf.data the recorder has just
created); perf script runs without `-f`. The folder is removed from inside: its files by their
names in it, then the folder by its path only while that path still leads to this very folder
(`stat -c %d:%i`); `cleaned` is said only once no name leads to it any more (`stat -c %h .` is 0).
`attach` makes the same checks; a folder missing behind a link that may lead elsewhere now is
ELSEWHERE, not GONE. The stop signal goes to the recorder this shell started (never to a pid read
from a file) in `new` mode, and in `attach` mode only to a process whose command line names it as
fleetflame's recorder.

A host that fails before perf started keeps nothing: until `started`, any failure (also `abort`,
the end of input, HUP or TERM) removes the folder before the script says `error` and exits.

Symbols of sandboxed tiles: each Firedancer tile runs in a mount namespace of its own, pivoted
into an empty folder. perf script with CAP_SYS_ADMIN setns()es into a tile's namespace to read
the binary, finds nothing, and prints `[unknown]` for every frame (all tiles map one binary, so
one sandboxed tile spoils every stack). As `fdctl flame` does, perf script runs with CAP_SYS_ADMIN
dropped from its bounding set (setpriv, else capsh); a root session that can do neither fails
with NO_CAPDROP before perf record starts (`new`) or before symbolizing (`attach`), never
producing graphs without symbols. An unprivileged user's perf script has no CAP_SYS_ADMIN anyway.

The protocol, host to control, is lines on stdout (`VERB ARG...`); binary data follows only a
line that gives its exact length:

    hello 1                          protocol version
    dir PATH                         the capture folder (new mode)
    thread PID TID COMM              the host's threads, one line each (new mode)
    threads-end                      end of that list
    ready                            meta.json written; waiting for `go`
    clock EPOCH                      the host's clock as it read `go` (the control machine, which
                                     knows when it sent `go` and when this line came, measures the
                                     host's clock offset from it)
    started EPOCH                    perf started at EPOCH (host clock)
    ended RC EPOCH                   perf ended with status RC (`-` if unknown)
    perf-stderr N  + N bytes         the end of perf's messages (if perf failed, `cleaned` or `error` follows)
    chunk N  + N bytes               perf.script.gz, streamed while perf script runs
    sum NAME SIZE SHA256             the streamed file is complete
    file NAME SIZE SHA256 FROM  + SIZE-FROM bytes   a complete file, from byte FROM
    restart NAME                     the stream starts again from byte 0 (attach mode)
    sent                             everything sent; waiting for `done` or end of input
    cleaned                          the folder is removed (no name leads to it any more)
    error CODE TEXT                  the script gives up; it exits with CODE

Control to host, lines on stdin: (new mode) a meta.json line, then `go t TID,...`, `go p PID`
or `abort`, followed by `run`, `nodata` (do not send perf.data) or `detach` (return once perf
runs); later `stop` (end perf now) and `done` (results are safe: remove the folder). `abort`,
or the end of input, before perf started means "give up and remove the folder" (the script says
`error 14` once it is removed, and exits); once perf runs, the end of input means "keep the
folder" (for `fetch`).
"""

from __future__ import annotations

import enum
import re

from ..host.scripts import CAPDROP, THREAD_LINES, TMPDIR_CHECK


class Exit(enum.IntEnum):
    """SESSION's exit codes (also sent in its `error CODE TEXT` line)."""

    OK = 0
    USAGE = 2  # bad arguments: a bug on the control side
    TMPDIR = 3  # fleetflame_tmpdir missing, not a folder, or one that another user could swap things in
    FOLDER = 4  # the capture folder could not be created
    NO_SPACE = 5  # a write failed and the tmpdir has (almost) no space left
    NOT_OURS = 6  # the folder is not a real, private folder of ours (or was moved away: not removed)
    PERF_MISSING = 7  # the perf binary is not there
    PROTOCOL = 8  # an unexpected line on stdin
    SYMBOLIZE = 9  # perf script failed
    GONE = 10  # attach: the folder does not exist (any more)
    ELSEWHERE = 11  # attach: not found, but the tmpdir goes through a link that may lead elsewhere now
    TIMEOUT = 12  # attach: perf did not end within the time allowed
    WRITE = 13  # a write failed for another reason
    ABORTED = 14  # the control machine said `abort` before perf started
    NO_CAPDROP = 15  # root, but neither setpriv nor capsh can run perf script without CAP_SYS_ADMIN


PROTOCOL_VERSION = 1
CHUNK_BYTES = 1 << 20  # the streamed perf.script.gz arrives in chunks of at most this size
MAX_EVENT = 64
_EVENT = re.compile(r"[a-z][a-z0-9_.:-]*")


def check_event(event: object) -> str | None:
    """A perf event name for `perf record -e`, or None (also for "") for perf's default event;
    ValueError unless it is a plain name such as cycles, task-clock or sched:sched_switch.
    SESSION checks the same rule again on the host."""
    if event is None or event == "":
        return None
    if not isinstance(event, str) or len(event) > MAX_EVENT or not _EVENT.fullmatch(event):
        raise ValueError(
            f"bad perf event {str(event)[:80]!r}: give a name such as task-clock, cpu-clock, cycles or sched:sched_switch "
            f"(lowercase letters, digits and _ . : -, starting with a letter, at most {MAX_EVENT} characters)"
        )
    return event


SESSION = r"""
set -u
umask 077
trap '' PIPE   # a dropped link must not kill us mid-write: perf script's copy on the host goes on
CDPATH=
made= dir= tmpdir= real= realdir= linked= gone_why=   # (nothing from the environment)
say() { printf '%s\n' "$*"; }
fail() {  # CODE TEXT...: remove our folder if it holds nothing worth keeping, tell the control machine, exit
  code=$1; shift
  if [ -n "${made:-}" ]; then
    made=
    remove_here || set -- "$*" "($dir was not removed: $gone_why)"
  fi
  say "error $code $*"; printf 'fleetflame: %s\n' "$*" >&2
  exit "$code"
}
nospace() {  # a write failed: say whether it is because the tmpdir is full
  avail=$(df -Pk -- "$tmpdir" 2>/dev/null | awk 'NR == 2 { print $4 }')
  case $avail in
    ''|*[!0-9]*) fail 13 "cannot write $1 in $tmpdir" ;;
  esac
  [ "$avail" -lt 1024 ] && fail 5 "no space left in $tmpdir ($avail KB free) writing $1: free space there or set fleetflame_tmpdir to a roomier folder"
  fail 13 "cannot write $1 in $tmpdir ($avail KB free)"
}
valid_number() { case $1 in ''|*[!0-9]*) return 1 ;; esac; }

@TMPDIR_CHECK@
# ---- the capture folder: entered once, then used by relative names only -------------------
enter() {  # REALDIR: cd into it; ok only if it is, at that very path, a real folder of ours, mode 0700
  cd -P -- "$1" 2>/dev/null || return 1   # (pwd -P: where cd -P found itself, by getcwd)
  [ "$(pwd -P)" = "$1" ] && [ -O . ] && [ "$(stat -c %a .)" = 700 ]
}
remove_here() {  # remove the folder we are in, and only it; true only if it is really gone
  if ! [ -O . ] || [ "$(stat -c %a .)" != 700 ]; then
    gone_why="it is no longer a private folder of ours: left alone"; return 1
  fi
  rm -rf -- * .[!.]* ..?* 2>/dev/null   # our files, by their names in here (a link is removed, not followed)
  here=$(stat -c %d:%i .)
  # the folder itself by its path, only while that path still leads to this very folder
  [ "$(stat -c %d:%i -- "$realdir" 2>/dev/null)" = "$here" ] && rmdir -- "$realdir" 2>/dev/null
  [ "$(stat -c %h . 2>/dev/null)" = 0 ] && return 0   # no name leads to it any more: gone
  gone_why="it was moved or replaced while fleetflame used it (it is now $(cd -P . 2>/dev/null && pwd -P); $dir is something else): its files were removed, the empty folder and whatever is at $dir left alone"
  return 1
}
clean_up() {  # the results are safe (or worthless): remove our folder, say `cleaned` only once it is gone
  made=
  remove_here || fail 6 "$dir was not removed: $gone_why"
  say cleaned
  exit 0
}
fresh() {  # NAME...: true if no NAME exists in any form (file, folder, link, dangling link)
  for f in "$@"; do [ -e "$f" ] || [ -h "$f" ] && return 1; done
  return 0
}

# perf script must not hold CAP_SYS_ADMIN: with it, perf setns()es into each sandboxed tile's
# mount namespace (an empty folder after pivot_root) to read the binary, finds nothing, and every
# frame of every stack of that binary is [unknown]. `fdctl flame` drops it from the bounding set
# before it execs perf script; so do we, with setpriv (util-linux) or else capsh (libcap).
@CAPDROP@
check_capdrop() {  # choose how perf script runs (capdrop), or fail before anything is recorded or lost
  choose_capdrop || fail 15 "perf script would run with CAP_SYS_ADMIN and lose the symbols of sandboxed Firedancer tiles (every frame [unknown]), and neither setpriv nor capsh can drop it here: install setpriv (Debian/Ubuntu package util-linux) or capsh (libcap2-bin)"
}

# The part common to both modes, once perf has ended: report, symbolize, send, clean.
finish() {  # RC ENDED WANT_DATA SCRIPT_FROM DATA_FROM
  rc=$1 ended=$2 want_data=$3 script_from=$4 data_from=$5
  made=1   # perf has ended: if we fail from here on, nothing is worth keeping
  say "ended $rc $ended"
  case $rc in 0|130) ;; *) perf_failed=1 ;; esac
  grep -q 'Captured and wrote' perf.stderr 2>/dev/null || perf_failed=1
  note=
  if [ -n "${perf_failed:-}" ]; then  # perf's own messages may be lost if the disk filled up
    avail=$(df -Pk -- "$tmpdir" 2>/dev/null | awk 'NR == 2 { print $4 }')
    valid_number "$avail" && [ "$avail" -lt 1024 ] && note="fleetflame: No space left on device: $tmpdir has $avail KB free"
  fi
  n=$(tail -c 65536 perf.stderr 2>/dev/null | wc -c)
  [ -n "$note" ] && n=$((n + $(printf '%s\n' "$note" | wc -c)))
  say "perf-stderr $n"
  tail -c 65536 perf.stderr 2>/dev/null
  [ -n "$note" ] && printf '%s\n' "$note"
  if [ -n "${perf_failed:-}" ]; then
    clean_up   # perf failed: nothing to symbolize or keep; the control machine reports perf's messages
  fi
  rm -f .data.sha
  sha256sum < perf.data > .data.sha 2>/dev/null &
  summing=$!
  send_script "$script_from"
  wait "$summing"
  if [ "$want_data" = 1 ]; then
    size=$(wc -c < perf.data) && sum=$(cut -d' ' -f1 < .data.sha) || fail 13 "cannot read perf.data"
    valid_number "$data_from" && [ "$data_from" -le "$size" ] || data_from=0
    say "file perf.data $size $sum $data_from"
    tail -c +$((data_from + 1)) perf.data
  fi
  say sent
  wait_done_and_clean
}

# perf.script.gz: streamed in chunks while perf script runs (a copy stays on the host, so a
# dropped link loses nothing), or, if a complete one is there already, sent from SCRIPT_FROM.
send_script() {
  if [ ! -e perf.script.gz ]; then
    if ! mkdir symbolize.lock 2>/dev/null; then
      # another fetch is symbolizing (or died doing it): wait for it, or take over a dead one
      while [ -d symbolize.lock ] && kill -0 "$(cat symbolize.lock/pid 2>/dev/null)" 2>/dev/null; do sleep 0.5; done
      [ -e perf.script.gz ] || { rm -rf symbolize.lock; mkdir symbolize.lock || fail 13 "cannot lock $dir"; }
    fi
  fi
  if [ ! -e perf.script.gz ]; then
    echo $$ > symbolize.lock/pid || nospace symbolize.lock
    [ "$1" = 0 ] || say "restart perf.script.gz"
    rm -f perf.script.gz.tmp .chunk script.rc script.stderr
    { symbolizer nice -n 19 "$perf" script -i perf.data 2> script.stderr; echo $? > script.rc; } | gzip -1 | {
      lost=
      while :; do
        rm -f .chunk
        dd bs=262144 count=4 iflag=fullblock 2>/dev/null > .chunk || exit 5
        n=$(wc -c < .chunk) || exit 5
        [ "$n" -gt 0 ] || break
        cat .chunk >> perf.script.gz.tmp || exit 5
        [ -n "$lost" ] && continue
        { say "chunk $n" && cat .chunk; } || lost=1
      done
      exit 0
    }
    piped=$?
    rm -f .chunk
    [ "$piped" = 5 ] && nospace perf.script.gz
    if [ "$(cat script.rc 2>/dev/null)" != 0 ]; then
      rm -rf symbolize.lock
      fail 9 "perf script failed: $(tail -n 3 script.stderr 2>/dev/null | tr '\n' ' ')"
    fi
    mv perf.script.gz.tmp perf.script.gz || fail 13 "cannot keep perf.script.gz"
    rm -rf symbolize.lock
    size=$(wc -c < perf.script.gz) && sum=$(sha256sum < perf.script.gz | cut -d' ' -f1)
    say "sum perf.script.gz $size $sum"
  else
    size=$(wc -c < perf.script.gz) && sum=$(sha256sum < perf.script.gz | cut -d' ' -f1)
    from=$1
    valid_number "$from" && [ "$from" -le "$size" ] || from=0
    say "file perf.script.gz $size $sum $from"
    tail -c +$((from + 1)) perf.script.gz
  fi
}

# Wait until the reader (stdin) has seen `done` (remove the folder) or the end of input (keep it).
wait_done_and_clean() {
  while :; do
    wait "$reader"; said=$?
    kill -0 "$reader" 2>/dev/null || break   # (a late `stop` interrupts wait; nothing to do)
  done
  made=
  [ "$said" = 0 ] && clean_up
  exit 0
}

mode=${1:-}
case $mode in
new)
  [ $# -eq 9 ] || fail 2 "usage: new TMPDIR ID PERF FREQUENCY CALL_GRAPH MAX_SIZE DURATION EVENT"
  tmpdir=$2 id=$3 perf=$4 frequency=$5 call_graph=$6 max_size=$7 duration=$8 event=$9
  say "hello 1"
  case $id in ''|*[!A-Za-z0-9._+-]*) fail 2 "bad capture id" ;; esac
  valid_number "$frequency" && valid_number "$max_size" || fail 2 "bad number"
  case $duration in ''|*[!0-9.]*) fail 2 "bad duration" ;; esac
  case $call_graph in fp|dwarf|lbr) ;; *) fail 2 "bad call graph" ;; esac
  # EVENT: "" for perf's default, else one name (perf record -e), never split into words
  case $event in
    '') ;;
    [abcdefghijklmnopqrstuvwxyz]*)
      case $event in *[!abcdefghijklmnopqrstuvwxyz0123456789_.:-]*) fail 2 "bad event" ;; esac
      [ "${#event}" -le 64 ] || fail 2 "bad event" ;;
    *) fail 2 "bad event" ;;
  esac
  command -v "$perf" > /dev/null 2>&1 || fail 7 "$perf: command not found"
  for c in timeout setsid gzip sha256sum stat mktemp dd tail nice df; do
    command -v "$c" > /dev/null 2>&1 || fail 7 "$c: command not found (fleetflame needs coreutils, util-linux and gzip on the host)"
  done
  check_capdrop
  case $tmpdir in /*) ;; *) fail 3 "fleetflame_tmpdir $tmpdir is not an absolute path" ;; esac
  case $tmpdir in *'
'*) fail 3 "fleetflame_tmpdir holds a line break" ;; esac
  # A tmpdir that does not exist yet is made private to the user we run as (root under become):
  # every part of the capture goes through this session, nobody else needs to read it. What
  # exists of its path is checked first (we create nothing below a folder someone else controls).
  check_path "$tmpdir" missing-ok
  [ -d "$tmpdir" ] || [ -h "$tmpdir" ] || mkdir -p -m 0700 -- "$tmpdir" 2>/dev/null || true
  [ -d "$tmpdir" ] || fail 3 "fleetflame_tmpdir $tmpdir is not a folder and cannot be created: create it or set fleetflame_tmpdir"
  check_path "$tmpdir" all
  resolve_tmpdir
  made_at=$(mktemp -d -- "${real%/}/fleetflame-$id.XXXXXXXXXX") || nospace "a folder"
  base=${made_at##*/}
  realdir=${real%/}/$base
  dir=$tmpdir/$base   # the path as the inventory gives it, for the manifest and `fetch`
  enter "$realdir" || fail 6 "$dir is not a private folder of ours (someone replaced it as it was made): left alone"
  made=1   # until perf starts, a failure leaves nothing behind
  trap 'fail 14 "interrupted before recording started"' HUP TERM
  say "dir $dir"
  tp='thread '
  @THREAD_LINES@
  say threads-end
  set -C   # noclobber from here: a file we create must not exist already
  IFS= read -r meta || fail 14 "the control machine went away before the start"
  case $meta in meta\ *) ;; abort) fail 14 "stopped before recording started" ;; *) fail 8 "expected meta" ;; esac
  printf '%s\n' "${meta#meta }" > meta.json || nospace meta.json
  say ready
  IFS= read -r go || fail 14 "the control machine went away before the start"
  set -f; set -- $go; set +f
  [ "${1:-}" = go ] || fail 14 "stopped before recording started"
  say "clock $(date +%s.%N)"   # at once: the control machine measures this host's clock offset
  case ${2:-} in t|p) ;; *) fail 8 "bad go line" ;; esac
  case ${3:-} in ''|*[!0-9,]*) fail 8 "bad thread ids" ;; esac
  case ${4:-} in run|nodata|detach) ;; *) fail 8 "bad go mode" ;; esac
  targets="-${2} ${3}" how=$4
  fresh started.tmp started perf.data perf.data.old perf.stderr timeout.pid rc.tmp rc recorder.pid || fail 6 "$dir holds files fleetflame did not make: left alone"
  printf '' > started.tmp || nospace started
  exec 3<&0
  # perf records on the wall clock (-k realtime, Linux 4.1+): sample times are seconds since the
  # epoch, one clock for every host (collapse/ bins them; README, Timeline). A perf without it exits
  # 129 with `unknown clockid` on stderr, which fails the host like any option perf refuses.
  # The recorder: its own session, so perf outlives this channel. It creates every file it (and
  # perf) writes afresh, with noclobber; perf's -o names the empty perf.data it just created (perf
  # neither backs up nor follows anything there), and `rc` says how perf ended.
  setsid sh -c '
    set -C
    trap "kill -INT \$t 2>/dev/null" TERM   # (INT is ignored in a background job; timeout passes INT on to perf)
    for f in perf.data perf.data.old perf.stderr timeout.pid rc.tmp rc started; do
      if [ -e "$f" ] || [ -h "$f" ]; then exit 3; fi
    done
    printf "" > perf.data && printf "" > perf.stderr || exit 3
    date +%s.%N >> started.tmp && mv started.tmp started || exit 3
    timeout --preserve-status -s INT -k 10 "$1" "$2" record -k realtime ${7:+-e} ${7:+"$7"} -F "$3" --call-graph "$4" --max-size "$5"K $6 -o perf.data 2>> perf.stderr < /dev/null &
    t=$!
    echo $t > timeout.pid
    while :; do wait $t; s=$?; kill -0 $t 2>/dev/null || break; done
    echo "$s $(date +%s.%N)" > rc.tmp && mv rc.tmp rc
  ' fleetflame-recorder "$duration" "$perf" "$frequency" "$call_graph" "$max_size" "$targets" "$event" < /dev/null > /dev/null 2>&1 3<&- &
  recorder=$!
  echo "$recorder" > recorder.pid || nospace recorder.pid
  waited=0
  while [ ! -e started ] && [ "$waited" -lt 500 ] && kill -0 "$recorder" 2>/dev/null; do sleep 0.01; waited=$((waited + 1)); done
  if [ ! -e started ]; then
    kill -9 "$recorder" 2>/dev/null
    wait "$recorder" 2>/dev/null
    fail 13 "perf did not start (no space in $tmpdir, or a file it writes was in $dir already)"
  fi
  made=   # perf runs: from now on the folder holds its results, for this session or `fetch`
  trap - HUP TERM
  say "started $(cat started)"
  [ "$how" = detach ] && exit 0
  # Commands from now on: `stop` ends perf (through the trap below), `done` lets us clean up.
  trap '[ -n "$recorder" ] && kill -TERM "$recorder" 2>/dev/null' USR1
  ( while IFS= read -r cmd; do
      case $cmd in
        stop) kill -USR1 $$ ;;
        done) exit 0 ;;
      esac
    done
    exit 1 ) <&3 &
  reader=$!
  exec 3<&- < /dev/null   # from here on only the reader reads our input; perf script must not
  while :; do
    wait "$recorder"; status=$?
    kill -0 "$recorder" 2>/dev/null || break   # (a trap interrupts wait; perf goes on)
  done
  recorder=
  # The control machine went away while perf recorded (the reader saw the end of its input):
  # keep the folder for `fetch`, which symbolizes when someone wants the results.
  kill -0 "$reader" 2>/dev/null || exit 0
  if [ -e rc ]; then set -- $(cat rc); else set -- "$status" "$(date +%s.%N)"; fi
  want_data=1
  [ "$how" = nodata ] && want_data=0
  finish "${1:--}" "${2:--}" "$want_data" 0 0
  ;;
attach)
  [ $# -eq 7 ] || fail 2 "usage: attach DIR PERF WANT_DATA SCRIPT_FROM DATA_FROM WAIT_S"
  dir=$2 perf=$3 want_data=$4 script_from=$5 data_from=$6 wait_s=$7
  tmpdir=${dir%/*} base=${dir##*/}
  say "hello 1"
  valid_number "$wait_s" || fail 2 "bad wait"
  case $dir in /*) ;; *) fail 2 "not a capture folder: $dir" ;; esac
  case $base in fleetflame-?*) ;; *) fail 2 "not a capture folder: $dir" ;; esac
  case $dir in *'
'*) fail 2 "not a capture folder: $dir" ;; esac
  [ -n "$tmpdir" ] || tmpdir=/
  # The same checks as when the folder was made, on the tmpdir as its links lead now.
  check_path "$tmpdir" missing-ok
  real=
  if [ -d "$tmpdir" ]; then
    resolve_tmpdir
    realdir=${real%/}/$base
  fi
  if [ -z "$real" ] || { [ ! -e "$realdir" ] && [ ! -h "$realdir" ]; }; then
    # not there: gone, unless a link on the way may now lead elsewhere than when perf recorded
    [ -n "$linked" ] && fail 11 "capture folder $dir not found: $tmpdir goes through a symbolic link (now to ${real:-nowhere}), which may not lead where it did when perf recorded: point it back and fetch again, or remove the folder by hand"
    fail 10 "capture folder $dir is gone"
  fi
  enter "$realdir" || fail 6 "$dir is not a private folder of ours (owner or mode changed): left alone"
  set -C   # noclobber: every file created from here on must not exist already
  # perf script is still to run: fail now if it cannot run without CAP_SYS_ADMIN (the folder stays)
  [ -e perf.script.gz ] || check_capdrop
  exec 3<&0
  ( while IFS= read -r cmd; do
      case $cmd in
        stop)
          [ -e rc ] && continue
          p=$(cat timeout.pid 2>/dev/null)
          valid_number "$p" && [ "$(cat /proc/$p/comm 2>/dev/null)" = timeout ] && kill -INT "$p" 2>/dev/null ;;
        done) exit 0 ;;
      esac
    done
    exit 1 ) <&3 &
  reader=$!
  exec 3<&- < /dev/null
  # perf is not our child here: poll for its end, but never longer than we were told
  waited=0 limit=$((wait_s * 5))
  while [ ! -e rc ]; do
    r=$(cat recorder.pid 2>/dev/null)
    if ! valid_number "$r" || ! tr '\0' ' ' < /proc/$r/cmdline 2>/dev/null | grep -q fleetflame-recorder; then
      sleep 0.2; [ -e rc ] || break   # the recorder is gone without saying how perf ended
    fi
    [ "$waited" -lt "$limit" ] || fail 12 "perf still running after ${wait_s} s"
    sleep 0.2; waited=$((waited + 1))
  done
  if [ -e rc ]; then set -- $(cat rc); else set -- - -; fi
  finish "${1:--}" "${2:--}" "$want_data" "$script_from" "$data_from"
  ;;
*)
  fail 2 "usage: new ... | attach ..."
  ;;
esac
""".replace("  @THREAD_LINES@\n", THREAD_LINES).replace("@CAPDROP@\n", CAPDROP).replace("@TMPDIR_CHECK@\n", TMPDIR_CHECK)  # the one thread listing (host/scripts.py)

# Every capture folder of ours on the host: the path, a tab, the first line of its meta.json.
# Folders that are not real, private folders of the user we run as are not listed.
LIST = r"""
for d in "$1"/fleetflame-*; do
  [ -d "$d" ] && [ ! -h "$d" ] && [ -O "$d" ] && [ "$(stat -c %a -- "$d")" = 700 ] || continue
  [ -f "$d/meta.json" ] && [ ! -h "$d/meta.json" ] || continue
  printf '%s\t' "$d"
  head -c 65536 "$d/meta.json" | head -n 1
  echo
done
"""
