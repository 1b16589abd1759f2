"""TARGET words, as `fdctl flame` takes them, plus comma lists and `KIND:*`.

`all` every tile; `agave` the whole Agave process; `KIND` is `KIND:0`; `KIND:IDX` one tile;
`KIND:*` every tile of that kind. Anything else is refused before any host is touched.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..errors import InputError

# Tile kinds of Frankendancer (`fdctl`, src/app/fdctl/topology.c) and Firedancer (src/app/firedancer/
# topology.c and the `.name` of every fd_topo_run_tile_t in src/disco, src/discof, src/discoh), as of
# firedancer-io/firedancer 178b48f (2026-08), plus names older releases used (`poh` before `pohh`,
# `resolv` before `resolh`, `gui` before `guih` in Frankendancer; `snaprd`, `snapls`, ...), so that
# a fleet of mixed versions can be targeted. A TARGET kind outside this list is almost always a
# typo: refusing it early (with "did you mean") saves a fleet-wide round trip. A kind a host's
# metrics report that is not here is still recorded by `all` (with a warning): the validator is the
# authority on its own tiles.
FRANKENDANCER_KINDS: tuple[str, ...] = tuple(
    """
    netlnk net sock quic bundle verify dedup resolh pack bank pohh shred store sign metric diag
    plugin guih
    """.split()
)
FIREDANCER_KINDS: tuple[str, ...] = tuple(
    """
    net netlnk sock quic bundle verify dedup resolv pack execle execrp poh shred sign metric diag
    gui rpc rserve replay tower votor send txsend gossip gossvf repair ipecho genesi accdb admin
    event solcap snapct snapld snapdc snapin snapwr snapmk snapsv snapzp snaprd backt forkt
    """.split()
)
OLDER_KINDS: tuple[str, ...] = tuple(
    """
    poh resolv gui bankf storei cswtch http rpcsrv exec writer batch snapls snapwh snapla arch_f
    arch_w scap rstart eqvoc pktgen bencho benchg benchs udpecho l4swap
    """.split()
)
TILE_KINDS: frozenset[str] = frozenset(FRANKENDANCER_KINDS + FIREDANCER_KINDS + OLDER_KINDS)
EXAMPLE_KINDS = "net, quic, verify, dedup, pack, bank, pohh, shred"

_KIND = r"[a-z][a-z0-9_]*"
_WORD = re.compile(rf"^(?P<kind>{_KIND})(?::(?P<idx>\d+|\*))?$")


def tile_kind(tile: str) -> str:
    """A tile frame's kind: `verify:3` → `verify`; `agave` stays `agave`."""
    return tile.partition(":")[0]


@dataclass(frozen=True)
class TileSelector:
    """One `KIND:IDX` or `KIND:*` word. `kind_id` None means every tile of the kind."""

    kind: str
    kind_id: int | None

    def matches(self, kind: str, kind_id: int) -> bool:
        return kind == self.kind and (self.kind_id is None or self.kind_id == kind_id)

    def __str__(self) -> str:
        return f"{self.kind}:{'*' if self.kind_id is None else self.kind_id}"


@dataclass(frozen=True)
class Target:
    """A parsed TARGET: `all`, `agave`, and tile selectors, in the order given."""

    text: str
    all_tiles: bool = False
    agave: bool = False
    selectors: tuple[TileSelector, ...] = ()

    @property
    def agave_only(self) -> bool:
        """The whole Agave process alone, recorded with `perf -p` as `fdctl flame agave` does."""
        return self.agave and not self.all_tiles and not self.selectors

    @property
    def key(self) -> str:
        """The target's meaning as one canonical string: `verify` and `verify:0`, `a,b` and `b,a`
        give the same key. Locks and filters compare targets by it."""
        words = {str(selector) for selector in self.selectors}
        words |= {"all"} if self.all_tiles else set()
        words |= {"agave"} if self.agave else set()
        return ",".join(sorted(words))

    @property
    def slug(self) -> str:
        """File-name-safe form for capture ids: `verify:*,quic` -> `verify-all+quic`."""
        return self.text.replace(":*", "-all").replace(":", "-").replace(",", "+")


def parse_target(text: str) -> Target:
    """Parse a TARGET string, refusing any word that is not one of the contract's forms."""
    words = [w.strip() for w in text.split(",")]
    if not text.strip() or any(not w for w in words):
        raise InputError(
            f"empty word in target {text!r}: give tile words separated by commas, "
            "e.g. 'verify:*,quic' (see `fleetflame run --help`)"
        )
    all_tiles = agave = False
    selectors: list[TileSelector] = []
    for word in words:
        if word == "all":
            all_tiles = True
        elif word == "agave":
            agave = True
        else:
            selector = _parse_tile_word(word)
            if selector not in selectors:
                selectors.append(selector)
    canonical = ",".join(dict.fromkeys(words))
    return Target(text=canonical, all_tiles=all_tiles, agave=agave, selectors=tuple(selectors))


def _parse_tile_word(word: str) -> TileSelector:
    match = _WORD.match(word)
    if not match:
        raise InputError(
            f"bad target word {word!r}: use all, agave, KIND, KIND:IDX or KIND:* "
            "(e.g. verify:3, verify:*, net)"
        )
    kind, idx = match["kind"], match["idx"]
    if kind not in TILE_KINDS:
        close = difflib.get_close_matches(kind, sorted(TILE_KINDS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(
            f"unknown tile kind {kind!r} in target word {word!r}: {hint}"
            f"use a Firedancer tile kind such as {EXAMPLE_KINDS}"
        )
    if idx is None:
        return TileSelector(kind, 0)  # `fdctl flame verify` means verify:0
    return TileSelector(kind, None if idx == "*" else int(idx))


@dataclass(frozen=True)
class TileFilter:
    """A tile word of the analysis commands (`captures --trend`, `skew --tile`): unlike in TARGET,
    a bare kind means every tile of that kind. `verify:3` one tile, `verify` / `verify:*` every
    verify tile, `agave` the Agave process."""

    text: str
    kind: str
    kind_id: int | None  # None: every tile of the kind

    def matches(self, tile: str) -> bool:
        """Whether a tile frame of a capture (`verify:3`, `agave`) is one of this filter's."""
        if self.kind_id is not None:
            return tile == f"{self.kind}:{self.kind_id}"
        return tile == self.kind or tile.startswith(self.kind + ":")

    @property
    def is_single_tile(self) -> bool:
        return self.kind_id is not None


def parse_tile_filter(word: str, option: str = "--tile") -> TileFilter:
    """Parse one tile word of an analysis filter; InputError (naming `option`) if it is not one."""
    text = word.strip()
    if text == "agave":
        return TileFilter(text, "agave", None)
    match = _WORD.match(text)
    if not match:
        raise InputError(f"{option} {word!r}: give a tile (verify:3), a kind (verify or verify:*) or agave")
    kind, idx = match["kind"], match["idx"]
    if kind not in TILE_KINDS:
        close = difflib.get_close_matches(kind, sorted(TILE_KINDS | {"agave"}), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(f"{option} {word!r}: unknown tile kind {kind!r}; {hint}use a Firedancer tile kind such as verify, quic, net")
    return TileFilter(text, kind, None if idx in (None, "*") else int(idx))
