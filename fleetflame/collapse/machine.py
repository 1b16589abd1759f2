"""stackcollapse-perf.pl's main loop, line by line, and the counts it keeps.

Kept literal so that odd input (event lines without a blank line between them, stray lines,
comments inside a record, --srcline) does exactly what the script does; the fast path in
`fast.py` hands it every record it is not sure about.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .inline import Addr2Line
from .options import CollapseResult, PerfOptions
from .rules import STACK_LINE, Header, is_java, parse_header, process_name, stack_frames

MAX_WARNINGS = 20


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
        self.by_period = opts.weight == "period"
        # perl's $pname, @stack (frame groups, leaf first) and the last event line taken
        self.pname: bytes | None = None
        self.stack: list[list[bytes]] = []
        self.header: Header | None = None
        self.addr2line = Addr2Line(opts.context) if opts.inline else None

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
        self.dropped[event] = self.dropped.get(event, 0) + 1
        return False

    def root(self, h: Header, pname: bytes) -> bytes | None:
        """The root frame(s) of a sample; None drops it (fleet option `roots_by_tid`)."""
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

    def count(self, h: Header, pname: bytes, folded: bytes, times: int = 1) -> None:
        root = self.root(h, pname)
        if root is None:
            return
        key = (root, folded)
        self.counts[key] = self.counts.get(key, 0) + times * (h.period if self.by_period else 1)
        self.samples += times

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
                folded = b"".join(b";" + f for group in reversed(self.stack) for f in group)
                self.count(self.header, self.pname, folded)
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
                    frames = stack_frames(m, is_java(self.pname), self.opts, next_line, self.addr2line)
                    if frames:
                        self.stack.append(frames)
                continue
            self.unrecognized += 1
            if self.unrecognized <= MAX_WARNINGS:
                self.warnings.append("Unrecognized line: " + line.decode("utf-8", "backslashreplace"))

    def finish(self) -> CollapseResult:
        """Perl prints nothing for a last stack that no blank line ends; neither do we."""
        stacks: dict[str, int] = {}
        for (root, folded), n in self.counts.items():
            key = (root + folded).decode("utf-8", "surrogateescape")
            stacks[key] = stacks.get(key, 0) + n
        warnings = list(self.warnings)
        if self.unrecognized > MAX_WARNINGS:
            warnings.append(f"... {self.unrecognized - MAX_WARNINGS} more unrecognized lines")
        event = self.event.decode("utf-8", "surrogateescape") if self.event is not None else None
        dropped = {e.decode("utf-8", "surrogateescape"): n for e, n in self.dropped.items()}
        if self.event_defaulted and dropped:
            # the script prints "Filtering for events of type: <a skipped type>"; say what is kept
            skipped = ", ".join(f"{e} ({n} samples)" for e, n in dropped.items())
            warnings.insert(0, f"Filtering for events of type: {event}; skipped {skipped}")
        return CollapseResult(stacks, warnings, event, self.samples, dropped)
