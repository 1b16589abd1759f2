"""A synthetic fleet capture: `host;tile;frame;...;leaf COUNT` stacks shaped like a real one.

Used by bench/render.py (500 hosts × 14 tiles, ≥ 200k distinct stacks) and, at a few hosts, by
the viewer's tests. Seeded, so the same arguments always give the same stacks.

Shape: every host runs the same 14 tiles of a Frankendancer validator. Each tile kind has one
call tree (the binary is the same on every host), invented lazily: Firedancer-style C names
(`fd_quic_conn_service`), Rust paths for the bank tiles
(`solana_runtime::bank::Bank::load_and_execute_transactions`), `_[k]` kernel and `_[i]` inlined
frames, 15 to 45 frames deep under the tile run loop's 9–11 frame prefix. A host samples each tile's
tree independently (Zipf-weighted leaves), so hosts share most stacks but not all. Optionally one
host takes an extra code path in its verify tiles (a known skew), and one tile per some hosts
records no sample at all (idle tiles).
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

from fleetflame.timeline.store import Timeline

TILES = ["net:0", "quic:0", "verify:0", "verify:1", "verify:2", "verify:3", "dedup:0", "pack:0",
         "bank:0", "bank:1", "poh:0", "shred:0", "store:0", "sign:0"]  # fmt: skip
# relative load per kind: how many samples a host's tile gets in a 10 s capture at 99 Hz
BUSY = {"net": 0.9, "quic": 0.8, "verify": 1.0, "dedup": 0.5, "pack": 0.7, "bank": 0.9, "poh": 0.6,
        "shred": 0.6, "store": 0.3, "sign": 0.2}  # fmt: skip
PREFIX = ["_start", "__libc_start_main", "main", "fd_main", "fdctl_main", "run_cmd_fn",
          "fd_topo_run_single_process", "run_tile_thread_main", "fd_topo_run_tile", "stem_run",
          "stem_run1"]  # fmt: skip
VERBS = ["process", "handle", "parse", "verify", "hash", "encode", "decode", "publish", "poll",
         "drain", "insert", "query", "update", "flush", "merge", "schedule", "execute", "sign"]  # fmt: skip
NOUNS = ["txn", "packet", "shred", "entry", "slot", "block", "account", "frag", "batch", "sig",
         "conn", "stream", "ack", "fec_set", "microblock", "bundle", "vote", "leader"]  # fmt: skip
RUST = ["solana_runtime::bank::Bank", "solana_svm::transaction_processor::TransactionBatchProcessor<FG>",
        "solana_program_runtime::invoke_context::InvokeContext", "solana_accounts_db::accounts_db::AccountsDb",
        "solana_bpf_loader_program::syscalls", "agave_feature_set::FeatureSet"]  # fmt: skip
KERNEL = ["entry_SYSCALL_64_after_hwframe_[k]", "do_syscall_64_[k]", "__x64_sys_recvmmsg_[k]",
          "__sys_sendmmsg_[k]", "udp_sendmsg_[k]", "ip_finish_output2_[k]", "__dev_queue_xmit_[k]",
          "asm_sysvec_apic_timer_interrupt_[k]", "__sched_yield_[k]", "copy_user_generic_[k]"]  # fmt: skip
SKEW_FUNCTION = "fd_ed25519_verify_slowpath"
# synthetic_timelines: the recording's start (epoch seconds; a multiple of 1 s, so every bin width
# of the viewer's ladder starts on it) and the burst: the skewed host runs SKEW_FUNCTION only then
START = 1_795_000_000.0
BURST = (12.4, 13.2)  # seconds from START


def _name(rng: random.Random, kind: str, depth: int) -> str:
    r = rng.random()
    if depth > 6 and r < 0.08:
        return rng.choice(KERNEL)
    if r < 0.16:
        return f"fd_{rng.choice(VERBS)}_{rng.choice(NOUNS)}_[i]"
    if kind == "bank" and r < 0.5:
        return f"{rng.choice(RUST)}::{rng.choice(VERBS)}_{rng.choice(NOUNS)}s::h{rng.getrandbits(64):016x}"
    return f"fd_{kind}_{rng.choice(VERBS)}_{rng.choice(NOUNS)}"


def _paths(rng: random.Random, kind: str, count: int) -> list[tuple[str, ...]]:
    """`count` distinct call paths of one tile kind, from one lazily invented call tree."""
    children: dict[tuple[str, ...], list[str]] = {}
    max_depth = rng.randint(15, 35)
    out: dict[tuple[str, ...], None] = {}
    while len(out) < count:
        path: tuple[str, ...] = tuple(PREFIX[: rng.choice((9, 11, 11, 11))])
        while len(path) < 11 + max_depth:
            kids = children.get(path)
            if kids is None:
                fanout = 1 + int(rng.expovariate(1 / max(0.6, 3.0 - 0.1 * len(path))))
                kids = children[path] = [_name(rng, kind, len(path)) for _ in range(fanout)]
            path = (*path, kids[min(int(rng.expovariate(0.9)), len(kids) - 1)])
            if rng.random() < 0.05:
                break
        out[path] = None
    return list(out)


def synthetic_fleet(
    hosts: int = 500,
    seed: int = 7,
    samples_per_tile: int = 990,
    paths_per_kind: int = 1000,
    zipf: float = 2.0,
    skewed_host: int | None = 17,
    idle_every: int = 50,
    skew_share: float = 0.2,
) -> dict[str, int]:
    """Fleet stacks for `hosts` hosts (`host001`...) × TILES.

    `skewed_host` (1-based, if within range) runs SKEW_FUNCTION for `skew_share` of its verify
    samples (a fifth by default); every `idle_every`-th host's `sign:0` records nothing (an idle
    tile, 0 to disable).
    """
    rng = random.Random(seed)
    kinds = sorted({t.split(":")[0] for t in TILES})
    universe = {k: _paths(rng, k, paths_per_kind) for k in kinds}
    # Zipf-like weights: a few hot paths, a long tail.
    weights = [1 / (rank + 1) ** zipf for rank in range(paths_per_kind)]
    cumulative = []
    acc = 0.0
    for w in weights:
        acc += w
        cumulative.append(acc)
    stacks: dict[str, int] = {}
    for h in range(1, hosts + 1):
        host = f"host{h:03d}"
        hrng = random.Random(seed * 1_000_003 + h)
        for tile in TILES:
            kind = tile.split(":")[0]
            if idle_every and h % idle_every == 0 and tile == "sign:0":
                continue
            n = max(1, int(samples_per_tile * BUSY[kind] * hrng.uniform(0.8, 1.2)))
            drawn = Counter(hrng.choices(range(paths_per_kind), cum_weights=cumulative, k=n))
            paths = universe[kind]
            for index, count in drawn.items():
                path = paths[index]
                if h == skewed_host and kind == "verify" and hrng.random() < skew_share:
                    path = (*path[:12], SKEW_FUNCTION)
                key = f"{host};{tile};{';'.join(path)}"
                stacks[key] = stacks.get(key, 0) + count
    return stacks


def synthetic_timelines(
    stacks: dict[str, int],
    seconds: float = 30.0,
    seed: int = 7,
    skewed_host: str | None = "host017",
    burst: tuple[float, float] = BURST,
    start: float = START,
    bin_ms: int = 20,
) -> dict[str, Timeline]:
    """Each host's timeline (as hosts/HOST/timeline.json.gz holds it) for fleet `stacks`: every
    sample of a stack at a uniformly random time within `seconds` from `start`, except that the
    samples of `skewed_host`'s SKEW_FUNCTION stacks all fall within `burst` (seconds from start).
    Each stack's binned samples add up to its count in `stacks`. Seeded."""
    rng = np.random.default_rng(seed)
    by_host: dict[str, list[tuple[str, int]]] = {}
    for key, count in stacks.items():
        host, _, rest = key.partition(";")
        by_host.setdefault(host, []).append((rest, count))
    bin_s = bin_ms / 1000
    first = round(start / bin_s)
    nbins = int(np.ceil(max(seconds, burst[1]) / bin_s))
    out: dict[str, Timeline] = {}
    for host, entries in sorted(by_host.items()):
        names = [name for name, _ in entries]
        index = np.repeat(np.arange(len(names), dtype=np.int64), np.array([c for _, c in entries], dtype=np.int64))
        times = rng.uniform(0.0, seconds, index.size)
        if host == skewed_host:
            in_burst = np.array([name.endswith(";" + SKEW_FUNCTION) for name in names])[index]
            times[in_burst] = rng.uniform(burst[0], burst[1], int(in_burst.sum()))
        bins = np.minimum(np.floor(times / bin_s).astype(np.int64), nbins - 1)
        keys, counts = np.unique(index * nbins + bins, return_counts=True)
        series: dict[str, dict[int, int]] = {name: {} for name in names}
        for i, b, c in zip((keys // nbins).tolist(), (keys % nbins + first).tolist(), counts.tolist()):
            series[names[i]][b] = c
        out[host] = Timeline(series, bin_ms)
    return out


if __name__ == "__main__":
    import sys
    import time

    t0 = time.perf_counter()
    fleet = synthetic_fleet(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
    frames = sum(k.count(";") + 1 for k in fleet)
    print(f"{len(fleet):,} distinct stacks, {sum(fleet.values()):,} samples, {frames / len(fleet):.1f} frames deep, "
          f"{time.perf_counter() - t0:.1f} s")
