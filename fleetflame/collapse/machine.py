"""stackcollapse-perf.pl's main loop, line by line, and the counts it keeps.

Kept literal so that odd input (event lines without a blank line between them, stray lines,
comments inside a record, --srcline) does exactly what the script does; the fast path in
`fast.py` hands it every record it is not sure about.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from .inline import Addr2Line
from .options import BIN_SHIFT, CollapseResult, PerfOptions
from .rules import Header, is_java, line_bin, parse_header, process_name, stack_frames, stack_line_parts

if TYPE_CHECKING:
    from .timebins import TimeBins

MAX_WARNINGS = 20
WARNING_LINE_CHARS = 200  # of an unrecognized line, in its warning: a host's 4 MB line is not a message
MAX_DROPPED_TYPES = 100  # event types counted one by one; the others together (a host can name millions)
OTHER_TYPES = "(other event types)"
AGAVE_ROOT = "agave;{comm}"  # the one unknown_tid_root: `agave;` and the thread's comm
BIN_MASK = (1 << BIN_SHIFT) - 1
DROPPED = 0  # the fast path's stack id for the samples of a dropped root: id 0 is no stack's
NO_STACK = b""  # stack_names[0], the name of id 0 (DROPPED): it never has keys in TimeBins


def header_of(comm: bytes, pid: bytes, tid: bytes | None) -> Header:
    if tid is None or tid == b"0":  # perl `if (not $tid)`: a lone number is the TID
        pid, tid = b"?", pid
    return Header(comm, pid, tid, None, None)


def quoted(text: bytes) -> str:
    """Text from the input, for a one-line warning: control characters escaped, cut if long."""
    from ..terminal import safe_line  # (rich, which it imports, only when there is a warning)

    return safe_line(text.decode("utf-8", "backslashreplace"), limit=WARNING_LINE_CHARS)


class Machine:
    def __init__(self, opts: PerfOptions):
        self.opts = opts
        want = opts.event_filter or None  # perl: `--event-filter ""` means "first seen" too
        self.event: bytes | None = want.encode() if want else None
        self.event_defaulted = False
        self.dropped: dict[bytes, int] = {}
        self.counts: dict[tuple[bytes, bytes], int] = {}  # (root, b";frame;frame") -> weight
        self.samples = 0
        self.warnings: list[str] = []
        self.unrecognized = 0
        roots = opts.roots_by_tid
        self.roots = {tid: root.encode() for tid, root in roots.items()} if roots is not None else None
        if opts.unknown_tid_root not in (None, AGAVE_ROOT):
            raise ValueError(f"unknown_tid_root must be None or {AGAVE_ROOT!r}, not {opts.unknown_tid_root!r}")
        self.agave_roots = opts.unknown_tid_root is not None
        self.long_periods = 0  # samples whose period was too long a number to be perf's
        # With a stack_limit (bytes of frames), a longer stack is dropped and its record skipped
        # up to the blank line: the limit on a record where the input is not cut into records.
        self.stack_limit = 0
        self.stack_bytes = 0
        self.oversized = 0  # records skipped so far
        self.by_period = opts.weight == "period"
        # perl's $pname, @stack (frame groups, leaf first) and the last event line taken
        self.pname: bytes | None = None
        self.stack: list[list[bytes]] = []
        self.header: Header | None = None
        self.addr2line = Addr2Line(opts.context) if opts.inline else None
        # time_bins: each stack (root + frames) gets an id once, and a sample adds 1 to the count
        # of one int, id << BIN_SHIFT | bin (TimeBins). Weighed by samples, that count is also the
        # stack's: `counts` then holds only the samples without a time stamp (`unbinned`).
        self.timed = opts.time_bins
        self.counted_by_bin = self.timed and not self.by_period
        self.bin_counts: Counter[int] = Counter()  # id << BIN_SHIFT | bin -> samples
        self.stack_ids: dict[bytes, int] = {}  # root + frames -> its id << BIN_SHIFT
        self.stack_names: list[bytes] = [NO_STACK]  # by id; id 0 (DROPPED) is no stack
        self.odd_bins: dict[tuple[int, int], int] = {}  # (id << BIN_SHIFT, bin): a bin too big for the key
        self.unbinned = 0

    @property
    def clean(self) -> bool:
        """Between records: no event line pending, no frames kept."""
        return self.pname is None and not self.stack

    def accept_event(self, event: bytes | None) -> bool:
        """perl: the first event type seen becomes the filter; other types are skipped."""
        if event is None or event == self.event:
            return True
        if self.event is None:
            self.event, self.event_defaulted = event, True
            return True
        if event not in self.dropped and len(self.dropped) >= MAX_DROPPED_TYPES:
            event = OTHER_TYPES.encode()
        self.dropped[event] = self.dropped.get(event, 0) + 1
        return False

    def root(self, h: Header, pname: bytes) -> bytes | None:
        """The root frame(s) of a sample; None drops it (fleet option `roots_by_tid`)."""
        if self.roots is None:
            return pname
        root = self.roots.get(int(h.tid)) if len(h.tid) < 20 else None  # (h.tid is digits)
        if root is not None:
            return root
        if not self.agave_roots:
            return None
        return b"agave;" + h.comm.replace(b" ", b"_")

    def count(self, h: Header, pname: bytes, folded: bytes, times: int = 1, binned: bool = False) -> None:
        """`binned`: the caller keeps these samples' bins itself (the fast path's raw keys)."""
        root = self.root(h, pname)
        if root is None:
            return
        if self.timed and not binned:
            if h.bin is None:
                self.unbinned += times
            else:
                self.add_bin(self.stack_id(root + folded), h.bin, times)
                if self.counted_by_bin:
                    return  # counted (samples too) from its bin in finish
        key = (root, folded)
        self.counts[key] = self.counts.get(key, 0) + times * (h.period if self.by_period else 1)
        self.samples += times
        if h.long_period:
            self.long_periods += times

    def feed_lines(self, lines: Iterable[bytes]) -> None:
        """Lines without their newline; b"" is a blank line."""
        it: Iterator[bytes] = iter(lines)
        next_line = (lambda: next(it, None)) if self.opts.srcline else None
        for line in it:
            if line.startswith(b"#"):
                continue
            if not line:  # end of stack
                if self.pname is None:
                    continue
                assert self.header is not None
                if self.stack_bytes >= 0:
                    folded = b"".join(b";" + f for group in reversed(self.stack) for f in group)
                    self.count(self.header, self.pname, folded)
                self.stack, self.stack_bytes = [], 0
                self.pname = None
                continue
            h = parse_header(line)
            if h is not None:
                if self.accept_event(h.event):
                    self.header, self.pname = h, process_name(h, self.opts)
                    if self.timed:
                        h.bin = line_bin(line)
                continue
            parts = stack_line_parts(line)
            if parts is not None:
                if self.pname is not None:
                    frames = stack_frames(parts, is_java(self.pname), self.opts, next_line, self.addr2line)
                    if frames and self.stack_bytes >= 0:
                        self.stack.append(frames)
                        if self.stack_limit:
                            self.count_stack_bytes(frames)
                continue
            self.unrecognized += 1
            if self.unrecognized <= MAX_WARNINGS:
                self.warnings.append("Unrecognized line: " + quoted(line))

    def count_stack_bytes(self, frames: list[bytes]) -> None:
        self.stack_bytes += sum(map(len, frames)) + len(frames)
        if self.stack_bytes > self.stack_limit:
            self.stack, self.stack_bytes = [], -1  # -1: skipping the rest of this record
            self.oversized += 1

    def finish(self) -> CollapseResult:
        """Perl prints nothing for a last stack that no blank line ends; neither do we."""
        stacks: dict[str, int] = {}
        for (root, folded), n in self.counts.items():
            key = (root + folded).decode("utf-8", "surrogateescape")
            stacks[key] = stacks.get(key, 0) + n
        warnings = list(self.warnings)
        if self.unrecognized > MAX_WARNINGS:
            warnings.append(f"... {self.unrecognized - MAX_WARNINGS} more unrecognized lines")
        if self.long_periods and self.by_period:
            warnings.append(
                f"{self.long_periods} samples had a period above 2^64-1 (perf's is a 64-bit number): counted as 1 each"
            )
        event = self.event.decode("utf-8", "surrogateescape") if self.event is not None else None
        dropped = {e.decode("utf-8", "surrogateescape"): n for e, n in self.dropped.items()}
        if self.event_defaulted and self.dropped:
            # the script prints "Filtering for events of type: <a skipped type>"; say what is kept
            shown = [f"{quoted(e)} ({n} samples)" for e, n in list(self.dropped.items())[:5]]
            more = f" and {len(self.dropped) - 5} more types" if len(self.dropped) > 5 else ""
            kept = quoted(self.event) if self.event is not None else ""
            warnings.insert(0, f"Filtering for events of type: {kept}; skipped {', '.join(shown)}{more}")
        result = CollapseResult(stacks, warnings, event, self.samples, dropped)
        if self.timed:
            result.binned, result.unbinned = self.time_bins(), self.unbinned
            if self.counted_by_bin:
                for stack, n in result.binned.totals().items():
                    stacks[stack] = stacks.get(stack, 0) + n
                    result.samples += n
        return result

    def stack_id(self, stack: bytes) -> int:
        """The id of a stack (root + frames), shifted: id << BIN_SHIFT."""
        sid = self.stack_ids.get(stack)
        if sid is None:
            sid = self.stack_ids[stack] = len(self.stack_names) << BIN_SHIFT
            self.stack_names.append(stack)
        return sid

    def add_bin(self, sid: int, b: int, times: int) -> None:
        if b >> BIN_SHIFT:  # (a time stamp of 11 digits or more: never perf's)
            self.odd_bins[(sid, b)] = self.odd_bins.get((sid, b), 0) + times
        else:
            self.bin_counts[sid | b] += times

    def time_bins(self) -> TimeBins:
        """The kept bins, packed (TimeBins), and emptied here; the fast path's samples of a
        dropped root (id DROPPED) left out."""
        from .timebins import TimeBins  # (numpy: only a collapse that keeps bins imports it)

        counts: Mapping[int, int] = self.bin_counts
        shift = BIN_SHIFT
        if self.odd_bins:  # a wider key for every bin, in Python: only for such input
            shift = max(b.bit_length() for _, b in self.odd_bins)
            packed = {(k >> BIN_SHIFT) << shift | (k & BIN_MASK): n for k, n in counts.items()}
            for (sid, b), n in self.odd_bins.items():
                key = (sid >> BIN_SHIFT) << shift | b
                packed[key] = packed.get(key, 0) + n
            counts = packed
        stacks = [s.decode("utf-8", "surrogateescape") for s in self.stack_names]  # (never equal)
        bins = TimeBins.of_counts(stacks, counts, shift, first_id=DROPPED + 1)
        self.bin_counts, self.odd_bins, self.stack_ids, self.stack_names = Counter(), {}, {}, [NO_STACK]
        return bins
