"""The viewer's time section (render.timedata.build_time): per-leaf sample times, per-host totals, the byte
budget's coarser bins, and range_stacks (what a range of the viewer shows) against the timelines."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bench.synthetic_fleet import BURST, SKEW_FUNCTION, START, synthetic_fleet, synthetic_timelines
from fleetflame.render import html
from fleetflame.render.model import FleetContext, build_page_data
from fleetflame.render.readback import _read_varints, decode_stacks, decode_time, range_stacks, unpack_blob
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.timedata import _varints
from fleetflame.timeline.store import Timeline


@pytest.fixture(scope="module")
def fleet() -> tuple[dict[str, int], dict[str, Timeline]]:
    stacks = synthetic_fleet(hosts=5, samples_per_tile=600, paths_per_kind=60, skewed_host=3, idle_every=0, skew_share=0.05)
    return stacks, synthetic_timelines(stacks, seconds=20.0, skewed_host="host003")


def page_data(stacks: dict[str, int], timelines: dict[str, Timeline] | None, **context: object) -> tuple[dict, bytes, str]:
    return build_page_data(stacks, FlameGraphOptions(), FleetContext(timelines=timelines, recording_start=START, **context))  # type: ignore[arg-type]


def window(timelines: dict[str, Timeline], lo: float, hi: float) -> dict[str, int]:
    """The fleet stacks of bins starting in [lo, hi) seconds from START, from the timelines."""
    out: dict[str, int] = {}
    for host, timeline in timelines.items():
        for stack, series in timeline.series.items():
            first = round(START / timeline.bin_s)  # (bins from START: no rounding of epoch seconds)
            n = sum(c for b, c in series.items() if lo - 1e-9 <= (b - first) * timeline.bin_s < hi - 1e-9)
            if n:
                out[f"{host};{stack}"] = n
    return out


def test_round_trip_at_20_ms(fleet: tuple[dict[str, int], dict[str, Timeline]]) -> None:
    stacks, timelines = fleet
    header, blob, text = page_data(stacks, timelines)
    meta = header["time"]
    assert meta["binMs"] == meta["fineMs"] == meta["captureMs"] == 20
    assert meta["origin"] == START and meta["start"] == START and meta["unmatched"] == 0
    assert meta["samples"] == sum(stacks.values())
    leaves, hosts = decode_time(header, text)
    assert len(leaves) == header["counts"]["leaves"] and len(hosts) == len(header["hosts"])
    # every leaf's bins add up to its count in the blob, and the host totals to the host's samples
    assert sum(sum(b.values()) for b in leaves) == sum(stacks.values())
    for h, name in enumerate(header["hosts"]):
        assert sum(hosts[h].values()) == sum(v for k, v in stacks.items() if k.startswith(name + ";"))
    assert range_stacks(header, blob, text, 0, 20) == decode_stacks(header, blob) == stacks
    for lo, hi in [(0.0, 1.0), (BURST[0], BURST[1]), (3.02, 3.04), (19.5, 25.0)]:
        assert range_stacks(header, blob, text, lo, hi) == window(timelines, lo, hi)


def test_the_burst_is_in_its_window_only(fleet: tuple[dict[str, int], dict[str, Timeline]]) -> None:
    stacks, timelines = fleet
    header, blob, text = page_data(stacks, timelines)
    inside = range_stacks(header, blob, text, *BURST)
    outside = {**range_stacks(header, blob, text, 0, BURST[0]), **range_stacks(header, blob, text, BURST[1], 20)}
    assert any(k.startswith("host003;verify") and k.endswith(SKEW_FUNCTION) for k in inside)
    assert not any(SKEW_FUNCTION in k for k in outside)
    assert sum(v for k, v in inside.items() if SKEW_FUNCTION in k) == sum(v for k, v in stacks.items() if SKEW_FUNCTION in k)


def test_a_small_budget_takes_coarser_bins_and_says_so(fleet: tuple[dict[str, int], dict[str, Timeline]]) -> None:
    stacks, timelines = fleet
    full, _, full_text = page_data(stacks, timelines)
    header, blob, text = page_data(stacks, timelines, time_budget=len(full_text) // 3)
    meta = header["time"]
    assert meta["binMs"] > 20 and meta["captureMs"] == 20 and len(text) <= len(full_text) // 3
    assert meta["events"] < full["time"]["events"]
    # a window on the coarse grid is still exact
    width = meta["binMs"] / 1000
    lo, hi = width * 10, width * 25
    assert range_stacks(header, blob, text, lo, hi) == window(timelines, lo, hi)
    assert range_stacks(header, blob, text, 0, 20) == stacks
    # nothing fits: no time section, and the header says why
    header, _, text = page_data(stacks, timelines, time_budget=1000)
    assert text == "" and "time" not in header and "budget" in header["timeNote"]


def test_stacks_of_the_timeline_missing_from_the_page_are_counted(fleet: tuple[dict[str, int], dict[str, Timeline]]) -> None:
    stacks, timelines = fleet
    extra = dict(timelines)
    host = extra["host001"]
    extra["host001"] = Timeline({**host.series, "verify:0;not_in_the_page": {host.first_bin or 0: 7}}, host.bin_ms, 3)
    header, _, _ = page_data(stacks, extra)
    assert header["time"]["unmatched"] == 7 and header["time"]["unbinned"] == 3


def test_without_timelines_the_page_is_as_before(fleet: tuple[dict[str, int], dict[str, Timeline]]) -> None:
    stacks, timelines = fleet
    page = html.render_fleet(stacks, FlameGraphOptions(), FleetContext())
    assert '<script type="application/octet-stream" id="ff-time"></script>' in page
    data = json.loads(re.search(r'<script type="application/json" id="ff-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert "time" not in data and "timeNote" not in data
    with_time = html.render_fleet(stacks, FlameGraphOptions(), FleetContext(timelines=timelines, recording_start=START))
    text = re.search(r'id="ff-time">([^<]*)</script>', with_time).group(1)  # type: ignore[union-attr]
    assert text and len(unpack_blob(text)) > 0


def leb128(values: list[int]) -> bytes:
    """Unsigned LEB128, one value at a time: the reference for the vectorised encoder."""
    out = bytearray()
    for v in values:
        while True:
            byte, v = v & 0x7F, v >> 7
            out.append(byte | (0x80 if v else 0))
            if not v:
                break
    return bytes(out)


@pytest.mark.parametrize("values", [
    [0], [127], [128], [1, 2, 3], [0, 300, 5, 2**35, 127, 128, 16383, 16384, 2**62],
    [(i * 7919) % 300 for i in range(2000)], [2**21 - 1, 2**21, 0, 2**28, 1],
])
def test_varints_are_leb128(values: list[int]) -> None:
    encoded = _varints(np.array(values, dtype=np.int64))
    assert encoded == leb128(values)
    assert _read_varints(encoded) == values
