"""--inline/--context: inlined frames from addr2line, on a binary built here with gcc."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetflame.collapse import PerfOptions, collapse_perf

PROGRAM = Path(__file__).parent / "programs" / "deep.c"
CFLAGS = "-O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls".split()

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("gcc", "addr2line", "nm")), reason="needs gcc and binutils"
)


def symbol(binary: Path, name: str) -> tuple[int, int]:
    """(address, address of the next symbol) of a function."""
    rows = [line.split() for line in subprocess.run(["nm", "-n", str(binary)], capture_output=True, text=True).stdout.splitlines()]
    addrs = [(int(r[0], 16), r[2]) for r in rows if len(r) == 3]
    i = next(i for i, (_, n) in enumerate(addrs) if n == name)
    return addrs[i][0], addrs[i + 1][0]


def inlined_address(binary: Path) -> int:
    """An address in leaf_hash where addr2line says the code is the inlined mix()."""
    start, end = symbol(binary, "leaf_hash")
    args = ["addr2line", "-a", "-i", "-f", "-e", str(binary), *(hex(a) for a in range(start, end))]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    for block in re.split(r"^(?=0x)", out, flags=re.M):
        lines = block.splitlines()
        if len(lines) >= 5 and lines[1] == "mix" and lines[3] == "leaf_hash":
            return int(lines[0], 16)
    pytest.skip("gcc did not inline mix() here")


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    binary = tmp_path_factory.mktemp("inline") / "deep"
    subprocess.run(["gcc", *CFLAGS, "-o", str(binary), str(PROGRAM)], check=True)
    pc = inlined_address(binary)
    leaf, _ = symbol(binary, "leaf_hash")
    main, _ = symbol(binary, "main")
    return (
        b"deep 7 1.000001: 1000 cpu-clock:\n"
        b"\t%x leaf_hash+0x%x (%s)\n"
        b"\t%x main+0x4 (%s)\n"
        b"\t%x gone+0x4 (/no/such/module.so)\n"
        b"\tffffffff81000001 clear_page_erms+0x7 ([kernel.kallsyms])\n\n"
    ) % (pc, pc - leaf, bytes(binary), main + 4, bytes(binary), 0x1234)


def test_inline_adds_the_inlined_functions(record: bytes) -> None:
    plain = collapse_perf(io.BytesIO(record)).stacks
    assert plain == {"deep;clear_page_erms;gone;main;leaf_hash": 1000}
    inlined = collapse_perf(io.BytesIO(record), PerfOptions(inline=True)).stacks
    # addr2line answers for the binary; the missing module and the kernel fold as usual
    assert inlined == {"deep;clear_page_erms;gone;main;leaf_hash;mix": 1000}


def test_context_adds_file_and_line(record: bytes) -> None:
    (stack,) = collapse_perf(io.BytesIO(record), PerfOptions(inline=True, context=True)).stacks
    assert re.fullmatch(r"deep;clear_page_erms;gone;main:deep\.c:\d+;leaf_hash:deep\.c:\d+;mix:deep\.c:\d+", stack)
