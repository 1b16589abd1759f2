"""The fast path: whole records, a run at a time, with the raw frame blocks memoized.

perf ends every sample with a blank line, so a chunk split on b"\\n\\n" gives whole records.
For a run of records with the usual event line, the work is done by C-level calls (split,
map over regex matches, zip, dict lookups, Counter), each raw frame block is folded once
(perf repeats identical raw stacks a lot) and each distinct line once. Any record it is not
sure about goes, in its turn, to the literal loop in `machine.py`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import add
from typing import TYPE_CHECKING, Any

from .machine import DROPPED, Machine
from .options import PerfOptions
from .rules import (
    BLANK_DIGIT,
    COMM_AND_IDS,
    EVENT_LINE,
    MAX_PERIOD_DIGITS,
    NOT_STACK,
    USUAL_EVENT_LINE,
    Header,
    fold_line,
    fold_lines,
    hundredths_bin,
    is_java,
    line_bin,
    long_period,
    period_weight,
    process_name,
    usual_event_lines,
)

if TYPE_CHECKING:
    from .timebins import TimeBins

MEMO_BYTES = 24 << 20  # blocks and folds kept before the memo is emptied: RSS stays flat
LINE_MEMO_ENTRIES = 100_000  # lines and their folds kept before that memo is emptied...
LINE_MEMO_BYTES = 16 << 20  # ... or once they hold this much (a host's lines can be long)
ENTRY_OVERHEAD = 120  # bytes a memo entry costs beyond its keys' and values' text

Memo = dict[bytes, "bytes | object"]


class Memos:
    """raw frame block -> b";frame;frame" (or NOT_STACK), and one line -> its frames; each
    twice, as tidy_java depends on the process name."""

    def __init__(self) -> None:
        self.blocks: tuple[Memo, Memo] = ({}, {})
        self.lines: tuple[Memo, Memo] = ({}, {})
        self.bytes = 0
        self.line_bytes = 0


# The memos of the last options used, kept for the next file: a worker collapsing the files
# of several hosts meets the same stacks again. Folding depends on these options only.
_last_memos: tuple[tuple[object, ...], Memos] | None = None


def shared_memos(opts: PerfOptions) -> Memos:
    global _last_memos
    key = (opts.annotate_kernel, opts.annotate_jit, opts.include_addrs, opts.inline, opts.context)
    if _last_memos is None or _last_memos[0] != key:
        _last_memos = (key, Memos())
    return _last_memos[1]


def clear_memos() -> None:
    """Let go of the kept memos (up to about MEMO_BYTES plus the line memo)."""
    global _last_memos
    _last_memos = None


class BinMemo(dict[bytes, int]):
    """b"SECONDS.HH" -> its bin; map(memo.__getitem__, times) stays C-level but for new times."""

    def __missing__(self, time: bytes) -> int:
        b = self[time] = hundredths_bin(time)
        return b


class RawIds(dict[tuple[bytes | None, ...], int]):
    """A sample's raw key -> its stack id, found by `resolve` the first time (as BinMemo)."""

    def __init__(self, resolve: Callable[[tuple[bytes | None, ...]], int]) -> None:
        super().__init__()
        self.resolve = resolve

    def __missing__(self, key: tuple[bytes | None, ...]) -> int:
        sid = self[key] = self.resolve(key)
        return sid


