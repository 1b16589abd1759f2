"""The non-Python files shipped inside fleetflame/render/ (viewer JS/CSS/HTML template)."""

from __future__ import annotations

from importlib import resources

from fleetflame.errors import FleetflameError


class MissingAssetError(FleetflameError):
    pass


def read_asset(name: str) -> str:
    try:
        return resources.files("fleetflame.render").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise MissingAssetError(
            f"fleetflame/render/{name} is missing from this installation, so the report "
            "cannot be drawn. From a git checkout run `git checkout -- fleetflame/render/` "
            "and reinstall (`.venv/bin/pip install -e .`); otherwise reinstall the package "
            "(`pip install --force-reinstall fleetflame`)."
        ) from exc
