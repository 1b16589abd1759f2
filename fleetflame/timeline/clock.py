"""Each host's clock against the control machine's, measured with the start signal.

The control machine notes its clock just before it sends `go` (`sent_at`); the host answers at once
with its own clock (`clock EPOCH`, capture/scripts.py); the control machine notes when that line
arrived (`received_at`). The host read its clock somewhere between the two, so

    offset      = host_at - (sent_at + received_at) / 2     (host minus control, seconds)
    uncertainty = (received_at - sent_at) / 2               (the offset is right to within this)

This is one round of NTP's own exchange, without NTP's filtering: good to a round trip, which is
all a 20 ms time bin needs. The timelines are put on the control machine's clock with it
(`correction`); a host whose clock is off by more than CLOCK_WARN_S, or whose offset cannot be
known that well (a slow link), gets a warning in the manifest and the run's recap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CLOCK_WARN_S = 0.050  # a host clock off by more than this misplaces its samples by 2+ time bins


@dataclass(frozen=True)
class ClockReading:
    sent_at: float  # control clock, just before `go` was sent
    host_at: float  # host clock, as the host read `go`
    received_at: float  # control clock, when the host's answer arrived

    @property
    def offset(self) -> float:
        return self.host_at - (self.sent_at + self.received_at) / 2

    @property
    def uncertainty(self) -> float:
        return max(0.0, (self.received_at - self.sent_at) / 2)


def correction(offset: float | None, uncertainty: float | None) -> float:
    """Seconds to subtract from a host's times to put them on the control machine's clock: its
    offset when the host's clock is surely off (the offset exceeds its uncertainty), else 0 (a
    synchronised clock is not "corrected" by the noise of one round trip)."""
    if offset is None or not math.isfinite(offset):
        return 0.0
    bound = uncertainty if uncertainty is not None and math.isfinite(uncertainty) else math.inf
    return offset if abs(offset) > bound else 0.0


def clock_off(offset: float, uncertainty: float) -> str | None:
    """`2.500 s ahead of this machine's (±3 ms)` when a clock is surely off by more than
    CLOCK_WARN_S; None when it is not."""
    if abs(offset) - uncertainty <= CLOCK_WARN_S:
        return None
    side = "ahead of" if offset > 0 else "behind"
    return f"{abs(offset):.3f} s {side} this machine's (±{uncertainty * 1000:.0f} ms)"


def clock_warnings(host: str, offset: float, uncertainty: float) -> list[str]:
    """What the recap and the manifest say about a host's clock (nothing when it is fine)."""
    out = []
    off = clock_off(offset, uncertainty)
    if off:
        out.append(
            f"{host}'s clock is {off}: its samples are placed on this machine's clock in the timeline; "
            "keep its clock synchronised (chrony/NTP)"
        )
    if uncertainty > CLOCK_WARN_S:
        out.append(
            f"{host}'s clock offset is known only to ±{uncertainty * 1000:.0f} ms (the start signal took "
            f"{2 * uncertainty * 1000:.0f} ms to answer): its column of the timeline may be off by that much"
        )
    return out
