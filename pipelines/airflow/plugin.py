"""recon's Airflow plugin: a link to the triage desk in the UI (Airflow 3 `external_views`)
and the listener that writes each run's business date as its note (`run_note`).

The URL comes from RECON_DESK_URL; without it the plugin adds no link. The link opens the
desk itself rather than an iframe in Airflow: the desk refuses to be framed.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from pipelines.airflow import run_note
from pipelines.settings import desk_url


def desk_views(url: str | None) -> list[dict[str, Any]]:
    if not url:
        return []
    return [{"name": "Triage desk", "href": url, "destination": "nav", "category": "browse"}]


class ReconPlugin(AirflowPlugin):
    name = "recon"
    external_views = desk_views(desk_url())
    listeners: list[object] = [run_note]  # noqa: RUF012 (the base class declares it so)
