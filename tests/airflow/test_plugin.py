"""The Airflow UI's link to the triage desk (plugin external_views)."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("airflow")

REPO = Path(__file__).resolve().parents[2]


def test_the_link_comes_from_the_configured_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    import pipelines.airflow.plugin as plugin

    monkeypatch.setenv("RECON_DESK_URL", "https://desk.example.internal/")
    views = importlib.reload(plugin).ReconDeskPlugin.external_views
    assert [ExternalViewResponse(**v).href for v in views] == ["https://desk.example.internal/"]
    assert views[0]["destination"] == "nav" and "url_route" not in views[0]  # a link, no iframe
    monkeypatch.delenv("RECON_DESK_URL")
    assert importlib.reload(plugin).ReconDeskPlugin.external_views == []


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    target = project["entry-points"]["airflow.plugins"]["recon_desk"]
    module, _, name = target.partition(":")
    assert getattr(importlib.import_module(module), name).name == "recon_desk"
