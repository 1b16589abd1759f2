"""A sandboxed tile keeps its symbols: real perf, through `fleetflame run` and its session script.

Firedancer's tiles each run in a mount namespace of their own, pivoted into an empty folder, and
not dumpable. perf script with CAP_SYS_ADMIN setns()es into such a namespace to read the binary,
finds nothing, and prints [unknown] for every frame; fleetflame's session runs perf script with
CAP_SYS_ADMIN dropped from its bounding set, as `fdctl flame` does. The stand-in here is a small C
program whose child sandboxes itself that way, names itself `verify:0`, and burns CPU in one
named function; it stays alive while both symbolizations run (perf enters only live namespaces).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import need_root_and_perf

REPO = Path(__file__).resolve().parent.parent
BURN = "fleetflame_sandboxed_burn"
SANDBOXED_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* sandboxed EMPTY_DIR: fork a child that sandboxes itself as a Firedancer tile does (own mount
   namespace, pivot_root into an empty tmpfs, not dumpable), names itself verify:0 and burns CPU
   in BURN. The parent prints the child's pid once it is sandboxed, then waits for it. Both die
   with their parent, and after 300 s at the latest. */

static void die(const char *what) { fprintf(stderr, "sandboxed: %s: %s\n", what, strerror(errno)); _exit(2); }

volatile unsigned long sink;

__attribute__((noinline)) void BURN(void) {
  unsigned long x = 1;
  for (;;) {
    for (int i = 0; i < 1000000; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
    sink = x;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: sandboxed EMPTY_DIR\n"); return 2; }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL)) die("PR_SET_PDEATHSIG");
  alarm(300);
  int ready[2];
  if (pipe(ready)) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(ready[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL)) die("PR_SET_PDEATHSIG");
    if (getppid() == 1) _exit(1);
    alarm(300);
    if (unshare(CLONE_NEWNS)) die("unshare(CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) die("making mounts private");
    if (mount("tmpfs", argv[1], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755")) die("mount tmpfs");
    if (chdir(argv[1])) die("chdir");
    if (syscall(SYS_pivot_root, ".", ".")) die("pivot_root");
    if (umount2(".", MNT_DETACH)) die("umount the old root");
    if (chdir("/")) die("chdir /");
    if (prctl(PR_SET_DUMPABLE, 0)) die("PR_SET_DUMPABLE");
    if (prctl(PR_SET_NAME, "verify:0")) die("PR_SET_NAME");
    if (write(ready[1], "r", 1) != 1) die("write");
    close(ready[1]);
    BURN();
  }
  close(ready[1]);
  char c;
  if (read(ready[0], &c, 1) != 1) { kill(child, SIGKILL); fprintf(stderr, "sandboxed: the child did not sandbox itself\n"); return 1; }
  printf("%d\n", (int)child);
  fflush(stdout);
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  return 0;
}
""".replace("BURN", BURN)


