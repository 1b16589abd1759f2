"""A fleet capture: the capture folder and its manifest, and the pipeline that fills them.

The names here describe the capture folder and are light to import (reports and analysis read
them); the pipeline itself lives in the stage modules. One capture, from `run` to its manifest:

    runner.run_capture   folder + CaptureRecord (recorder.py: the one writer of manifest.json)
    fleet.run_fleet      per host a RunCapture (host_run.py): prepare, start barrier, go, then
                         record.py, transfer.py, stacks.py; each reports facts to the record
    record.finish        ended_at and the recorded duration, manifest.json written

`fetch` (recover.py plans it) runs runner.fetch_capture, a FetchCapture (host_fetch.py) per host.
runner.py's docstring has the detail.
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
