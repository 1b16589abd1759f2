"""The collapsing state machine of stackcollapse-perf.pl, plus a memoized path for whole records.

`feed_lines` is the script's main loop, line by line, kept literal so that odd input (headers
without a blank line between them, stray lines, comments inside a record, --srcline) does
exactly what the script does. `feed_records` is the fast path: perf separates samples with a
blank line, so a chunk split on b"\\n\\n" gives whole records; each record's header is parsed
once and its raw frame block is looked up in a memo (perf repeats identical raw stacks a lot).
A record the fast path is not sure about goes through `feed_lines`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .options import CollapseResult, PerfOptions
from .rules import NOT_STACK, STACK_LINE, Header, fold_line, is_java, parse_header, process_name, stack_frames

_MISS = object()
MEMO_BYTES = 24 << 20  # raw frame blocks kept in the memo before it is emptied (keeps RSS flat)
LINE_MEMO_ENTRIES = 200_000
MAX_WARNINGS = 20


class Collapser:
    def __init__(self, opts: PerfOptions):
        self.opts = opts
        want = opts.event_filter or None  # perl: `--event-filter ""` means "first seen" too
        self.event: bytes | None = want.encode() if want else None
        self.event_defaulted = False
        self.dropped: dict[bytes, int] = {}
        self.counts: dict[tuple[bytes, bytes | None], int] = {}
        self.samples = 0
        self.warnings: list[str] = []
        self.unrecognized = 0
        self.roots = {tid: root.encode() for tid, root in opts.roots_by_tid.items()} if opts.roots_by_tid is not None else None
        self.by_period = opts.weight == "period"
        # line-machine state (perl's $pname, @stack and the last header's pid/tid/period)
        self.pname: bytes | None = None
        self.header: Header | None = None
        self.stack: list[list[bytes]] = []  # frame groups, leaf first
        # memos: raw frame block -> folded frames; one line -> its frames; per tidy_java setting
        self.block_memo: tuple[dict[bytes, object], dict[bytes, object]] = ({}, {})
        self.line_memo: tuple[dict[bytes, object], dict[bytes, object]] = ({}, {})
        self.memo_bytes = 0

    # -- shared ----------------------------------------------------------------------------------
    def accept_event(self, event: bytes | None) -> bool:
        """perl: the first event type seen becomes the filter; other types are skipped."""
        if event is None or event == self.event:
            return True
        if self.event is None:
            self.event, self.event_defaulted = event, True
            return True
        self.dropped[event] = self.dropped.get(event, 0) + 1
        return False

    def root(self, h: Header, pname: bytes) -> bytes | None:
        if self.roots is None:
            return pname
        root = self.roots.get(int(h.tid))
        if root is not None:
            return root
        template = self.opts.unknown_tid_root
        if template is None:
            return None
        comm = h.comm.replace(b" ", b"_").decode("utf-8", "surrogateescape")
        return template.format(comm=comm, pid=h.pid.decode(), tid=h.tid.decode()).encode("utf-8", "surrogateescape")

    def count(self, h: Header, pname: bytes, folded: bytes | None) -> None:
        root = self.root(h, pname)
        if root is None:
            return
        key = (root, folded)
        self.counts[key] = self.counts.get(key, 0) + (h.period if self.by_period else 1)
        self.samples += 1

    # -- the script's main loop --------------------------------------------------------------------
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
                groups = [f for group in reversed(self.stack) for f in group]
                self.count(self.header, self.pname, b";".join(groups) if groups else None)
                self.stack = []
                self.pname = None
                continue
            h = parse_header(line)
            if h is not None:
                if self.accept_event(h.event):
                    self.header, self.pname = h, process_name(h, self.opts)
                continue
            m = STACK_LINE.match(line)
            if m is not None:
                if self.pname is not None:
                    frames = stack_frames(m, is_java(self.pname), self.opts, next_line)
                    if frames:
                        self.stack.append(frames)
                continue
            self.unrecognized += 1
            if self.unrecognized <= MAX_WARNINGS:
                self.warnings.append("Unrecognized line: " + line.decode("utf-8", "backslashreplace"))

    @property
    def clean(self) -> bool:
        return self.pname is None and not self.stack

    # -- fast path ---------------------------------------------------------------------------------
    def feed_records(self, data: bytes) -> None:
        """Whole records separated by b"\\n\\n", as if a blank line followed the last one."""
        if self.opts.srcline:  # a srcline read may swallow the blank line: stay literal
            self.feed_lines(data.split(b"\n") + [b""])
            return
        opts, counts, by_period = self.opts, self.counts, self.by_period
        block_memos, accept = self.block_memo, self.accept_event
        plain_root = self.roots is None
        clean = self.clean
        for rec in data.split(b"\n\n"):
            if not clean:
                self.feed_lines(rec.split(b"\n") + [b""])
                clean = self.clean
                continue
            r = rec.strip(b"\n")  # blank lines between records do nothing
            if not r:
                continue
            head, _, block = r.partition(b"\n")
            h = parse_header(head) if not head.startswith(b"#") else None
            if h is None:
                self.feed_lines(rec.split(b"\n") + [b""])
                clean = self.clean
                continue
            if not accept(h.event):
                continue  # and its stack lines are skipped
            pname = process_name(h, opts)
            java = pname.startswith(b"java")
            memo = block_memos[java]
            folded = memo.get(block, _MISS)
            if folded is _MISS:
                folded = self.fold_block(block, java)
                if self.memo_bytes > MEMO_BYTES:
                    block_memos[0].clear(), block_memos[1].clear()
                    self.memo_bytes = 0
                memo[block] = folded
                self.memo_bytes += len(block) + 100
            if folded is NOT_STACK:
                self.feed_lines(rec.split(b"\n") + [b""])
                clean = self.clean
                continue
            if plain_root:
                key = (pname, folded)
                counts[key] = counts.get(key, 0) + (h.period if by_period else 1)
                self.samples += 1
            else:
                self.count(h, pname, folded)  # type: ignore[arg-type]

    def fold_block(self, block: bytes, java: bool) -> bytes | None | object:
        """Frames of a record's stack lines, root first; NOT_STACK if a line is not a stack line."""
        if not block:
            return None
        memo = self.line_memo[java]
        if len(memo) > LINE_MEMO_ENTRIES:
            memo.clear()
        get = memo.get
        parts = []
        for line in reversed(block.split(b"\n")):
            v = get(line, _MISS)
            if v is _MISS:
                v = memo[line] = fold_line(line, java, self.opts)
            if v is NOT_STACK:
                return NOT_STACK
            if v is not None:
                parts.append(v)
        return b";".join(parts) if parts else None  # type: ignore[arg-type]

    # -- end -----------------------------------------------------------------------------------------
    def finish(self) -> CollapseResult:
        """Perl prints nothing for a last stack that no blank line ends; neither do we."""
        stacks: dict[str, int] = {}
        for (root, folded), n in self.counts.items():
            key = (root + b";" + folded if folded is not None else root).decode("utf-8", "surrogateescape")
            stacks[key] = stacks.get(key, 0) + n
        warnings = list(self.warnings)
        if self.unrecognized > MAX_WARNINGS:
            warnings.append(f"... {self.unrecognized - MAX_WARNINGS} more unrecognized lines")
        event = self.event.decode("utf-8", "surrogateescape") if self.event is not None else None
        dropped = {e.decode("utf-8", "surrogateescape"): n for e, n in self.dropped.items()}
        if self.event_defaulted and dropped:
            # the script's own words, with what it means: only the first event type is kept
            others = ", ".join(f"{e} ({n} samples)" for e, n in dropped.items())
            warnings.insert(0, f"Filtering for events of type: {event}; skipped {others}")
        return CollapseResult(stacks, warnings, event, self.samples, dropped)
