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
    views = importlib.reload(plugin).ReconPlugin.external_views
    assert [ExternalViewResponse(**v).href for v in views] == ["https://desk.example.internal/"]
    assert views[0]["destination"] == "nav" and "url_route" not in views[0]  # a link, no iframe
    monkeypatch.delenv("RECON_DESK_URL")
    assert importlib.reload(plugin).ReconPlugin.external_views == []


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    target = project["entry-points"]["airflow.plugins"]["recon"]
    module, _, name = target.partition(":")
    assert getattr(importlib.import_module(module), name).name == "recon"


def test_the_run_note_names_the_night_and_keeps_a_persons_note() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from pipelines.airflow import run_note

    start = datetime(2024, 3, 2, 2, tzinfo=UTC)
    run = SimpleNamespace(dag_id="recon_nightly", note=None, conf={}, data_interval_start=start)
    run_note._set(run, "running")
    assert run.note == "business date 2024-03-02: running"
    run.conf = {"business_date": "2024-02-28"}  # the param wins over the interval
    run_note._set(run, "success")
    assert run.note == "business date 2024-02-28: published"
    run.note = "rerun after the billing fix (lena)"
    run_note._set(run, "failed")
    assert run.note == "rerun after the billing fix (lena)"
    manual = SimpleNamespace(dag_id="recon_nightly", note=None, conf={}, data_interval_start=None)
    run_note._set(manual, "failed")
    assert manual.note == "business date not set (give the param business_date): failed"


def test_the_plugin_registers_the_run_note_listener() -> None:
    import pipelines.airflow.plugin as plugin
    from pipelines.airflow import run_note

    assert plugin.ReconPlugin.listeners == [run_note]
