"""manifest.json and meta.json: one schema each, and nothing that does not fit gets through.

The fuzz cases feed random and adversarial records to the readers: no exception other than
ValueError escapes, and nothing a record says can name a path outside the capture folder.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from fleetflame.capture.ids import CaptureId, host_folder_name, inside
from fleetflame.capture.manifest import AGAVE_THREADS_ROOT, HostMeta, HostResult, Manifest, host_dir, read_manifest
from fleetflame.capture.recover import parse_listing
from fleetflame.errors import InputError
from fleetflame.inventory.model import HostRecord

GOOD_META: dict[str, Any] = {
    "id": "20261125T221500Z-all",
    "host": "val01",
    "target": "all",
    "capture_started_at": "2026-11-25T22:15:00.000000Z",
    "requested_duration_s": 30,
    "frequency_hz": 99,
    "call_graph": "fp",
    "expected_end": 1796237000.5,
    "tiles": [{"name": "verify:0", "kind": "verify", "kind_id": 0, "pid": 10, "tid": 11}],
    "tile_source": "metrics",
    "collapse_roots": {"11": "verify:0"},
    "unknown_tid_root": None,
    "want_perf_data": True,
    "format": "fleetflame-host-meta",
    "version": 2,
}


def test_meta_round_trips_through_its_one_schema() -> None:
    meta = HostMeta.parse(json.dumps(GOOD_META))
    assert HostMeta.parse(meta.to_line()) == meta


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "20261125T221500Z-x/../../../../etc"),
        ("id", "../20261125T221500Z-all"),
        ("id", "20261125T221500Z-.."),
        ("host", "a\x1b[2Jb"),
        ("host", ""),
        ("unknown_tid_root", "{comm.__class__.__mro__}"),
        ("unknown_tid_root", "agave;{nope}"),
        ("frequency_hz", "99"),
        ("frequency_hz", True),
        ("requested_duration_s", float("nan")),
        ("tiles", "verify:0"),
        ("collapse_roots", {"11; rm -rf /": "verify:0"}),
        ("version", 1),
        ("format", "something-else"),
    ],
)
def test_meta_that_does_not_fit_is_refused(field: str, value: object) -> None:
    bad = dict(GOOD_META, **{field: value})
    with pytest.raises(ValueError):
        HostMeta.parse(json.dumps(bad))


def test_only_the_literal_agave_root_template_is_accepted() -> None:
    assert HostMeta.parse(json.dumps(dict(GOOD_META, unknown_tid_root=AGAVE_THREADS_ROOT))).unknown_tid_root == AGAVE_THREADS_ROOT


def test_capture_ids_have_one_parser() -> None:
    for good in ("20261125T221500Z-all", "20261125T221500Z-verify-all+quic-2", "20261125T221500Z-a@b".replace("@", "_")):
        assert CaptureId.parse(good).text == good
    for bad in ("", "all", "20261125T221500Z-", "20261125T221500Z-a/b", "20261125T221500Z-a b", "x20261125T221500Z-all", "20261125T221500Z-a..b"):
        with pytest.raises(ValueError):
            CaptureId.parse(bad)
    with pytest.raises(InputError, match="is not a capture id"):
        CaptureId.parse_input("../../etc")


def test_host_folders_are_injective_and_stay_inside(tmp_path: Path) -> None:
    names = ["a/b", "a_b", "a%2Fb", "..", ".", ".hidden", "%2E", "ä", "a\\b", "host:22", "[::1]", "a b"]
    folders = [host_folder_name(n) for n in names]
    assert len(set(folders)) == len(names)
    for name in names:
        assert "/" not in host_folder_name(name) and host_folder_name(name) not in (".", "..")
        inside(tmp_path, host_dir(tmp_path, name))


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1 << 70, rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.5, float("inf"), -1e300, 1e18])
    if kind in (4, 5):
        alphabet = string.printable + "\x00\x1b\u202e/.{}"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {str(_random_value(rng, depth + 1))[:10]: _random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def test_fuzzed_meta_lines_are_parsed_or_refused_with_value_error() -> None:
    rng = random.Random(8)
    for _ in range(3000):
        record = dict(GOOD_META)
        for key in rng.sample(sorted(GOOD_META), rng.randrange(1, 5)):
            record[key] = _random_value(rng)
        if rng.random() < 0.1:
            record = _random_value(rng)
        try:
            text = json.dumps(record, allow_nan=True)
        except (TypeError, ValueError):
            continue
        try:
            meta = HostMeta.parse(text)
        except ValueError:
            continue
        CaptureId.parse(meta.id)
        host_folder_name(meta.host)


def test_fuzzed_listings_from_a_host_never_name_a_foreign_folder() -> None:
    rng = random.Random(9)
    host = HostRecord("val01", "10.0.0.1")
    good = json.dumps(GOOD_META)
    for _ in range(2000):
        path = rng.choice(
            [
                "/tmp/fleetflame-20261125T221500Z-all.AbCdEfGhIj",
                "/tmp/fleetflame-20261125T221500Z-all/../../etc.AbCdEfGhIj",
                "/var/tmp/fleetflame-20261125T221500Z-all.AbCdEfGhIj",
                "relative/fleetflame-20261125T221500Z-all.AbCdEfGhIj",
                "/tmp/fleetflame-" + "".join(rng.choice(string.printable) for _ in range(20)),
            ]
        )
        meta = good if rng.random() < 0.5 else json.dumps(dict(GOOD_META, id=_random_value(rng)))
        found = parse_listing(f"{path}\t{meta}\n", host)
        for capture in found:
            assert capture.remote_dir == "/tmp/fleetflame-20261125T221500Z-all.AbCdEfGhIj"
            assert capture.meta.id == "20261125T221500Z-all"


def test_fuzzed_manifests_are_read_or_refused(tmp_path: Path) -> None:
    rng = random.Random(10)
    folder = tmp_path / "20261125T221500Z-all"
    folder.mkdir()
    base = Manifest(id=folder.name, target="all", started_at="2026-11-25T22:15:00Z", hosts={"val01": HostResult(address="10.0.0.1")})
    base_json = base.to_json()
    for _ in range(2000):
        data = json.loads(json.dumps(base_json))
        if rng.random() < 0.5:
            data[rng.choice(sorted(data))] = _random_value(rng)
        else:
            row = data["hosts"]["val01"]
            row[rng.choice(sorted(row))] = _random_value(rng)
        if rng.random() < 0.1:
            data["hosts"] = {str(_random_value(rng)) if rng.random() < 0.5 else "../../x": {}}
        try:
            (folder / "manifest.json").write_text(json.dumps(data, allow_nan=True, default=str))
        except (TypeError, ValueError):
            continue
        try:
            manifest = read_manifest(folder)
        except ValueError:
            continue
        for name in manifest.hosts:
            inside(folder, host_dir(folder, name))


@pytest.mark.parametrize("skipped", [
    "snapld:0",
    [{"tile": "snapld:0"}],
    [{"tile": "snapld:0", "reason": "shut down", "extra": 1}],
    [{"tile": "", "reason": "shut down"}],
    [{"tile": "x" * 65, "reason": "shut down"}],
    [{"tile": "snapld:0", "reason": 2}],
])
def test_a_manifests_skipped_tiles_that_do_not_fit_are_refused(skipped: object) -> None:
    good = {"id": "20261207T120000Z-all", "target": "all", "started_at": "2026-12-07T12:00:00Z",
            "hosts": {"a": {"status": "ok", "skipped_tiles": [{"tile": "snapld:0", "reason": "shut down"}]}}}
    assert Manifest.from_json(good).hosts["a"].skipped_tiles == [{"tile": "snapld:0", "reason": "shut down"}]
    bad = {**good, "hosts": {"a": {"status": "ok", "skipped_tiles": skipped}}}
    with pytest.raises(ValueError):
        Manifest.from_json(bad)
