"""fleetflame: fleet-wide perf flamegraphs for Firedancer / Frankendancer validators."""

__version__ = "0.1.0"
