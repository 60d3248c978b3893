"""The dashboard: the case store's trends as charts drawn on the server (no script, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipelines.casestore.trends import read_trends
from pipelines.publish.charts import draw_trends, plain_rows
from pipelines.web.views import templates

router = APIRouter()


@router.get("/dashboard")
def dashboard_page(request: Request) -> Response:
    trends = read_trends(request.app.state.desk.store.engine)
    charts = draw_trends(
        {name: plain_rows(rows) for name, rows in vars(trends).items() if name != "nights"}
    )
    context = {
        "account": request.state.account,
        "charts": charts,
        "first": trends.nights[0] if trends.nights else None,
        "last": trends.nights[-1] if trends.nights else None,
        "nights": len(trends.nights),
        "recovery": trends.recovery,
    }
    return templates.TemplateResponse(request, "dashboard.html", context)
