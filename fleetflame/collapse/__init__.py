"""`fleetflame collapse`: FlameGraph's stackcollapse-perf.pl as a library.

    result = collapse_perf_file("out.perf", PerfOptions(annotate_kernel=True))
    sys.stdout.buffer.write(format_collapsed(result.stacks))
    for w in result.warnings: print(w, file=sys.stderr)

Any input is streamed with bounded memory and time linear in its size: at most MAX_RECORD of
one record (the text between two blank lines) is held. A longer record, which perf never
writes, is skipped whole, with a warning; on every other input the output is the script's.
Memory beyond that grows with the distinct stacks only: the output itself.
"""

from __future__ import annotations

from .options import CollapseResult, PerfOptions
from .parallel import collapse_perf_files
from .perf import collapse_perf, collapse_perf_file, format_collapsed

__all__ = [
    "CollapseResult",
    "PerfOptions",
    "collapse_perf",
    "collapse_perf_file",
    "collapse_perf_files",
    "format_collapsed",
]
