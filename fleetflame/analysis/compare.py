"""One host against the rest of the fleet, for one function: the robust baseline and the test.

The baseline of host H is the pooled share of the other hosts that agree with the fleet: a host
joins it unless its share is more than half the minimum difference away from the median of all
hosts' shares *and* further than sampling noise explains (3 standard errors at its sample count).
The median is over every host, H included, so with three or more hosts one skewed host cannot
move it, and a skewed host is left out of everyone else's baseline: a healthy host is not
flagged because another one is skewed. A host is compared only if its share and the baseline
differ by at least the minimum difference; then Fisher's exact test gives the p-value.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from math import sqrt

from .stats import fisher_exact

MIN_HOSTS = 3  # with two hosts there is no telling which of them differs
NOISE_SE = 3.0  # standard errors of sampling noise within which a host still joins the baseline
_ROUNDING = 1e-12


@dataclass(frozen=True)
class Comparison:
    """A host's samples in a function against its baseline's; p_value from Fisher's exact test."""

    host: str
    host_samples: int
    host_total: int
    fleet_samples: int
    fleet_total: int
    baseline_hosts: int
    p_value: float

    @property
    def host_share(self) -> float:
        return self.host_samples / self.host_total

    @property
    def fleet_share(self) -> float:
        return self.fleet_samples / self.fleet_total

    @property
    def difference(self) -> float:
        return self.host_share - self.fleet_share


def could_differ(max_share: float, min_difference: float) -> bool:
    """Whether any host can be `min_difference` away from its baseline when no host's share
    reaches `max_share`: shares all below the minimum difference are all within it of each other."""
    return max_share + _ROUNDING >= min_difference


def compare_hosts(counts: Mapping[str, tuple[int, int]], min_difference: float) -> list[Comparison]:
    """For hosts -> (samples in the function, samples in the tile), the hosts whose share is at
    least `min_difference` (a fraction) from their baseline, with the test's p-value. Every host
    needs samples in the tile; fewer than MIN_HOSTS hosts compare nothing."""
    if len(counts) < MIN_HOSTS:
        return []
    shares = {host: x / n for host, (x, n) in counts.items()}
    median = statistics.median(shares.values())
    spread = median * (1 - median)
    baseline = [
        host
        for host, (x, n) in counts.items()
        if abs(shares[host] - median) <= max(min_difference / 2, NOISE_SE * sqrt(spread / n)) + _ROUNDING
    ]
    pooled_x = sum(counts[h][0] for h in baseline)
    pooled_n = sum(counts[h][1] for h in baseline)
    in_baseline = set(baseline)
    found = []
    for host, (x, n) in counts.items():
        fleet_x, fleet_n, others = pooled_x, pooled_n, len(baseline)
        if host in in_baseline:
            fleet_x, fleet_n, others = fleet_x - x, fleet_n - n, others - 1
        if not fleet_n:
            continue
        if abs(x / n - fleet_x / fleet_n) + _ROUNDING < min_difference:
            continue
        found.append(Comparison(host, x, n, fleet_x, fleet_n, others, fisher_exact(x, n, fleet_x, fleet_n)))
    return found
