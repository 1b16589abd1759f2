"""Every speedscope file fleetflame writes validates against speedscope's published schema
(tests/render/speedscope/, from the speedscope npm package), and fleet files hold one profile per
host after the merged fleet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from fleetflame import folded
from fleetflame.capture import HostResult, Manifest
from fleetflame.cli import app
from fleetflame.render import speedscope
from fleetflame.render.options import FlameGraphOptions
from fleetflame.report import build_reports

from .fleetdata import FLEET, host_totals
from .golden import GOLDEN

SCHEMA = json.loads((Path(__file__).parent / "speedscope" / "file-format-schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def validate(text: str) -> dict[str, Any]:
    document = json.loads(text)
    VALIDATOR.validate(document)
    assert document["$schema"] == speedscope.SCHEMA  # speedscope's importer checks this value
    return document


def profile_stacks(document: dict[str, Any], index: int) -> dict[str, int]:
    names = [f["name"] for f in document["shared"]["frames"]]
    profile = document["profiles"][index]
    out: dict[str, int] = {}
    for sample, weight in zip(profile["samples"], profile["weights"], strict=True):
        key = ";".join(names[i] for i in sample)
        out[key] = out.get(key, 0) + weight
    return out


def test_the_schema_is_live() -> None:
    """The validator rejects what speedscope would: a sampled profile without weights."""
    broken = json.loads(speedscope.render({"a;b": 1}))
    del broken["profiles"][0]["weights"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)
    broken = json.loads(speedscope.render({"a;b": 1}))
    broken["profiles"][0]["unit"] = "samples"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)


@pytest.mark.parametrize("source", ["basic.folded", "nasty.folded", "kinds.folded", "elide.folded"])
def test_plain_folded_input_validates(source: str) -> None:
    stacks = folded.read_folded(GOLDEN / source)
    document = validate(speedscope.render(stacks, FlameGraphOptions(title='t <"> \x01')))
    assert len(document["profiles"]) == 1
    assert profile_stacks(document, 0) == stacks


def test_the_golden_file_validates() -> None:
    validate((GOLDEN / "basic.speedscope.json").read_text(encoding="utf-8"))


def test_fleet_file_has_the_fleet_then_one_profile_per_host() -> None:
    document = validate(speedscope.render(FLEET, FlameGraphOptions(title="fleetflame: fleet", fleet_stacks=True)))
    names = [p["name"] for p in document["profiles"]]
    hosts = sorted(host_totals(FLEET))
    assert names == ["fleetflame: fleet (all hosts)", *hosts]
    assert document["activeProfileIndex"] == 0
    merged: dict[str, int] = {}
    for stack, count in FLEET.items():
        rest = stack.split(";", 1)[1]
        merged[rest] = merged.get(rest, 0) + count
    assert profile_stacks(document, 0) == merged
    for i, host in enumerate(hosts, 1):
        expected = {k.split(";", 1)[1]: v for k, v in FLEET.items() if k.split(";", 1)[0] == host}
        assert profile_stacks(document, i) == expected
        assert document["profiles"][i]["endValue"] == host_totals(FLEET)[host]
    frame_names = [f["name"] for f in document["shared"]["frames"]]
    assert len(frame_names) == len(set(frame_names))  # one shared table across profiles


def test_capture_folder_export_validates(tmp_path: Path) -> None:
    folder = tmp_path / "20261125T221500Z-all"
    results = {}
    for host in host_totals(FLEET):
        stacks = {k.split(";", 1)[1]: v for k, v in FLEET.items() if k.startswith(host + ";")}
        (folder / "hosts" / host).mkdir(parents=True)
        folded.write_folded(stacks, folder / "hosts" / host / "stacks.folded")
        results[host] = HostResult(status="ok", samples=folded.total(stacks))
    manifest = Manifest(id=folder.name, target="all", started_at="2026-11-25T22:15:00Z", hosts=results)
    build_reports(folder, manifest, formats=("speedscope",))
    document = validate((folder / "flamegraph.speedscope.json").read_text(encoding="utf-8"))
    assert [p["endValue"] for p in document["profiles"][1:]] == [host_totals(FLEET)[h] for h in sorted(results)]


def test_cli_output_validates(tmp_path: Path) -> None:
    source = tmp_path / "in.folded"
    source.write_text(folded.format_folded(FLEET), encoding="utf-8")
    out = tmp_path / "out.speedscope.json"
    result = CliRunner().invoke(app, ["flamegraph", str(source), "--format", "speedscope", "-o", str(out), "--reverse"])
    assert result.exit_code == 0, result.stderr
    document = validate(out.read_text(encoding="utf-8"))
    assert profile_stacks(document, 0) == folded.reverse_stacks(FLEET)
