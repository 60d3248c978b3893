"""A link to the triage desk in the Airflow UI (Airflow 3 plugin `external_views`).

The URL comes from RECON_DESK_URL; without it the plugin adds nothing. The link opens the
desk itself rather than an iframe in Airflow: the desk refuses to be framed.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from pipelines.settings import desk_url


def desk_views(url: str | None) -> list[dict[str, Any]]:
    if not url:
        return []
    return [{"name": "Triage desk", "href": url, "destination": "nav", "category": "browse"}]


class ReconDeskPlugin(AirflowPlugin):
    name = "recon_desk"
    external_views = desk_views(desk_url())
