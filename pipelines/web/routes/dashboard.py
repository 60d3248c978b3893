"""The dashboard: the case store's trends as charts drawn on the server (no script, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipelines.casestore.trends import read_trends
from pipelines.kpis import recovery_by_month
from pipelines.publish.charts import draw_trends, plain_rows
from pipelines.web.views import templates

router = APIRouter()


@router.get("/dashboard")
def dashboard_page(request: Request) -> Response:
    engine = request.app.state.desk.store.engine
    trends = read_trends(engine)
    recovery = recovery_by_month(engine, trends.nights)
    rows = {name: rows for name, rows in vars(trends).items() if name != "nights"}
    charts = draw_trends(
        {name: plain_rows(r) for name, r in {**rows, "recovery": recovery}.items()}
    )
    context = {
        "account": request.state.account,
        "charts": charts,
        "first": trends.nights[0] if trends.nights else None,
        "last": trends.nights[-1] if trends.nights else None,
        "nights": len(trends.nights),
        "recovery": recovery,
    }
    return templates.TemplateResponse(request, "dashboard.html", context)
