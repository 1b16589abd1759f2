"""TimeBins, the (stack, bin) counts a collapse keeps as two numpy arrays (collapse/timebins.py)."""

from __future__ import annotations

import gzip
import json

import numpy as np

from fleetflame.collapse.options import BIN_SHIFT
from fleetflame.collapse.timebins import TimeBins
from fleetflame.timeline.store import Timeline

SERIES = {"b;x": {100: 2, 103: 1}, "a;y": {101: 5}, "c;z": {}}


def test_of_counts_sorts_and_leaves_out_the_stacks_below_first_id() -> None:
    counts = {2 << BIN_SHIFT | 7: 1, 1 << BIN_SHIFT | 9: 4, 0 << BIN_SHIFT | 9: 3, 1 << BIN_SHIFT | 8: 2}
    bins = TimeBins.of_counts(["", "one", "two"], counts, BIN_SHIFT, first_id=1)
    assert bins.keys.tolist() == [1 << BIN_SHIFT | 8, 1 << BIN_SHIFT | 9, 2 << BIN_SHIFT | 7]
    assert bins.counts.tolist() == [2, 4, 1]
    assert bins.totals() == {"one": 6, "two": 1}  # "" (id 0) had samples, all left out
    assert bins.series() == {"one": {8: 2, 9: 4}, "two": {7: 1}}


def test_series_round_trip_and_stacks_without_samples() -> None:
    bins = TimeBins.of_series(SERIES)
    assert bins.keys.dtype == np.int64
    assert bins.series() == {k: v for k, v in SERIES.items() if v}
    assert bins.runs() == ([0, 1], [0, 2], [2, 3])


def test_keys_above_int64_work_the_same_as_python_ints() -> None:
    """A planted time stamp's bin (2**70) makes keys no int64 holds: the same answers, slowly."""
    far = {"b;x": {5: 1, 1 << 70: 2}, "a;y": {7: 3}}
    bins = TimeBins.of_series(far)
    assert bins.keys.dtype == object
    assert bins.series() == far
    assert bins.totals() == {"b;x": 3, "a;y": 3}
    assert Timeline.from_json(json.loads(gzip.decompress(Timeline(packed=bins).encode()))).series == far


def test_renamed_adds_up_stacks_that_get_the_same_name() -> None:
    bins = TimeBins.of_series(SERIES).renamed(["s", "s", "c;z"])
    assert bins.series() == {"s": {100: 2, 101: 5, 103: 1}}


def test_empty() -> None:
    bins = TimeBins.of_counts([], {}, BIN_SHIFT)
    assert (bins.totals(), bins.series(), bins.runs()) == ({}, {}, ([], [], []))
    text = json.loads(gzip.decompress(Timeline(packed=bins).encode()))
    assert (text["stacks"], text["series"], text["bins"], text["samples"]) == ([], [], 0, 0)


def test_encode_is_the_plain_json() -> None:
    """The arrays write the text Timeline.to_json spells out plainly."""
    t = Timeline({k: dict(v) for k, v in SERIES.items()}, unbinned=4)
    assert json.loads(gzip.decompress(t.encode())) == t.to_json()
