"""Sample times: each host's samples in 20 ms bins of the wall clock (hosts/HOST/timeline.json.gz),
windows of a capture (`report --from/--until`) and the terminal activity view (`timeline`).

perf records with `-k realtime` (capture/scripts.py), so a sample's time stamp is seconds since the
epoch on the host's clock; collapse/ bins it while folding (PerfOptions.time_bins) and
collapse/hosts.py writes the host's timeline beside its stacks.folded.
"""

from __future__ import annotations

from .store import TIMELINE, Timeline, read_timeline, write_timeline

__all__ = ["TIMELINE", "Timeline", "read_timeline", "write_timeline"]
