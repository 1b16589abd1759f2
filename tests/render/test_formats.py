from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fleetflame.errors import InputError
from fleetflame.folded import format_folded, read_folded
from fleetflame.render import RENDERERS, foldedtext, output_name, pprof, render, speedscope, write_output
from fleetflame.render.options import FlameGraphOptions

from .golden import check_golden


def test_registry_renders_every_format(basic: dict[str, int], tmp_path: Path) -> None:
    assert set(RENDERERS) == {"svg", "html", "folded", "speedscope", "pprof"}
    for name, renderer in RENDERERS.items():
        assert renderer.extension.startswith(".")
        out = renderer.render(basic, FlameGraphOptions())
        assert isinstance(out, bytes if name == "pprof" else str)
        assert out == renderer.render(dict(reversed(basic.items())), FlameGraphOptions()), name
        path = write_output(name, basic, tmp_path / output_name(name))
        assert path.name == "flamegraph" + renderer.extension and path.stat().st_size > 0
    assert output_name("speedscope", "lab01") == "lab01.speedscope.json"
    with pytest.raises(InputError, match="unknown output format 'png'"):
        render("png", basic)


def test_folded_is_the_identity(basic: dict[str, int], nasty: dict[str, int]) -> None:
    for stacks in (basic, nasty):
        text = foldedtext.render(stacks)
        assert text == format_folded(stacks)
        assert read_folded(text.splitlines()) == stacks
    assert sorted(foldedtext.render(basic).splitlines()) == foldedtext.render(basic).splitlines()


# --- speedscope --------------------------------------------------------------------------


def speedscope_stacks(document: dict) -> dict[str, int]:
    names = [f["name"] for f in document["shared"]["frames"]]
    (profile,) = document["profiles"]
    out: dict[str, int] = {}
    for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
        key = ";".join(names[i] for i in sample)
        out[key] = out.get(key, 0) + weight
    return out


def test_speedscope_golden(basic: dict[str, int]) -> None:
    check_golden("basic.speedscope.json", speedscope.render(basic, FlameGraphOptions(title="basic")))


def test_speedscope_round_trip(basic: dict[str, int], nasty: dict[str, int]) -> None:
    for stacks in (basic, nasty):
        document = json.loads(speedscope.render(stacks, FlameGraphOptions(title="t")))
        assert document["$schema"] == "https://www.speedscope.app/file-format-schema.json"
        (profile,) = document["profiles"]
        assert profile["type"] == "sampled" and profile["unit"] == "none"
        assert profile["startValue"] == 0 and profile["endValue"] == sum(stacks.values())
        assert len(profile["samples"]) == len(profile["weights"]) == len(stacks)
        assert speedscope_stacks(document) == stacks
        names = [f["name"] for f in document["shared"]["frames"]]
        assert len(names) == len(set(names))


# --- pprof -------------------------------------------------------------------------------


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's (field number, value) pairs; length-delimited values as bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = read_varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def packed_varints(data: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        values.append(value)
    return values


def decode_pprof(blob: bytes) -> tuple[dict[str, int], list[str], list[tuple[str, str]]]:
    """(folded stacks, string table, sample types) from a gzipped profile.proto."""
    message = fields(gzip.decompress(blob))
    strings = [v.decode() for n, v in message if n == 6]  # type: ignore[union-attr]
    functions = {}
    for n, v in message:
        if n == 5:
            f = dict(fields(v))  # type: ignore[arg-type]
            functions[f[1]] = strings[f[2]]  # type: ignore[index]
    locations = {}
    for n, v in message:
        if n == 4:
            loc = dict(fields(v))  # type: ignore[arg-type]
            line = dict(fields(loc[4]))  # type: ignore[arg-type]
            locations[loc[1]] = functions[line[1]]
    sample_types = []
    for n, v in message:
        if n == 1:
            t = dict(fields(v))  # type: ignore[arg-type]
            sample_types.append((strings[t[1]], strings[t[2]]))  # type: ignore[index]
    stacks: dict[str, int] = {}
    for n, v in message:
        if n == 2:
            sample = dict(fields(v))  # type: ignore[arg-type]
            ids = packed_varints(sample[1])  # type: ignore[arg-type]
            (value,) = packed_varints(sample[2])  # type: ignore[arg-type]
            key = ";".join(locations[i] for i in reversed(ids))  # leaf first in pprof
            stacks[key] = stacks.get(key, 0) + value
    return stacks, strings, sample_types


def test_pprof_round_trip(basic: dict[str, int], nasty: dict[str, int]) -> None:
    for stacks in (basic, nasty):
        blob = pprof.render(stacks, FlameGraphOptions())
        assert blob[:2] == b"\x1f\x8b"
        decoded, strings, sample_types = decode_pprof(blob)
        assert strings[0] == ""
        assert sample_types == [("samples", "count")]
        assert decoded == stacks
        assert sum(decoded.values()) == sum(stacks.values())


def test_pprof_is_deterministic(basic: dict[str, int]) -> None:
    assert pprof.render(basic) == pprof.render(dict(reversed(basic.items())))


def test_pprof_varints() -> None:
    for value in (0, 1, 127, 128, 300, 2**32, 2**63 - 1):
        assert read_varint(pprof.varint(value), 0) == (value, len(pprof.varint(value)))
    assert pprof.varint(300) == b"\xac\x02"
    assert len(pprof.varint(-1)) == 10  # int64 two's complement
