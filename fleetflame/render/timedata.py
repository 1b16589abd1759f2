"""The time section of the HTML viewer's page (model.py builds the rest): when each leaf's samples
were taken, for the Timeline tab and time ranges.

When the fleet context has the hosts' timelines, the page also carries when each leaf's samples
were taken (`#ff-time`, gzip then base64 as the blob; header.time describes it). The viewer
decodes it only when the Timeline tab or a `#from=…&until=…` link needs it. One stream of
unsigned LEB128 varints:

    per leaf (the blob's leaf order), at header.time.binMs:   n, then n pairs (gap, count)
    per host (header.hosts order), at header.time.fineMs:     n, then n pairs (gap, count)

A gap is the bin's distance from the leaf's (host's) previous bin, the first from bin 0, which
starts at header.time.origin (fineOrigin), seconds since the epoch; bins are aligned to the epoch.
The per-leaf bins are as fine as fit a byte budget (TIME_BUDGET; LADDER_MS): ranges and function
shares have that resolution. The per-host totals (the sample-count heatmap and strips) are at the
timelines' own 20 ms when they fit HOST_BUDGET, else coarser too.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from fleetflame.errors import InputError

if TYPE_CHECKING:
    from fleetflame.timeline.store import Timeline

TIME_FORMAT = "fleetflame-time"
LADDER_MS = (20, 40, 100, 200, 500, 1000)  # per-leaf bin widths tried, finest first
TIME_BUDGET = 24_000_000  # bytes of the page's #ff-time text (base64) at most; the page stays <= 30 MB
HOST_BUDGET = 4_000_000  # of which the per-host totals
MAX_GRID = 8_000_000  # hosts × bins of the densest grid the page's timeline may need (64 MB as float64)
Ints = npt.NDArray[np.int64]


def build_time(
    timelines: Mapping[str, Timeline] | Iterable[tuple[str, Timeline]],
    leaf_of: Mapping[str, Mapping[str, int]],
    leaves: int,
    start: float | None,
    budget: int = TIME_BUDGET,
) -> tuple[dict[str, Any], str] | str:
    """header.time and the packed #ff-time text for `timelines` (host -> Timeline), whose stacks
    are looked up in `leaf_of` (host -> `tile;frame;...` -> leaf index). Per-leaf bins as fine as
    fit `budget` (bytes of base64 text); a string saying why when nothing fits."""
    try:
        return _build_time(timelines.items() if isinstance(timelines, Mapping) else timelines, leaf_of, leaves, start, budget)
    except InputError as exc:  # a damaged timeline.json.gz, met while reading them: the page has no timeline
        return str(exc)


def _build_time(
    timelines: Iterable[tuple[str, Timeline]],
    leaf_of: Mapping[str, Mapping[str, int]],
    leaves: int,
    start: float | None,
    budget: int,
) -> tuple[dict[str, Any], str] | str:
    hosts = sorted(leaf_of)
    host_pos = {h: i for i, h in enumerate(hosts)}
    fine_ms = 0  # the first timeline's bin width (20 ms: every timeline.json.gz so far); others are put in its bins
    leaf_parts: list[Ints] = []
    bin_parts: list[Ints] = []
    count_parts: list[Ints] = []
    host_parts: list[Ints] = []
    unmatched = unbinned = 0
    for name, timeline in timelines:
        fine_ms = fine_ms or timeline.bin_ms
        index = leaf_of.get(name, {})
        unbinned += timeline.unbinned
        binned = timeline.packed
        if not len(binned.keys):
            continue
        # each key's leaf, through its stack's; -1: a stack the page does not have (or a host)
        leaf_of_stack = np.array([index.get(stack, -1) for stack in binned.stacks], dtype=np.int64)
        leaf = leaf_of_stack[binned.ids()]
        known = leaf >= 0
        unmatched += int(binned.counts[~known].sum())
        if not known.any():
            continue
        fine = binned.absolute_bins()[known].astype(np.int64)  # (placed on the recording: int64)
        if timeline.bin_ms != fine_ms:
            fine = fine * timeline.bin_ms // fine_ms
        leaf_parts.append(leaf[known])
        bin_parts.append(fine)
        count_parts.append(binned.counts[known])
        host_parts.append(np.full(len(fine), host_pos[name], dtype=np.int64))
    if not bin_parts:
        return "the hosts' timelines have no sample of the stacks in this page"
    leaf, fbin, count, host = (np.concatenate(p) for p in (leaf_parts, bin_parts, count_parts, host_parts))
    del leaf_parts, bin_parts, count_parts, host_parts
    leaf, fbin, count = _by_owner(leaf, fbin, count)
    first = int(fbin.min())
    samples = int(count.sum())
    ladder = [fine_ms, *(w for w in LADDER_MS if w > fine_ms and w % fine_ms == 0)]
    span = int(fbin.max()) - first + 1  # in fine bins
    # The viewer holds a dense grid of hosts × bins (so does _host_totals, here): widths that make
    # it larger than MAX_GRID are skipped, so a long recording, or a host whose times were
    # forged far apart, cannot make either allocate without bound.
    ladder = [w for w in ladder if len(hosts) * (span // (w // fine_ms) + 2) <= MAX_GRID]
    if not ladder:
        return f"the recording spans {span * fine_ms / 1000:,.0f} s: too long for the page's timeline even at 1 s bins"
    for host_bin_ms in ladder:  # per host, by time only: small; at 20 ms if it fits HOST_BUDGET
        host_stream, host_origin, host_bins, host_events = _host_totals(host, fbin, count, len(hosts), host_bin_ms // fine_ms)
        host_size = _text_size(len(_pack(host_stream)))
        if host_size <= min(HOST_BUDGET, budget // 4):
            break
    else:
        return f"the hosts' sample totals do not fit the page's budget even at {ladder[-1]} ms bins"
    del host
    for width in ladder:
        k = width // fine_ms
        # an event is at least a gap and a count: skip widths that cannot fit without encoding them
        if _text_size(_events(leaf, fbin // k) * 2 // 3) > budget - host_size:
            continue
        stream, origin, nbins, events = _binned(leaf, fbin, count, leaves, k)
        packed = _pack(stream + host_stream)
        if _text_size(len(packed)) > budget:
            continue
        meta = {
            "format": TIME_FORMAT,
            "version": 1,
            "binMs": width,
            "origin": origin * width / 1000,
            "bins": nbins,
            "events": events,
            "captureMs": fine_ms,
            "fineMs": host_bin_ms,
            "fineOrigin": host_origin * host_bin_ms / 1000,
            "fineBins": host_bins,
            "hostEvents": host_events,
            "leaves": leaves,
            "hosts": len(hosts),
            "leafBytes": len(stream),
            "start": start if start is not None else first * fine_ms / 1000,
            "samples": samples,
            "unmatched": unmatched,
            "unbinned": unbinned,
            "budget": budget,
        }
        return meta, base64.b64encode(packed).decode("ascii")
    return (f"the sample times of {samples:,} samples do not fit the page's {budget / 1e6:.0f} MB budget even at "
            f"{ladder[-1]} ms bins")


def _by_owner(leaf: Ints, fbin: Ints, count: Ints) -> tuple[Ints, Ints, Ints]:
    """The samples sorted by leaf, then bin. Each leaf's samples come as one run (one stack of one
    host's timeline), usually already in time order: the runs are sorted, not every sample."""
    if not len(leaf):
        return leaf, fbin, count
    cut = np.flatnonzero(leaf[1:] != leaf[:-1]) + 1
    starts = np.concatenate(([0], cut)).astype(np.int64)
    lengths = np.diff(np.concatenate((starts, [len(leaf)]))).astype(np.int64)
    runs = np.argsort(leaf[starts], kind="stable")
    if not np.all(np.diff(leaf[starts][runs]) > 0):  # a leaf in two runs: sort every sample
        order = np.lexsort((fbin, leaf))
    else:
        lens = lengths[runs]
        shift = starts[runs] - (np.cumsum(lens) - lens)
        order = np.repeat(shift, lens) + np.arange(len(leaf), dtype=np.int64)
    leaf, fbin, count = leaf[order], fbin[order], count[order]
    if not _within_sorted(leaf, fbin):
        order = np.lexsort((fbin, leaf))
        leaf, fbin, count = leaf[order], fbin[order], count[order]
    return leaf, fbin, count


