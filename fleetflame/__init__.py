"""fleetflame: fleet-wide perf flamegraphs for Firedancer / Frankendancer validators."""

import os

__version__ = "0.1.0"

# numpy's OpenBLAS starts a thread per core when numpy is imported, and they spin: about 0.1 s of
# CPU in each process that imports it, taken from collapsing on a small control machine
# (docs/BENCHMARKS.md, "collapse: what time bins cost"). fleetflame does no linear algebra. Set
# before any of its modules imports numpy; a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