class Collapser(Machine):
    def __init__(self, opts: PerfOptions) -> None:
        super().__init__(opts)
        self.memos = shared_memos(opts)
        self.block_memo, self.line_memo = self.memos.blocks, self.memos.lines
        self.plain_roots = self.roots is None and not self.opts.include_pid and not self.opts.include_tid
        self.bin_memo = BinMemo()  # b"SECONDS.HH" -> its bin (time_bins)
        self.raw_id_memo = RawIds(self.raw_id)  # raw key -> stack id

    def time_bins(self) -> TimeBins:
        self.bin_memo.clear()
        self.raw_id_memo.clear()  # (it holds stack ids of bins being emptied)
        return super().time_bins()

    def feed_records(self, recs: list[bytes]) -> None:
        """Whole records (the text between blank lines), each as if a blank line followed it."""
        if self.opts.srcline:  # a srcline read may take the blank line: the input is not records
            raise ValueError("with srcline, feed the input's lines to feed_lines, not records")
        if b"" in recs or b"\n" in recs:  # runs of blank lines (as many as a host likes): no-ops here
            recs = [r for r in filter(None, recs) if r != b"\n"]
        if not recs:
            return
        heads, _, blocks = zip(*map(bytes.partition, recs, repeat(b"\n")))
        i, n = 0, len(recs)
        while self.event is None and i < n:  # until the first event type is known
            self.feed_one(recs[i], heads[i], blocks[i])
            i += 1
        if i == n:
            return
        no_blank, blanks = usual_event_lines(self.event, not self.plain_roots, self.timed, self.counted_by_bin)  # type: ignore[arg-type]
        matches = list(map(no_blank.match, heads))
        if None in matches:  # comms with blanks: the other pattern. One with a blank then a digit
            # (EVENT_LINE may cut it elsewhere) is left to feed_one; a comm-and-ids group has one
            # such pair of its own, before the ids. Only a comm with blanks can hold one.
            own = 1 if self.counted_by_bin and not self.plain_roots else 0
            for k in [k for k, m in enumerate(matches) if m is None]:
                m = blanks.match(heads[k])
                if m is not None and len(BLANK_DIGIT.findall(m.group(1))) <= own:
                    matches[k] = m
        while i < n:
            if self.clean:
                try:
                    j = matches.index(None, i)
                except ValueError:
                    j = n
                if j > i:
                    i += self.feed_run(matches[i:j], blocks[i:j])  # type: ignore[arg-type]
                    if i == j:
                        continue
            self.feed_one(recs[i], heads[i], blocks[i])
            i += 1

    def feed_run(self, matches: list[re.Match[bytes]], blocks: tuple[bytes, ...]) -> int:
        """Count the leading records of a run (of the kept event type); return how many."""
        groups = list(zip(*map(re.Match.groups, matches)))  # (usual_event_lines)
        comms, periods = groups[0], groups[-1]  # (with counted_by_bin, no periods: times)
        n = len(comms)
        joined = b"\0" + b"\0".join(comms)
        if b"\0java" in joined:  # tidy_java applies: stop before it
            n = next(k for k, c in enumerate(comms) if is_java(c))
        folded: list[Any] = list(map(self.block_memo[False].get, blocks[:n]))
        if None in folded:
            for k in range(n):
                if folded[k] is None:
                    folded[k] = self.fold_block(blocks[k], False)
        if NOT_STACK in folded:  # a line that is no stack line: stop before it
            n = folded.index(NOT_STACK)
        if self.timed:  # each sample's (stack id, bin) as one int, counted (C-level calls only)
            # the raw key (RawIds): comm (or comm-and-ids), the ids' groups (if apart), frames
            ids_groups = 0 if self.plain_roots or self.counted_by_bin else 2
            columns = [comms[:n], *(group[:n] for group in groups[1 : 1 + ids_groups]), folded[:n]]
            stamps = groups[-1 if self.counted_by_bin else -2][:n]
            self.bin_counts.update(map(add, self.raw_ids(columns), self.bins(stamps)))
            if self.counted_by_bin:
                return n  # the stacks' counts and the samples are the bins' (Machine.finish)
        if self.plain_roots:
            counts, by_period = self.counts, self.by_period
            # (a period of 20 digits or more may be above u64: then look at each; it never is)
            odd = by_period and max(map(len, filter(None, periods[:n])), default=0) >= MAX_PERIOD_DIGITS
            for (comm, period, frames), times in Counter(zip(comms[:n], periods[:n], folded[:n])).items():
                key = (comm.replace(b" ", b"_"), frames)  # perl's $pname
                counts[key] = counts.get(key, 0) + times * (period_weight(period) if by_period else 1)
                if odd and long_period(period):
                    self.long_periods += times
            self.samples += n
        else:
            keys = zip(comms[:n], groups[1][:n], groups[2][:n], periods[:n], folded[:n])
            for (comm, pid, tid, period, frames), times in Counter(keys).items():
                h = header(comm, pid, tid, period, self.event)  # type: ignore[arg-type]
                self.count(h, process_name(h, self.opts), frames, times, binned=True)
        return n

    def bins(self, times: tuple[bytes, ...]) -> map[int]:
        """The 20 ms bin of each `SECONDS.HH` time (a run's share a few dozen distinct ones)."""
        if len(self.bin_memo) > 1_000_000:
            self.bin_memo.clear()
        return map(self.bin_memo.__getitem__, times)

    def raw_ids(self, columns: list[Sequence[Any]]) -> map[int]:
        """The stack id (shifted) of each sample from its raw key, the columns zipped (RawIds)."""
        return map(self.raw_id_memo.__getitem__, zip(*columns))

    def raw_id(self, key: tuple[bytes | None, ...]) -> int:
        """A raw key's stack id: (comm, frames) with plain roots, else (comm, pid, tid, frames), or
        (b"comm  PID/TID", frames) with counted_by_bin; DROPPED if its root is None."""
        comm, frames = key[0], key[-1]
        if self.plain_roots:
            root: bytes | None = comm.replace(b" ", b"_")  # type: ignore[union-attr]  # process_name
        else:
            if len(key) == 2:  # comm and ids as one (usual_event_lines)
                comm, pid, tid = COMM_AND_IDS.match(comm).groups()  # type: ignore[union-attr, arg-type]
                h = header(comm, pid, tid, None, None)  # type: ignore[arg-type]
            else:
                h = header(comm, key[1], key[2], None, None)  # type: ignore[arg-type]
            root = self.root(h, process_name(h, self.opts))
        return DROPPED if root is None else self.stack_id(root + frames)  # type: ignore[operator]

    def feed_one(self, rec: bytes, head: bytes, block: bytes) -> None:
        """One record: the usual shape where EVENT_LINE must confirm the comm, or the literal loop."""
        m = USUAL_EVENT_LINE.match(head) if self.clean else None
        if m is not None and m.group(1) == EVENT_LINE.match(head).group(1):  # type: ignore[union-attr]
            comm, pid, tid, period, event = m.groups()
            folded = self.fold_block(block, is_java(comm))
            if folded is not NOT_STACK:  # else another event line may be in it: literal loop
                if not self.accept_event(event):
                    return  # its stack lines are skipped with it
                h = header(comm, pid, tid, period, event)
                if self.timed:
                    h.bin = line_bin(head)
                self.count(h, process_name(h, self.opts), folded)  # type: ignore[arg-type]
                return
        self.feed_lines(rec.split(b"\n") + [b""])

    def fold_block(self, block: bytes, java: bool) -> bytes | object:
        """A record's stack lines as b";root;...;leaf", or NOT_STACK if one is no stack line.

        A new block often differs from a known one in the leaf line only (same callers, another
        address), so the callers are memoized too and such a miss folds one line.
        """
        memo = self.block_memo[java]
        folded = memo.get(block)
        if folded is not None:
            return folded
        line_memo = self.line_memo[java]
        memos = self.memos
        if len(line_memo) > LINE_MEMO_ENTRIES or memos.line_bytes > LINE_MEMO_BYTES:
            self.forget_lines()
        leaf, sep, callers = block.partition(b"\n")
        up = memo.get(callers) if sep else None
        if up is not None:
            part = line_memo.get(leaf)
            if part is None:
                part = line_memo[leaf] = fold_line(leaf, java, self.opts, self.addr2line)
                memos.line_bytes += 2 * len(leaf) + ENTRY_OVERHEAD
            folded = NOT_STACK if up is NOT_STACK or part is NOT_STACK else up + part  # type: ignore[operator]
        else:
            lines = block.split(b"\n") if block else []
            lines.reverse()  # root first
            parts = list(map(line_memo.get, lines))
            if None in parts:
                todo = [i for i, part in enumerate(parts) if part is None]
                unseen = [lines[i] for i in todo]
                new = fold_lines(unseen, java, self.opts, self.addr2line)
                for i, part in zip(todo, new):
                    parts[i] = line_memo[lines[i]] = part
                memos.line_bytes += 2 * sum(map(len, unseen)) + ENTRY_OVERHEAD * len(todo)
            if NOT_STACK in parts:
                folded = NOT_STACK
            else:
                up = b"".join(parts[:-1])  # type: ignore[arg-type]
                folded = up + parts[-1] if parts else b""  # type: ignore[operator]
                if sep:
                    self.remember(memo, callers, up)
        self.remember(memo, block, folded)
        return folded

    def forget_lines(self) -> None:
        self.memos.lines[0].clear()
        self.memos.lines[1].clear()
        self.memos.line_bytes = 0

    def remember(self, memo: Memo, block: bytes, folded: bytes | object) -> None:
        memos = self.memos
        if memos.bytes > MEMO_BYTES:
            memos.blocks[0].clear()
            memos.blocks[1].clear()
            memos.bytes = 0
        memo[block] = folded
        memos.bytes += len(block) + (len(folded) if isinstance(folded, bytes) else 0) + ENTRY_OVERHEAD

def header(comm: bytes, pid: bytes, tid: bytes | None, period: bytes | None, event: bytes | None) -> Header:
    if tid is None or tid == b"0":  # perl `if (not $tid)`: a lone number is the TID
        pid, tid = b"?", pid
    return Header(comm, pid, tid, period, event)
