"""A small fleet's stacks (`host;tile;frame;...;leaf COUNT`) for the export tests, as a capture
folder holds them: tiles as `KIND:IDX`, the Agave process as `agave;THREAD`, awkward names."""

from __future__ import annotations

from collections.abc import Mapping

FLEET: dict[str, int] = {
    "val01;verify:0;fd_tile_run;stem_run;fd_verify_during_frag;fd_ed25519_verify": 40,
    "val01;verify:0;fd_tile_run;stem_run;fd_mcache_wait": 5,
    "val01;verify:1;fd_tile_run;stem_run;fd_verify_during_frag;fd_ed25519_verify": 33,
    "val01;quic:0;fd_tile_run;stem_run;fd_quic_service;fd_quic_conn_service": 30,
    "val01;agave;solBankStgTx00;std::rt::lang_start;solana_runtime::bank::Bank::process": 21,
    "val01;agave;sol Rpc :1;std::rt::lang_start;tokio::runtime::park": 4,
    "val02;verify:0;fd_tile_run;stem_run;fd_verify_during_frag;fd_ed25519_verify": 35,
    "val02;verify:0;fd_tile_run;stem_run;fd_mcache_wait": 15,
    "val02;net:0;fd_tile_run;stem_run;fd_net_rx;xsk_rx_[k]": 8,
    "val-03.example;verify:0;fd_tile_run;stem_run;fd_mcache_wait": 12,
    "val-03.example;verify:0;fd_tile_run;stem_run;fn<T, U>::operator<<(std::ostream&)": 3,
    "val-03.example;pack:0;fd_tile_run;stem_run;[unknown]": 7,
}


def host_totals(stacks: Mapping[str, int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for stack, count in stacks.items():
        host = stack.split(";", 1)[0]
        totals[host] = totals.get(host, 0) + count
    return totals


def tile_totals(stacks: Mapping[str, int]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = {}
    for stack, count in stacks.items():
        host, tile = stack.split(";")[:2]
        totals[host, tile] = totals.get((host, tile), 0) + count
    return totals
