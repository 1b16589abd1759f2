"""Lay folded stacks out as flame graph frames: flamegraph.pl's layout, found by bisection.

Stacks are sorted frame by frame, so every frame is one contiguous run of stacks and its x is
the sum of the counts before the run. With prefix sums over the sorted stacks, a run's width is
one subtraction and its end one bisection, so a frame narrower than `min_count` is skipped with
its whole subtree unvisited: the cost follows the frames drawn, not the input's size.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from itertools import accumulate
from typing import NamedTuple

SEP = "\0"  # sorts below every other character, see stack_sort_key


class Frame(NamedTuple):
    depth: int  # 0 is the synthetic "all" frame
    start: int  # in counts, from the left edge
    width: int  # in counts
    name: str
    other: int  # sum of the `other` weights under this frame (the "before" side of a diff)


def stack_sort_key(stack: str) -> str:
    # Orders stacks frame by frame: "a;b;c" sorts next to "a;b" even when a sibling frame like
    # "b!" exists, which plain string order would put in between (';' > '!').
    return stack.replace(";", SEP)


def _sorted(stacks: Mapping[str, int], other: Mapping[str, int] | None) -> tuple[list[str], list[int], list[int]]:
    """Keys (";" turned into SEP) in order, with their counts and `other` weights."""
    if other:
        names = [k for k in stacks.keys() | other.keys() if stacks.get(k, 0) > 0 or other.get(k, 0) > 0]
        counts = [max(stacks.get(k, 0), 0) for k in names]
        others = [max(other.get(k, 0), 0) for k in names]
    else:
        names, counts, others = list(stacks), list(stacks.values()), []
        if counts and min(counts) <= 0:
            names = [k for k in names if stacks[k] > 0]
            counts = [stacks[k] for k in names]
    if any(SEP in k for k in names):  # a NUL inside a name (binary garbage) must not split it
        names = [k.replace(SEP, "\ufffd") for k in names]
    keys = [k.replace(";", SEP) for k in names]
    # sorting indices, not (key, count) pairs, saves hashing or tuple-comparing long keys
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return (
        [keys[i] for i in order],
        [counts[i] for i in order],
        [others[i] for i in order] if others else [0] * len(order),
    )


def layout(
    stacks: Mapping[str, int],
    min_count: float = 0.0,
    other: Mapping[str, int] | None = None,
) -> list[Frame]:
    """Frames at least `min_count` (and more than 0) wide, sorted by depth then x; "all" first.

    `other` weighs the stacks a second time, without affecting widths; each frame reports the
    sum under it (used for the "before" counts of a differential graph).
    """
    keys, counts, others = _sorted(stacks, other)
    cum = [0, *accumulate(counts)]
    cum_other = [0, *accumulate(others)]
    frames = [Frame(0, 0, cum[-1], "all", cum_other[-1])]
    new_frame = tuple.__new__  # skips NamedTuple's Python-level __new__ in the hot loop
    todo = [(0, len(keys), 0, 1)]  # a run of keys, the length of their common prefix, depth
    while todo:
        lo, hi, plen, depth = todo.pop()
        i = lo
        if i < hi and len(keys[i]) < plen:  # the stack ending at the parent frame itself
            i += 1
        while i < hi:
            key = keys[i]
            cut = key.find(SEP, plen)
            if cut < 0:  # the stack ends with this frame
                name = key[plen:]
                end = bisect_left(keys, key + "\x01", i + 1, hi)
            else:
                name = key[plen:cut]
                # first key past this frame's run: every "prefix+name" and "prefix+name SEP ..." sorts below
                end = bisect_left(keys, key[:cut] + "\x01", i + 1, hi)
            width = cum[end] - cum[i]
            if width >= min_count and width > 0:
                frames.append(new_frame(Frame, (depth, cum[i], width, name, cum_other[end] - cum_other[i])))
                if end - i > 1 or cut >= 0:
                    todo.append((i, end, (cut if cut >= 0 else len(key)) + 1, depth + 1))
            i = end
    frames.sort()
    return frames
