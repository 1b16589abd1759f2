"""The capture defaults, stated once: the CLI's flags, CaptureOptions and the Manifest's fields
(for manifests that predate a key) all read them from here."""

DURATION_S = 30.0
FREQUENCY_HZ = 99
CALL_GRAPH = "fp"
MAX_PERF_DATA_MB = 2048
FORKS = 50
