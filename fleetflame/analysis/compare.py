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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .stats import fisher_exact

MIN_HOSTS = 3  # with two hosts there is no telling which of them differs
NOISE_SE = 3.0  # standard errors of sampling noise within which a host still joins the baseline
_ROUNDING = 1e-12


class Shares:
    """The one definition of a host's share against its baseline's, for every result that
    carries the four counts (a Comparison here, skew's Finding)."""

    host_samples: int  # the host's samples of the tile in the function
    host_total: int  # the host's samples of the tile
    fleet_samples: int  # the same, added up over the baseline hosts
    fleet_total: int

    @property
    def host_share(self) -> float:
        return self.host_samples / self.host_total

    @property
    def fleet_share(self) -> float:
        return self.fleet_samples / self.fleet_total

    @property
    def difference(self) -> float:
        return self.host_share - self.fleet_share


@dataclass(frozen=True)
class Comparison(Shares):
    """A host's samples in a function against its baseline's; p_value from Fisher's exact test."""

    host: str
    host_samples: int
    host_total: int
    fleet_samples: int
    fleet_total: int
    baseline_hosts: int
    p_value: float


def compare_matrix(
    samples: np.ndarray, totals: np.ndarray, hosts: Sequence[str], min_difference: float
) -> list[tuple[int, Comparison]]:
    """Every function (a row of `samples`, a column per host) against every host's baseline at
    once; `totals` are the hosts' samples of the tile (all > 0), `hosts` their names. Returns
    (row, comparison) for each host at least `min_difference` from its baseline, with Fisher's
    exact p-value."""
    rows, columns = samples.shape
    if columns < MIN_HOSTS or not rows:
        return []
    shares = samples / totals
    median = np.median(shares, axis=1, keepdims=True)
    noise = NOISE_SE * np.sqrt(median * (1 - median) / totals)
    in_baseline = np.abs(shares - median) <= np.maximum(min_difference / 2, noise) + _ROUNDING
    pooled_x = (samples * in_baseline).sum(axis=1, keepdims=True)
    pooled_n = (totals * in_baseline).sum(axis=1, keepdims=True)
    fleet_x = pooled_x - samples * in_baseline  # a host is never its own baseline
    fleet_n = pooled_n - totals * in_baseline
    others = in_baseline.sum(axis=1, keepdims=True) - in_baseline
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = shares - fleet_x / fleet_n
    found = (fleet_n > 0) & (np.abs(difference) + _ROUNDING >= min_difference)
    out = []
    for row, col in zip(*np.nonzero(found)):
        x, n, fx, fn = int(samples[row, col]), int(totals[col]), int(fleet_x[row, col]), int(fleet_n[row, col])
        out.append((int(row), Comparison(hosts[col], x, n, fx, fn, int(others[row, col]), fisher_exact(x, n, fx, fn))))
    return out


def compare_hosts(counts: Mapping[str, tuple[int, int]], min_difference: float) -> list[Comparison]:
    """For hosts -> (samples in the function, samples in the tile), the hosts whose share is at
    least `min_difference` (a fraction) from their baseline, with the test's p-value. Every host
    needs samples in the tile; fewer than MIN_HOSTS hosts compare nothing."""
    names = list(counts)
    samples = np.array([[counts[h][0] for h in names]], dtype=np.int64)
    totals = np.array([counts[h][1] for h in names], dtype=np.int64)
    return [c for _, c in compare_matrix(samples, totals, names, min_difference)]