def _host_totals(host: Ints, fbin: Ints, count: Ints, hosts: int, k: int) -> tuple[bytes, int, int, int]:
    """The varint stream of each host's samples in bins of k fine bins (as _binned), summed densely."""
    wbin = fbin // k
    origin = int(wbin.min())
    nbins = int(wbin.max()) - origin + 1
    dense = np.bincount(host * nbins + (wbin - origin), weights=count, minlength=hosts * nbins).astype(np.int64)
    cells = np.flatnonzero(dense)
    stream = _varints(_stream_values(cells // nbins, cells % nbins, dense[cells], hosts))
    return stream, origin, nbins, len(cells)


def _text_size(gz: int) -> int:
    return 4 * ((gz + 2) // 3)


def _events(owner: Ints, wbin: Ints) -> int:
    """Distinct (owner, bin) pairs of sorted arrays."""
    if not len(owner):
        return 0
    return 1 + int(np.count_nonzero((owner[1:] != owner[:-1]) | (wbin[1:] != wbin[:-1])))


def _binned(owner: Ints, fbin: Ints, count: Ints, owners: int, k: int) -> tuple[bytes, int, int, int]:
    """The varint stream of the samples in bins of k fine bins (sorted by owner, then fine bin):
    the stream, the first bin (absolute, in bins of k), the number of bins, the number of
    (owner, bin) events."""
    wbin = fbin // k
    origin = int(wbin.min())
    rel = wbin - origin
    starts = np.flatnonzero(np.concatenate(([True], (owner[1:] != owner[:-1]) | (rel[1:] != rel[:-1]))))
    sums = np.add.reduceat(count, starts)
    own, rel = owner[starts], rel[starts]
    return _varints(_stream_values(own, rel, sums, owners)), origin, int(rel.max()) + 1, len(starts)


def _within_sorted(owner: Ints, wbin: Ints) -> bool:
    """Each owner's bins ascending (without gathering them: two passes, no copies)."""
    return bool(np.all((wbin[1:] >= wbin[:-1]) | (owner[1:] != owner[:-1])))


def _stream_values(owner: Ints, rel: Ints, count: Ints, owners: int) -> Ints:
    """Per owner 0..owners-1: its number of events n, then n (gap, count) pairs."""
    n = len(owner)
    per = np.bincount(owner, minlength=owners).astype(np.int64)
    before = np.concatenate(([0], np.cumsum(per)[:-1])).astype(np.int64)
    gap = rel.copy()
    if n:
        gap[1:] -= rel[:-1]
        first = np.concatenate(([True], owner[1:] != owner[:-1]))
        gap[first] = rel[first]
    values = np.empty(owners + 2 * n, dtype=np.int64)
    values[np.arange(owners, dtype=np.int64) + 2 * before] = per
    pos = owner + 1 + 2 * np.arange(n, dtype=np.int64)
    values[pos] = gap
    values[pos + 1] = count
    return values


def _varints(values: Ints) -> bytes:
    """Unsigned LEB128 of each value (all >= 0), vectorised. Nearly all are one byte (small gaps
    and counts): only the few of 128 and more are worked on byte by byte, the rest is a few
    passes over the array (a 500-host page has 23 million values)."""
    n = len(values)
    big = np.flatnonzero(values >= 0x80)
    if not len(big):
        return values.astype(np.uint8).tobytes()
    v = values[big].astype(np.uint64)
    length = np.ones(len(big), dtype=np.int64)  # bytes of each big value
    rest = v >> np.uint64(7)
    while rest.any():
        length += rest > 0
        rest >>= np.uint64(7)
    extra = np.zeros(n, dtype=np.int64)  # bytes each value takes beyond its first
    extra[big] = length - 1
    starts = np.cumsum(extra)
    starts -= extra
    starts += np.arange(n, dtype=np.int64)
    out = np.empty(n + int(length.sum()) - len(big), dtype=np.uint8)
    out[starts] = (values & 0x7F).astype(np.uint8)
    at = starts[big]
    out[at] |= 0x80
    for i in range(1, int(length.max())):
        byte = (v >> np.uint64(7 * i)) & np.uint64(0x7F)
        more = (length - 1 > i).astype(np.uint64) << np.uint64(7)
        keep = length > i
        out[at[keep] + i] = (byte[keep] | more[keep]).astype(np.uint8)
    return out.tobytes()


def _pack(raw: bytes) -> bytes:
    compressor = zlib.compressobj(5, zlib.DEFLATED, 31)  # 1.6 % larger than 6, twice as fast here
    return compressor.compress(raw) + compressor.flush()
