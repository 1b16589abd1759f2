"""A fleet capture: the capture folder and its manifest, and the pipeline that fills them.

The names here describe the capture folder and are light to import (reports and analysis read
them); the pipeline itself lives in the stage modules (see runner.py for the entry points).
"""

from .manifest import (
    FLEET_FOLDED,
    HOSTS_DIR,
    MANIFEST,
    PERF_DATA,
    PERF_SCRIPT,
    STACKS_FOLDED,
    HostResult,
    Manifest,
    host_dir,
    iso,
    new_capture_id,
    read_manifest,
    utc_now,
)

__all__ = [
    "FLEET_FOLDED",
    "HOSTS_DIR",
    "MANIFEST",
    "PERF_DATA",
    "PERF_SCRIPT",
    "STACKS_FOLDED",
    "HostResult",
    "Manifest",
    "host_dir",
    "iso",
    "new_capture_id",
    "read_manifest",
    "utc_now",
]
