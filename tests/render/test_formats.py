from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fleetflame.errors import InputError
from fleetflame import folded
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


def pprof_message(blob: bytes) -> dict[int, list[int | bytes]]:
    """Top-level fields of a gzipped profile.proto by number."""
    out: dict[int, list[int | bytes]] = {}
    for number, value in fields(gzip.decompress(blob)):
        out.setdefault(number, []).append(value)
    return out


def test_pprof_fleet_labels_sample_types_period_and_times() -> None:
    from .fleetdata import FLEET

    options = FlameGraphOptions(
        title="fleetflame: fleet", subtitle="sub", fleet_stacks=True, frequency_hz=99, duration_s=30.5,
        start_time_ns=pprof.time_nanos("2026-11-25T22:15:00.000001Z"),
    )  # fmt: skip
    message = pprof_message(pprof.render(FLEET, options))
    strings = [v.decode() for v in message[6]]  # type: ignore[union-attr]
    types = [dict(fields(v)) for v in message[1]]  # type: ignore[arg-type]
    assert [(strings[t[1]], strings[t[2]]) for t in types] == [("samples", "count"), ("cpu", "nanoseconds")]  # type: ignore[index]
    assert strings[message[14][0]] == "samples"  # type: ignore[index]  # default_sample_type
    period_type = dict(fields(message[11][0]))  # type: ignore[arg-type]
    assert (strings[period_type[1]], strings[period_type[2]]) == ("cpu-clock", "nanoseconds")  # type: ignore[index]
    assert message[12] == [round(1e9 / 99)]
    assert message[10] == [30_500_000_000]
    assert message[9] == [1795644900000001000]
    assert [strings[i] for i in message[13]] == ["fleetflame: fleet", "sub"]  # type: ignore[index]
    by_host: dict[str, int] = {}
    for sample in message[2]:
        parts = fields(sample)  # type: ignore[arg-type]
        labels = {strings[lab[1]]: strings[lab[2]] for n, v in parts if n == 3 for lab in [dict(fields(v))]}  # type: ignore[arg-type,index]
        count, cpu = packed_varints(dict(parts)[2])  # type: ignore[arg-type]
        assert cpu == count * round(1e9 / 99)
        assert set(labels) in ({"host", "tile", "kind"}, {"host", "tile", "kind", "thread"})
        assert labels["kind"] == labels["tile"].split(":")[0]
        by_host[labels["host"]] = by_host.get(labels["host"], 0) + count
    assert by_host == {"val01": 133, "val02": 58, "val-03.example": 22}


def test_pprof_split_fleet_stack() -> None:
    assert pprof.split_fleet_stack("h;verify:3;a;b") == (("h", "verify:3", "verify"), "a;b")
    assert pprof.split_fleet_stack("h;agave;solBank 1;a;b") == (("h", "agave", "agave", "solBank 1"), "a;b")
    assert pprof.split_fleet_stack("h;agave;solBank") == (("h", "agave", "agave", "solBank"), "solBank")
    assert pprof.split_fleet_stack("h;net:0") == (("h", "net:0", "net"), "net:0")
    assert pprof.split_fleet_stack("lonely") == ((), "lonely")


def test_pprof_time_nanos() -> None:
    assert pprof.time_nanos("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert pprof.time_nanos("2026-11-25T22:15:00+01:00") == pprof.time_nanos("2026-11-25T21:15:00Z")
    for bad in (None, "", "yesterday", "2026-11-25T22:15:00"):  # no zone: not a known instant
        assert pprof.time_nanos(bad) is None


def test_pprof_huge_counts_saturate_int64() -> None:
    blob = pprof.render({"a;b": 2**53 - 1}, FlameGraphOptions(frequency_hz=1))
    (sample,) = pprof_message(blob)[2]
    assert packed_varints(dict(fields(sample))[2]) == [2**53 - 1, 2**63 - 1]  # type: ignore[arg-type]


# --- reading folded input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ("a;b 3", ("a;b", 3)),
        ("a b;c d 7", ("a b;c d", 7)),
        ("a;b 2.5", ("a;b", 2)),  # rounded half to even, as Python does
        ("a;b 3.", ("a;b", 3)),
        ("a;b 007", ("a;b", 7)),
        ("a;b 3\r\n", ("a;b", 3)),
        ("a;b 0", ("a;b", 0)),
        (f"a;b {2**53 - 1}", ("a;b", 2**53 - 1)),
        (f"a;b 000000000000000000000{2**53 - 1}", ("a;b", 2**53 - 1)),
    ],
)
def test_folded_lines_that_parse(line: str, expected: tuple[str, int]) -> None:
    assert folded.parse_line(line) == expected


@pytest.mark.parametrize(
    "line",
    ["", "a;b", " 5", "a;b -3", "a;b +3", "a;b 1e3", "a;b .5", "a;b 3\r\r", "a;b ٣", "a;b ²", "a;b 3_0", "a;b inf", "a;b nan",
     f"a;b {2**53}", "a;b " + "9" * 5000, "a;b " + "9" * 400 + ".5", "a;b\t3"],
)  # fmt: skip
def test_folded_lines_that_do_not(line: str) -> None:
    assert folded.parse_line(line) is None


def test_load_folded_counts_ignored_lines_and_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "in.folded"
    path.write_bytes(b"a;b 1\n\n   \nbad\na;b 2\r\nworse 1x\n\xff\xfe;c 4")
    read = folded.load_folded(path)
    assert read.stacks == {"a;b": 3, "\ufffd\ufffd;c": 4}
    assert read.ignored == 2 and read.first_ignored == f"{path}:4: 'bad'"
    assert read.ignored_message().startswith("Ignored 2 lines with invalid format")
    again = folded.load_folded(path, read)  # adds up across sources
    assert again is read and read.stacks["a;b"] == 6 and read.ignored == 4


def test_load_folded_reads_gzip_and_refuses_a_truncated_one(tmp_path: Path) -> None:
    path = tmp_path / "in.folded.gz"
    path.write_bytes(gzip.compress(b"a;b 1\n" * 50_000))
    assert folded.load_folded(path).stacks == {"a;b": 50_000}
    path.write_bytes(gzip.compress(b"a;b 1\n" * 50_000)[:-100])
    with pytest.raises(folded.FoldedReadError, match="damaged gzip data"):
        folded.load_folded(path)


def test_overlong_lines_are_skipped_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folded, "MAX_LINE_BYTES", 64)
    monkeypatch.setattr(folded, "BLOCK_BYTES", 16)  # lines cross many blocks
    path = tmp_path / "in.folded"
    long = "x;" * 100 + "y 5"
    path.write_text(f"a 1\n{long}\nb 2\n{long}\nc 3\n{long}", encoding="utf-8")
    read = folded.load_folded(path)
    assert read.stacks == {"a": 1, "b": 2, "c": 3}
    assert read.ignored == 3 and read.first_ignored == f"{path}:2: a line longer than 0 MiB"


def test_reverse_stacks() -> None:
    assert folded.reverse_stacks({"a;b;c": 1, "c;b;a": 2, "x": 3}) == {"c;b;a": 1, "a;b;c": 2, "x": 3}
    assert folded.reverse_stacks({"a;b": 1, "b;a": 2, "b;a ": 4}) == {"b;a": 1, "a;b": 2, "a ;b": 4}
