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
# Whether fleetflame_tmpdir is safe to make capture folders in: one text for the capture session
# (capture/scripts.py, which fails the host with TMPDIR) and `check` (which reports the refusal
# before any capture). Needs `$tmpdir` and a `fail CODE TEXT` function; sets `me`, `myname`, and
# (resolve_tmpdir) `real`, the tmpdir as its links lead now.
TMPDIR_CHECK = r"""# ---- where the capture folder lives -------------------------------------------------------
# fleetflame_tmpdir, and every folder above it, as written and as its links resolve, must be a
# folder nobody but root and us can rename entries of (as OpenSSH's StrictModes checks a path,
# with sticky folders such as /tmp allowed), and a symbolic link on the way must be root's or ours:
# else another user could swap our folder, or the tmpdir, for one of theirs holding links.
me= mygid=
while read -r k r e rest; do
  case $k in Uid:) me=$e ;; Gid:) mygid=$e ;; esac
done < /proc/$$/status
myname=$(stat -c %U /proc/$$ 2>/dev/null) || myname="uid $me"
lstat_of() {  # PATH: its owner, group, mode, owner's name and kind (not following a link)
  info=$(stat -c '%u:%g:%a:%U:%F' -- "$1" 2>/dev/null) || return 1
  oifs=$IFS; IFS=:; set -f; set -- $info; set +f; IFS=$oifs
  o_uid=$1 o_gid=$2 o_mode=$(printf '%04o' $((0$3))) o_name=$4 o_kind=$5
}
refuse() {  # PATH WHY FIX: fail with TMPDIR, naming the folder (or link), its owner and mode, and the fix
  if [ "$1" = "$tmpdir" ] || [ "$1" = "${real:-}" ]; then where="$1"; else where="$1, on its path,"; fi
  if [ "$o_kind" = directory ]; then what="is owned by $o_name (uid $o_uid), mode $o_mode"; else what="is a symbolic link owned by $o_name (uid $o_uid)"; fi
  if [ "$me" = 0 ]; then only=root; else only="root and $myname"; fi
  fail 3 "fleetflame_tmpdir $tmpdir is refused: $where $what: $2, so the files fleetflame writes there as $myname could be redirected. Fix: $3, or set fleetflame_tmpdir to a folder below folders that only $only can write to (or leave it unset: /tmp)"
}
check_entry() {  # PATH MISSING_OK: may nobody but root and us rename what PATH holds? (else fail 3)
  if ! lstat_of "$1"; then
    [ "$2" = missing-ok ] && return 1
    fail 3 "fleetflame_tmpdir $tmpdir: $1 does not exist or cannot be examined"
  fi
  case $o_kind in
    'symbolic link')
      linked=1   # (attach: the folder may be missing only because the link leads elsewhere now)
      [ "$o_uid" = 0 ] || [ "$o_uid" = "$me" ] || refuse "$1" "its owner can point it anywhere" "\`chown -h root $1\`, or use the folder it points to"
      return 0 ;;
    directory) ;;
    *) fail 3 "fleetflame_tmpdir $tmpdir is refused: $1 is not a folder ($o_kind)" ;;
  esac
  [ "$o_uid" = 0 ] || [ "$o_uid" = "$me" ] || refuse "$1" "its owner can rename what is in it" "\`chown root $1\`"
  [ $((0$o_mode & 01000)) = 0 ] || return 0   # sticky: only an entry's owner may rename it
  [ $((0$o_mode & 02)) = 0 ] || refuse "$1" "every user can write to it and it has no sticky bit, so anyone can rename what is in it" "\`chmod o-w $1\`, or \`chmod +t $1\` as /tmp has"
  [ $((0$o_mode & 020)) = 0 ] || refuse "$1" "its group (gid $o_gid) can write to it and it has no sticky bit, so its members can rename what is in it" "\`chmod g-w $1\`"
  return 0
}
check_path() {  # PATH MISSING_OK: check_entry PATH and every folder above it, from / down
  w_rest=${1#/} w_p=
  check_entry / "$2" || return 0
  while [ -n "$w_rest" ]; do
    w_c=${w_rest%%/*}
    case $w_rest in */*) w_rest=${w_rest#*/} ;; *) w_rest= ;; esac
    case $w_c in ''|.) continue ;; esac
    w_p=$w_p/$w_c
    check_entry "$w_p" "$2" || return 0   # missing: so is everything below it
  done
}
resolve_tmpdir() {  # the tmpdir as its links lead now, checked: real (never looked up by its written path again)
  real=$(cd -P -- "$tmpdir" 2>/dev/null && pwd -P) || fail 3 "fleetflame_tmpdir $tmpdir cannot be entered"
  case $real in /*) ;; *) fail 3 "fleetflame_tmpdir $tmpdir cannot be resolved" ;; esac
  check_path "$real" all
}

"""

CHECK = CAPDROP + TMPDIR_CHECK + r"""
perf=$1 tmpdir=$2
# the capture's own tmpdir checks, in a subshell whose `fail` reports instead of exiting the check
(
  fail() { shift; printf 'tmpdir_refused=%s\n' "$*" | tr '\n' ' '; echo; exit 0; }
  check_path "$tmpdir" missing-ok
  if [ -d "$tmpdir" ]; then resolve_tmpdir; fi
)
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
