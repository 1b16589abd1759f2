"""--inline and --context: stackcollapse-perf.pl asks addr2line for the inlined functions at an
address. Results are cached per (address, module) as the script caches them."""

from __future__ import annotations

import re
import subprocess

NOT_FOR_ADDR2LINE = re.compile(rb"(perf-\d+.map|kernel\.|\[[^\]]+\])")  # JIT maps, kernel, [vdso]...
ADDR2LINE_FAILED = re.compile(rb"\?\?\n\?\?:0")
FUNC_OFFSET = re.compile(rb"^(.+)\+0x([0-9a-f]+)$")
DISCRIMINATOR = re.compile(rb" \(discriminator \S+\)")
FAILED_RESULTS = (b"", b"??", b"??:??:0")  # the script then folds the line as usual


class Addr2Line:
    def __init__(self, context: bool):
        self.context = context
        self.cache: dict[tuple[bytes, bytes], bytes] = {}
        self.symbols: dict[bytes, bytes] = {}  # module -> `nm` output

    def frames(self, pc: bytes, rawfunc: bytes, mod: bytes) -> bytes | None:
        """The line's frames as b"outer;...;inner", or None to fold it as usual."""
        if NOT_FOR_ADDR2LINE.search(mod) is not None:
            return None
        result = self.resolve(pc, rawfunc, mod)
        return None if result in FAILED_RESULTS else result

    def resolve(self, pc: bytes, rawfunc: bytes, mod: bytes) -> bytes:
        key = (pc, mod)
        if key in self.cache:
            return self.cache[key]
        out = run([b"addr2line", b"-a", pc, b"-e", mod, b"-i", b"-f", b"-s", b"-C"])
        out = out.partition(b"\n")[2]  # the address itself
        if ADDR2LINE_FAILED.search(out):
            # perl: if the symbol is func+offset, find func in `nm` and try that address
            m = FUNC_OFFSET.match(rawfunc)
            if m is not None:
                if mod not in self.symbols:
                    self.symbols[mod] = run([b"nm", mod])
                base = re.search(rb"^([0-9a-f]+) . " + re.escape(m[1]) + rb"$", self.symbols[mod], re.M)
                if base is not None:
                    result = self.resolve(b"0x%x" % (int(base[1], 16) + int(m[2], 16)), b"", mod)
                    self.cache[key] = result
                    return result
        lines = out.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        frames: list[bytes] = []
        func = b""
        for line in lines:  # function, then file:line, innermost first
            line = DISCRIMINATOR.sub(b"", line, count=1)
            if not func:
                func = line
            else:
                frames.insert(0, func + b":" + line if self.context else func)
                func = b""
        result = b";".join(frames)
        self.cache[key] = result
        return result


def run(cmd: list[bytes]) -> bytes:
    """stdout of a tool, b"" if it is missing or fails (the script shows its stderr and goes on)."""
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False).stdout
    except OSError:
        return b""
