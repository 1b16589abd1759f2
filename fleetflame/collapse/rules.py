"""stackcollapse-perf.pl's per-line rules, on bytes (perl reads bytes; `\\s`, `\\w`, `\\d` are ASCII).

The script's regular expressions backtrack: on lines a host can write (a megabyte without a
blank, long runs of digits or blanks) Python's engine, which has no memo as Perl's has, took
quadratic or exponential time. Each pattern here is rewritten to split every line exactly as the
script's does (the same match, the same groups: `tests/collapse/test_rules.py` checks them
against the script's own patterns, and the oracle tests against the script) in time linear in
the line: possessive quantifiers where giving back cannot help the rest to match, and a lazy
loop that only stops where the rest can start. Where that cannot be said in one pattern (the
stack line's odd forms), a pattern takes the usual lines and a few `find`s the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial
from itertools import repeat

from .inline import Addr2Line
from .options import PerfOptions

# The comm of an event line, perl `(\S.+?)` followed by blanks: the lazy loop tries the ends
# 2, then the start of each later run of blanks; the script's other ends (inside a word, or
# inside a run of blanks after its start) lead to the same failure, as the rest begins `\s+`.
COMM = rb"(\S.(?:\S*+(?:\s++\S++)*?)??)"
# event record start, perl `(\S.+?)\s+(\d+)/*(\d+)*\s+`: `comm [pid/]tid `
EVENT_LINE = re.compile(COMM + rb"\s++(\d++)/*+(\d++)?\s++")
# After the colon of the time stamp, perl `:\s*(\d+)*\s+(\S+):\s*$`: blanks, the period if
# any, blanks, the event and a colon ending the line. The digits are taken whole or not at all
# (`(\d+)*` took them in any number of pieces: 2^n ways to fail).
EVENT_TAIL = rb"(?:\s*+(\d++)\s++|\s++)"
# `...: [period] event:` at the end of the event line
EVENT_NAME = re.compile(rb":" + EVENT_TAIL + rb"(\S+):\s*+$")
# stack line `  pc func (module)`, perl `\s*(\w+)\s*(.+) \((.*)\)`, on its usual form: the
# module holds no parenthesis and is the line's last. Others go to `stack_line_parts`.
STACK_LINE = re.compile(rb"\s*+(\w++)\s*+(.+) \(([^()]*+)\)[^()]*+$")
# the same for a line that starts with a blank (so no comment and no event line)
STACK_LINE_INDENTED = re.compile(rb"\s++(\w++)\s*+(.+) \(([^()]*+)\)[^()]*+$")
WORD = re.compile(rb"\w++")
BLANKS = re.compile(rb"\s*+")
SYMBOL_OFFSET = re.compile(rb"\+0x[\da-f]+$")  # Linux 4.8+ prints `func+0x1f`
ARGUMENTS = re.compile(rb"\((?!anonymous namespace\)).*")  # C++ args, but not `(anonymous namespace)`
JIT_MAP = re.compile(rb"/tmp/perf-\d+\.map")
SRCLINE_BRACKETS = re.compile(rb"\[[^\]]*+\]")  # perl `\[.*?\]`: up to the first `]`
MAX_PERIOD_DIGITS = 20  # perf's period is a u64: 20 digits at most, and no more than U64_MAX
U64_MAX = (1 << 64) - 1
# The usual perf event line, `comm pid[/tid] [cpu] secs.usecs: [period] event: `, in one match.
# Where it matches, EVENT_LINE and EVENT_NAME give the same parts, provided the comm has no
# blank followed by a digit (a comm like `pool 2 worker` is where EVENT_LINE's lazy comm stops
# earlier, at the first `blank digits blank`; check those with EVENT_LINE): a shorter comm
# would need such a blank, and with at least the pid and time tokens after the comm no earlier
# ':' can start an EVENT_NAME match (that allows two tokens after it).
USUAL_EVENT_LINE = re.compile(
    COMM + rb"\s++(\d++)(?:/(\d++))?+\s++(?:\[\d++\]\s++)?+\d++\.\d++:" + EVENT_TAIL + rb"(\S+):\s*+$"
)
# The same where the comm has no blank (nearly always), possessive and so a good deal faster:
# giving back a character of those tokens can only make the next token fail to match.
USUAL_EVENT_LINE_NO_BLANK = re.compile(
    rb"(\S\S++)\s++(\d++)(?:/(\d++))?+\s++(?:\[\d++\]\s++)?+\d++\.\d++:" + EVENT_TAIL + rb"(\S+):\s*+$"
)
BLANK_DIGIT = re.compile(rb"\s\d")


@lru_cache(maxsize=16)
def usual_event_lines(
    event: bytes, ids: bool, timed: bool = False, bins_only: bool = False
) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """USUAL_EVENT_LINE_NO_BLANK and USUAL_EVENT_LINE for one event type, which they match
    literally: the event is the line's last token whatever the comm, so this matches exactly
    the lines where those give this event. Groups: comm, [pid, tid,] [time,] period; `timed`:
    the time stamp to its hundredths (`1796617145.81`), and lines whose time has fewer than two
    decimals (perf prints six, or nine) or more than 10 digits of seconds (its bin would not fit
    in a TimeBins key) are left to the literal loop. `bins_only` (timed, samples counted by their
    bins): no period group, and with ids the comm, its blanks and `PID/TID` (or `TID`) as one
    group (COMM_AND_IDS splits it): groups [comm | comm-and-ids,] time, fewer objects and hashes
    per sample."""
    if bins_only:
        no_blank_head = rb"(\S\S++\s++\d++(?:/\d++)?+)" if ids else rb"(\S\S++)\s++\d++(?:/\d++)?+"
        blanks_head = rb"(" + COMM[1:-1] + rb"\s++\d++(?:/\d++)?+)" if ids else COMM + rb"\s++\d++(?:/\d++)?+"
    else:
        pid_tid = rb"(\d++)(?:/(\d++))?+" if ids else rb"\d++(?:/\d++)?+"
        no_blank_head, blanks_head = rb"(\S\S++)\s++" + pid_tid, COMM + rb"\s++" + pid_tid
    time = rb"(\d{1,10}+\.\d\d)\d*+:" if timed else rb"\d++\.\d++:"
    tail = (rb"(?:\s*+\d++\s++|\s++)" if bins_only else EVENT_TAIL) + re.escape(event) + rb":\s*+$"
    no_blank = no_blank_head + rb"\s++(?:\[\d++\]\s++)?+" + time + tail
    blanks = blanks_head + rb"\s++(?:\[\d++\]\s++)?+" + time + tail
    return re.compile(no_blank), re.compile(blanks)


# usual_event_lines' comm-and-ids group (`comm  PID/TID`) split as its own patterns split it:
# the lazy COMM ends where the rest of the group (blanks, digits) ends the text.
COMM_AND_IDS = re.compile(COMM + rb"\s++(\d++)(?:/(\d++))?+$")


# The time stamp of an event line (`... 1796617145.812082: ...`), for the literal loop.
EVENT_TIME = re.compile(rb"\s(\d++)\.(\d++):")


def hundredths_bin(text: bytes) -> int:
    """`SECONDS.HH` (usual_event_lines' time group) -> its 20 ms bin."""
    return int(text[:-3]) * 50 + int(text[-2:]) // 2


def line_bin(line: bytes) -> int | None:
    """The 20 ms bin of an event line's time stamp; None if it has none."""
    m = EVENT_TIME.search(line)
    if m is None:
        return None
    secs, frac = m.groups()
    return int(secs) * 50 + int((frac + b"00")[:2]) // 2


def stack_line_parts(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    r"""(pc, func, module) as perl's `^\s*(\w+)\s*(.+) \((.*)\)` splits the line, or None.

    Its backtracking, worked out: the module runs from the last ` (` to the line's last `)`
    after it; the function starts after the whole word and its blanks, or, when that leaves it
    empty, one character before that ` (` (taken from the blanks or the word).
    """
    m = STACK_LINE.match(line)
    if m is not None:
        return m.groups()  # type: ignore[return-value]
    return odd_stack_line_parts(line)


def odd_stack_line_parts(line: bytes) -> tuple[bytes, bytes, bytes] | None:
    """stack_line_parts for a line that STACK_LINE does not take."""
    start = BLANKS.match(line).end()  # type: ignore[union-attr]
    word = WORD.match(line, start)
    if word is None:
        return None
    close = line.rfind(b")")
    opening = line.rfind(b" (", 0, close) if close > 0 else -1
    if opening < start + 2:  # a pc and a function of one character at least
        return None
    func_start = min(BLANKS.match(line, word.end()).end(), opening - 1)  # type: ignore[union-attr]
    return line[start : min(func_start, word.end())], line[func_start:opening], line[opening + 2 : close]


def is_go_method(func: bytes) -> bool:
    r"""perl `$func =~ m/\.\(.*\)\./` (`net/http.(*Client).Do`): a `.(` and, after it, a `).`"""
    first = func.find(b".(")
    return first >= 0 and func.rfind(b").") >= first + 2


def strip_srcline_brackets(src: bytes) -> bytes:
    r"""perl `s/\[.*?\]//g`; past the last `]` no bracket can close, so nothing there is tried."""
    end = src.rfind(b"]") + 1
    return SRCLINE_BRACKETS.sub(b"", src[:end]) + src[end:] if end else src


def period_weight(text: bytes | None) -> int:
    """perl `$period = 1 if not $period`: missing, "" and "0" weigh 1; so does a number above
    perf's u64 (`long_period`), which Perl would turn into a float and print as one."""
    if text is None or text == b"0" or long_period(text):
        return 1
    return int(text)


def long_period(text: bytes | None) -> bool:
    return text is not None and len(text) >= MAX_PERIOD_DIGITS and (len(text) > MAX_PERIOD_DIGITS or int(text) > U64_MAX)


NOT_STACK = object()  # a line that is neither a comment nor a stack line


class Header:
    """What the script takes from an event line."""

    __slots__ = ("comm", "pid", "tid", "period", "long_period", "event", "bin")

    def __init__(self, comm: bytes, pid: bytes, tid: bytes, period_text: bytes | None, event: bytes | None):
        self.comm, self.pid, self.tid, self.event = comm, pid, tid, event
        self.bin: int | None = None  # the time stamp's 20 ms bin, when bins are kept
        self.period = period_weight(period_text)
        self.long_period = long_period(period_text)


def parse_header(line: bytes) -> Header | None:
    m = EVENT_LINE.match(line)
    if m is None:
        return None
    comm, pid, tid = m.groups()
    if tid is None or tid == b"0":  # perl `if (not $tid)`: a lone number is the TID
        pid, tid = b"?", pid
    period_text: bytes | None = None
    event: bytes | None = None
    e = EVENT_NAME.search(line)
    if e is not None:
        period_text, event = e.groups()
    return Header(comm, pid, tid, period_text, event)


def process_name(h: Header, opts: PerfOptions) -> bytes:
    if opts.include_tid:
        name = b"%s-%s/%s" % (h.comm, h.pid, h.tid)
    elif opts.include_pid:
        name = b"%s-%s" % (h.comm, h.pid)
    else:
        name = h.comm
    return name.replace(b" ", b"_")


def is_java(pname: bytes) -> bool:
    return pname.startswith(b"java")  # perl: `$pname =~ m/^java/`


def perl_split_arrows(raw: bytes) -> list[bytes]:
    """`split /->/`: a leading empty field stays, trailing empty fields go."""
    parts = raw.split(b"->")
    while parts and not parts[-1]:
        parts.pop()
    return parts


def tidy_generic(func: bytes) -> bytes:
    func = func.replace(b";", b":")
    if b"(" in func and not is_go_method(func):
        func = ARGUMENTS.sub(b"", func, count=1)
    return func.translate(None, b"\"'")


def annotate(func: bytes, mod: bytes, opts: PerfOptions) -> bytes:
    """`_[k]` and `_[j]` on a line's first frame, from its module."""
    if opts.annotate_kernel and (mod.startswith(b"[") or mod.endswith(b"vmlinux")) and b"unknown" not in mod:
        return func + b"_[k]"
    if opts.annotate_jit and JIT_MAP.search(mod) is not None and b"_[j]" not in func:
        return func + b"_[j]"
    return func


def stack_frames(
    parts: tuple[bytes, bytes, bytes],
    java: bool,
    opts: PerfOptions,
    next_line: Callable[[], bytes | None] | None = None,
    addr2line: Addr2Line | None = None,
) -> list[bytes] | None:
    """The frames one stack line adds (outermost first), or None when the script skips the line.

    `next_line` is given with --srcline: each frame then consumes the following input line.
    `addr2line` is given with --inline: its answer, when it has one, is the line's frames.
    """
    pc, rawfunc, mod = parts
    if addr2line is not None:
        inlined = addr2line.frames(pc, rawfunc, mod)
        if inlined is not None:
            return [inlined]
    if b"+0x" in rawfunc:
        rawfunc = SYMBOL_OFFSET.sub(b"", rawfunc, count=1)
    if rawfunc.startswith(b"("):  # perl: "skip process names"
        return None
    if next_line is None and rawfunc and b"->" not in rawfunc and rawfunc != b"[unknown]" and not java:
        return [annotate(tidy_generic(rawfunc), mod, opts)]  # the usual line: one frame
    frames: list[bytes] = []
    unknown = False
    for func in perl_split_arrows(rawfunc):
        if func == b"[unknown]":  # name the module instead, if known
            if mod != b"[unknown]":
                func = mod.rpartition(b"/")[2]
            else:
                func = b"unknown"
                unknown = True
            func = b"[%s <%s>]" % (func, pc) if opts.include_addrs else b"[%s]" % func
        func = tidy_generic(func)
        if java and b"/" in func and func.startswith(b"L"):  # tidy_java
            func = func[1:]
        if frames:
            if b"_[i]" not in func:
                func += b"_[i]"  # inlined (Java `a->b`)
        else:
            func = annotate(func, mod, opts)
        if next_line is not None and not unknown:
            src = next_line() or b""
            src = strip_srcline_brackets(src).strip(b" \t\n\r\f\v")
            if src:
                func += b":" + src
        frames.append(func)
    return frames


def fold_line(line: bytes, java: bool, opts: PerfOptions, addr2line: Addr2Line | None = None) -> bytes | object:
    """One line inside a record: its frames, each after a ';' (b"" if none), or NOT_STACK."""
    if line.startswith(b"#"):
        return b""  # comments are skipped wherever they are
    if not line[:1].isspace() and EVENT_LINE.match(line) is not None:  # (it needs a non-blank first)
        return NOT_STACK
    m = STACK_LINE.match(line)  # (stack_line_parts, without a call: a new line is folded here)
    parts = m.groups() if m is not None else odd_stack_line_parts(line)
    if parts is None:
        return NOT_STACK
    frames = stack_frames(parts, java, opts, addr2line=addr2line)  # type: ignore[arg-type]
    if not frames:
        return b""
    return b";" + frames[0] if len(frames) == 1 else b"".join(b";" + f for f in frames)


def fold_lines(lines: list[bytes], java: bool, opts: PerfOptions, addr2line: Addr2Line | None = None) -> list[object]:
    """fold_line over many lines; when they are all usual (one plain frame each), with C-level
    maps, else line by line."""
    if java or addr2line is not None or len(lines) < 4:
        return [fold_line(line, java, opts, addr2line) for line in lines]
    matches = list(map(STACK_LINE_INDENTED.match, lines))
    if None in matches:
        return [fold_line(line, java, opts) for line in lines]
    _, raws, mods = zip(*map(re.Match.groups, matches))  # type: ignore[arg-type]
    funcs = list(map(_strip_offset, raws))  # `$`-anchored: at most one match, as with count=1
    joined = b"\n" + b"\n".join(funcs) + b"\n"  # (a func holds no newline)
    # each line one plain frame: none skipped ("(...") or split ("->"), none empty or [unknown]
    if b"\n(" in joined or b"->" in joined or b"\n\n" in joined or b"\n[unknown]\n" in joined:
        return [fold_line(line, java, opts) for line in lines]
    if b";" in joined:
        funcs = [f.replace(b";", b":") for f in funcs]
    if b"(" in joined:
        for j, func in enumerate(funcs):
            if b"(" in func and not is_go_method(func):
                funcs[j] = ARGUMENTS.sub(b"", func, count=1)
    if b'"' in joined or b"'" in joined:
        funcs = [f.translate(None, b"\"'") for f in funcs]
    if opts.annotate_kernel or opts.annotate_jit:
        funcs = list(map(annotate, funcs, mods, repeat(opts)))
    return list(map(b";".__add__, funcs))


_strip_offset = partial(SYMBOL_OFFSET.sub, b"")
