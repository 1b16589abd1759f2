"""stackcollapse-perf.pl flags as PerfOptions, for the tests (the CLI does the same mapping)."""

from __future__ import annotations

from fleetflame.collapse import PerfOptions


def options(flags: list[str]) -> PerfOptions:
    o = PerfOptions()
    for flag in flags:
        name, _, value = flag.partition("=")
        if name == "--pid":
            o.include_pid = True
        elif name == "--tid":
            o.include_tid = True
        elif name == "--kernel":
            o.annotate_kernel = True
        elif name == "--jit":
            o.annotate_jit = True
        elif name == "--all":
            o.annotate_kernel = o.annotate_jit = True
        elif name == "--addrs":
            o.include_addrs = True
        elif name == "--srcline":
            o.srcline = True
        elif name == "--inline":
            o.inline = True
        elif name == "--context":
            o.context = True
        elif name == "--event-filter":
            o.event_filter = value
        else:
            raise ValueError(flag)
    return o
