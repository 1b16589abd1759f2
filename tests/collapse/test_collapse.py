"""Beyond the goldens: input forms, the fast path against the literal one, the fleet options."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import pytest

from fleetflame.collapse import CollapseResult, PerfOptions, collapse_perf, collapse_perf_file, collapse_perf_files, format_collapsed
from fleetflame.collapse import fast, source
from fleetflame.collapse.fast import Collapser

from .flags import options

INPUTS = Path(__file__).parent / "inputs"
ALL = sorted(INPUTS.glob("*.txt"))
FLAG_SETS = [[], ["--pid"], ["--tid", "--all"], ["--addrs", "--kernel"], ["--jit"]]


def line_by_line(data: bytes, opts: PerfOptions) -> CollapseResult:
    """The script's main loop only, one line at a time: the reference for the fast path."""
    c = Collapser(opts)
    lines = data.split(b"\n")
    if not lines[-1]:
        lines.pop()
    c.feed_lines(lines)
    return c.finish()


def literal(data: bytes, opts: PerfOptions) -> dict[str, int]:
    return line_by_line(data, opts).stacks


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
@pytest.mark.parametrize("flags", FLAG_SETS, ids=["-".join(f) or "default" for f in FLAG_SETS])
def test_fast_path_equals_literal_path(path: Path, flags: list[str]) -> None:
    opts = options(flags)
    fast.clear_memos()  # cold memos, then warm ones
    assert collapse_perf_file(path, opts).stacks == literal(path.read_bytes(), opts)
    assert collapse_perf_file(path, opts).stacks == literal(path.read_bytes(), opts)


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_tiny_chunks_and_memo_limits_change_nothing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = collapse_perf_file(path).stacks
    monkeypatch.setattr(source, "CHUNK", 97)  # records cut anywhere, "\n\n" split across chunks
    monkeypatch.setattr(fast, "MEMO_BYTES", 0)  # memo emptied on every miss
    monkeypatch.setattr(fast, "LINE_MEMO_ENTRIES", 0)
    assert collapse_perf_file(path).stacks == expected


def test_gzip_stdin_text_and_lines_give_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = INPUTS / "threads.txt"
    expected = collapse_perf_file(path).stacks
    gz = tmp_path / "threads.txt.gz"  # two gzip members, as `cat a.gz b.gz` makes
    data = path.read_bytes()
    gz.write_bytes(gzip.compress(data[:100_000]) + gzip.compress(data[100_000:]))
    assert collapse_perf_file(gz).stacks == expected
    assert collapse_perf(io.BytesIO(data)).stacks == expected
    assert collapse_perf(io.StringIO(data.decode())).stacks == expected
    assert collapse_perf(data.decode().splitlines(keepends=True)).stacks == expected
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(gz.read_bytes())))
    assert collapse_perf_file("-").stacks == expected


def test_output_is_sorted_by_bytes_and_round_trips_undecodable_bytes() -> None:
    rec = b"caf\xc3\xa9 1 1.0: cpu-clock:\n\t1 f\xff (/x)\n\nab 2 1.0: cpu-clock:\n\t1 g (/x)\n\n"
    out = format_collapsed(collapse_perf(io.BytesIO(rec)).stacks)
    assert out == b"ab;g 1\ncaf\xc3\xa9;f\xff 1\n"


def test_no_blank_line_after_the_last_stack_leaves_it_out_like_the_script() -> None:
    rec = b"a1 1 1.0: 5 cpu-clock:\n\t1 f (/x)\n\na1 1 2.0: 5 cpu-clock:\n\t1 g (/x)"
    assert collapse_perf(io.BytesIO(rec)).stacks == {"a1;f": 5}
    assert collapse_perf(io.BytesIO(rec + b"\n\n")).stacks == {"a1;f": 5, "a1;g": 5}


def test_default_event_filter_warns_and_reports_what_it_dropped() -> None:
    r = collapse_perf_file(INPUTS / "multi-event.txt")
    assert r.event == "page-faults"
    assert r.dropped_events["cpu-clock"] > 0
    assert r.warnings[0].startswith("Filtering for events of type: page-faults")
    chosen = collapse_perf_file(INPUTS / "multi-event.txt", PerfOptions(event_filter="cpu-clock"))
    assert not chosen.warnings and chosen.dropped_events["page-faults"] > 0


def test_unrecognized_lines_are_warnings_not_output() -> None:
    r = collapse_perf_file(INPUTS / "edge-structure.txt")
    assert [w for w in r.warnings if w.startswith("Unrecognized line: this line")]


def test_weight_samples_counts_one_per_sample() -> None:
    by_period = collapse_perf_file(INPUTS / "threads.txt")
    by_sample = collapse_perf_file(INPUTS / "threads.txt", PerfOptions(weight="samples"))
    assert by_sample.stacks.keys() == by_period.stacks.keys()
    assert sum(by_sample.stacks.values()) == by_sample.samples == by_period.samples
    assert sum(by_period.stacks.values()) == 1001001 * by_period.samples  # perf's cpu-clock period