def build(folder: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the sandboxed stand-in")
    source, binary = folder / "sandboxed.c", folder / "sandboxed"
    source.write_text(SANDBOXED_C)
    # A build id of its own: perf must not find this binary in its build-id cache (~/.debug) from
    # an earlier run, which would hide what the namespace does to symbolization.
    build_id = "--build-id=0x" + os.urandom(20).hex()
    subprocess.run(
        ["gcc", "-O1", "-g", "-fno-omit-frame-pointer", f"-Wl,{build_id}", "-o", str(binary), str(source)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return binary


@contextmanager
def sandboxed(binary: Path, empty: Path) -> Iterator[int]:
    """Run the stand-in; yield its sandboxed child's pid; kill both however the test ends."""
    empty.mkdir()
    proc = subprocess.Popen([str(binary), str(empty)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the sandboxed stand-in did not start: {err.decode(errors='replace').strip()}")
        child = int(line)
        yield child
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the parent and its child (same process group)
        except ProcessLookupError:
            pass
        proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def metrics(pid: int) -> Iterator[str]:
    """A metrics endpoint naming the child as tile verify:0 (by pid, so that another process's
    verify:0 thread on this machine, a stand-in validator of another test, cannot be picked)."""
    body = f'tile_pid{{kind="verify",kind_id="0"}} {pid}\ntile_tid{{kind="verify",kind_id="0"}} {pid}\n'.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "verify:0"
    except OSError:
        return False


def read_folded(path: Path) -> dict[str, int]:
    stacks: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stacks[stack] = stacks.get(stack, 0) + int(count)
    return stacks


def nameless(stack: str) -> bool:
    """A stack with a frame perf could not name: `[unknown]`, or only the module, as `[sandboxed]`."""
    return any(frame.startswith("[") and frame.endswith("]") for frame in stack.split(";"))


@pytest.mark.root
@pytest.mark.parametrize("event", [None, "task-clock"])
def test_a_sandboxed_tile_keeps_its_symbols(tmp_path: Path, event: str | None) -> None:
    need_root_and_perf()
    if not (shutil.which("setpriv") or shutil.which("capsh")):
        pytest.skip("needs setpriv (util-linux) or capsh (libcap2-bin): without them the session fails with NO_CAPDROP")
    binary = build(tmp_path)
    out = tmp_path / "out"
    with sandboxed(binary, tmp_path / "empty") as child, metrics(child) as url:
        assert os.listdir(f"/proc/{child}/root") == [], "the tile's root is an empty folder"
        inventory = tmp_path / "local.yml"
        inventory.write_text(
            "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
            f"      fleetflame_metrics_url: {json.dumps(url)}\n      fleetflame_tmpdir: {json.dumps(str(tmp_path))}\n"
        )
        argv = [sys.executable, "-m", "fleetflame", "run", "verify:0", "-i", str(inventory), "--duration", "2", "-F", "499", "--out", str(out), "--json"]
        if event:
            argv += ["--event", event]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=REPO, env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0, done.stdout + done.stderr
        assert alive(child), "the sandboxed tile must live while perf script runs, or perf never enters its namespace"
        (folder,) = [p for p in out.iterdir() if p.is_dir()]
        perf_data = folder / "hosts" / "localhost" / "perf.data"
        # The same perf.data, symbolized by plain root perf script (CAP_SYS_ADMIN kept): all lost.
        started = time.monotonic()
        plain = subprocess.run(["perf", "script", "-i", str(perf_data)], capture_output=True, text=True, timeout=180)
        assert alive(child), f"the sandboxed tile died while plain perf script ran ({time.monotonic() - started:.1f} s)"

    manifest = json.loads((folder / "manifest.json").read_text())
    host = manifest["hosts"]["localhost"]
    assert host["status"] == "ok", host["error"]
    assert [(t["name"], t["pid"]) for t in host["tiles"]] == [("verify:0", child)]
    assert manifest["event"] == event
    if event:
        evlist = subprocess.run(["perf", "evlist", "-i", str(perf_data)], capture_output=True, text=True, timeout=60)
        assert event in evlist.stdout, evlist.stdout

    stacks = read_folded(folder / "hosts" / "localhost" / "stacks.folded")
    total = sum(stacks.values())
    assert total >= 100 and total == host["samples"]
    burning = sum(n for stack, n in stacks.items() if BURN in stack.split(";"))
    missing = sum(n for stack, n in stacks.items() if nameless(stack))
    assert burning >= 0.9 * total, f"{BURN} is in {burning} of {total} samples: {sorted(stacks.items(), key=lambda kv: -kv[1])[:5]}"
    assert missing <= 0.01 * total, f"{missing} of {total} samples have a frame without a function name: {[s for s in stacks if nameless(s)][:5]}"

    assert plain.returncode == 0, plain.stderr
    in_binary = [line for line in plain.stdout.splitlines() if f"({binary})" in line]
    assert len(in_binary) >= total, "every sample has a frame in the sandboxed binary"
    assert BURN not in plain.stdout, "plain root perf script found the symbols: this test proves nothing here"
    assert all("[unknown]" in line for line in in_binary), in_binary[:5]
