"""A full --out (issue 15): the run says which capture and hosts could not be written and that
`fetch` finishes them; the hosts keep their results, nothing half-written is left, and once
there is space `fetch` does finish them. The --out is a tiny tmpfs (root)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fleetflame.capture.manifest import CaptureWriteError, read_manifest
from fleetflame.api import fetch_capture
from fleetflame.connection.settings import SshSettings
from fleetflame.inventory.model import HostRecord

from .fakehost import fake_connector
from .test_pipeline import fleet_sums, healthy, run

pytestmark = pytest.mark.root


@pytest.fixture
def small_out(tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tiny tmpfs as --out")
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k,mode=0700", "tmpfs", str(out)], check=True)
    try:
        yield out
    finally:
        subprocess.run(["umount", "-l", str(out)], check=False)


def test_a_full_out_names_the_capture_and_hosts_and_fetch_finishes_them(tmp_path: Path, small_out: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b")}
    for fake in fakes.values():
        fake.perf_data = os.urandom(40_000)  # more than the 48 kB --out holds, for two hosts
    with pytest.raises(CaptureWriteError) as caught:
        run(tmp_path, fakes)
    (folder,) = list(small_out.iterdir())
    message = str(caught.value)
    assert message.startswith(f"cannot write {folder / 'manifest.json'}: No space left on device: free space in {small_out}")
    assert f"`fleetflame fetch {folder.name} --out {small_out}` finishes capture {folder.name}; a, b keep their results" in message
    assert all(fake.folders for fake in fakes.values()), "the hosts keep their folders for fetch"
    assert not list(folder.rglob("*.tmp")), "no half-written file is left"
    manifest = read_manifest(folder)  # the last checkpoint that fitted: whole, readable
    assert set(manifest.hosts) == {"a", "b"} and all(row.fetchable for row in manifest.hosts.values())

    subprocess.run(["mount", "-o", "remount,size=16m", str(small_out)], check=True)  # space again
    hosts = [HostRecord("a", "10.0.0.1"), HostRecord("b", "10.0.0.2")]
    fetched = fetch_capture(folder, read_manifest(folder), hosts, SshSettings(), connector=fake_connector(fakes))
    assert {row.status for row in fetched.manifest.hosts.values()} == {"ok"}
    assert fleet_sums(folder) == {"a": 25, "b": 25}
    assert not any(fake.folders for fake in fakes.values())