def _tids(path: Path) -> dict[str, tuple[int, int]]:
    """comm -> (pid, tid) from the `comm pid/tid` headers of a recorded file."""
    found = re.findall(r"^(\S.*?)\s+(\d+)/(\d+)\s", path.read_text(), flags=re.M)
    return {comm: (int(pid), int(tid)) for comm, pid, tid in found}


def test_roots_by_tid_replace_the_process_name() -> None:
    path = INPUTS / "threads.txt"
    ids = _tids(path)
    roots = {ids["net:0"][1]: "lab01;net:0", ids["verify:1"][1]: "lab01;verify:1"}
    r = collapse_perf_file(path, PerfOptions(weight="samples", roots_by_tid=roots))
    assert {s.split(";")[1] for s in r.stacks} == {"net:0", "verify:1"}
    assert all(s.startswith("lab01;") for s in r.stacks)
    plain = collapse_perf_file(path, PerfOptions(weight="samples"))
    for name in ("net:0", "verify:1"):  # the same frames, under the new roots
        want = {s.partition(";")[2]: n for s, n in plain.stacks.items() if s.startswith(name + ";")}
        got = {s.split(";", 2)[2]: n for s, n in r.stacks.items() if s.startswith(f"lab01;{name};")}
        assert got == want
    opts = PerfOptions(weight="samples", roots_by_tid=roots, unknown_tid_root="agave;{comm}")
    kept = collapse_perf_file(path, opts)
    assert kept.samples == plain.samples
    assert any(s.startswith("agave;worker_one;") for s in kept.stacks)


@pytest.mark.parametrize("template", ["other;{comm}", "agave;{comm.__class__}", "{pid}", "agave;{comm}-{tid}", ""])
def test_unknown_tid_root_is_no_template(template: str) -> None:
    """Only "agave;{comm}": nothing a host sends is ever put through str.format."""
    with pytest.raises(ValueError, match="unknown_tid_root"):
        PerfOptions(roots_by_tid={}, unknown_tid_root=template)
    later = PerfOptions(roots_by_tid={})
    later.unknown_tid_root = template  # (the options are a plain dataclass: set after the fact)
    with pytest.raises(ValueError, match="unknown_tid_root"):
        collapse_perf(io.BytesIO(b""), later)


def test_agave_root_takes_the_comm_literally() -> None:
    rec = b"sol{tid} {x} 7 1.0: 1 cpu-clock:\n\t1 f (/x)\n\n"
    r = collapse_perf(io.BytesIO(rec), PerfOptions(weight="samples", roots_by_tid={}, unknown_tid_root="agave;{comm}"))
    assert r.stacks == {"agave;sol{tid}_{x};f": 1}


def test_options_pickle_and_files_collapse_in_parallel(tmp_path: Path) -> None:
    paths = [INPUTS / "deep.txt", INPUTS / "stripped.txt", INPUTS / "jitmap.txt"]
    merged = collapse_perf_files(paths, PerfOptions(annotate_kernel=True), processes=2)
    one_by_one: dict[str, int] = {}
    for p in paths:
        for k, v in collapse_perf_file(p, PerfOptions(annotate_kernel=True)).stacks.items():
            one_by_one[k] = one_by_one.get(k, 0) + v
    assert merged.stacks == one_by_one


def test_srcline_reads_take_blank_lines_as_the_script_does() -> None:
    """With --srcline every frame reads the next line, blank or not (found by the fuzz test)."""
    rec = b"deep 7 1.000001: cpu-clock:ppp:\n\t4005d0 outer->inner (/usr/lib/libc.so.6)\n"
    opts = PerfOptions(srcline=True)
    assert collapse_perf(io.BytesIO(rec + b"\n\n"), opts).stacks == {}  # both blank lines read as srclines
    assert collapse_perf(io.BytesIO(rec + b"\n\n\n"), opts).stacks == {"deep;outer;inner_[i]": 1}


def test_srcline_stream_skips_an_oversized_record(monkeypatch: pytest.MonkeyPatch) -> None:
    import fleetflame.collapse.perf as collapse  # where MAX_RECORD is read

    monkeypatch.setattr(collapse, "MAX_RECORD", 100)
    big = b"deep 7 1.0: cpu-clock:\n" + b"\t1 f (/x)\n  f.c:1\n" * 20 + b"\n"
    small = b"deep 7 1.0: cpu-clock:\n\t1 g (/x)\n  g.c:2\n\n"
    r = collapse_perf(io.BytesIO(small + big + small + b"x" * 500 + b"\n" + small), PerfOptions(srcline=True))
    assert r.stacks == {"deep;g:g.c:2": 3}
    assert r.warnings[-1].startswith("skipped 2 records of more than")
