"""For auditors: every night's inputs, verdicts, quarantine and published files."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipelines.storage import Storage
from pipelines.web.desk import NotFound
from pipelines.web.nights_data import night_detail, night_file, night_summaries
from pipelines.web.views import templates

router = APIRouter()
# Published reports are static pages with their own inline styles: no script, no network.
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def _warehouse(request: Request) -> Storage:
    warehouse = request.app.state.desk.warehouse
    if warehouse is None:
        raise NotFound("no warehouse is configured: start the desk with --warehouse")
    return warehouse


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise NotFound(f"not a business date: {text!r}") from exc


@router.get("/nights")
def nights_page(request: Request) -> Response:
    nights = night_summaries(_warehouse(request))
    context = {"account": request.state.account, "nights": nights}
    return templates.TemplateResponse(request, "nights.html", context)


@router.get("/nights/{day}")
def night_page(request: Request, day: str) -> Response:
    business_date = _day(day)
    detail = night_detail(_warehouse(request), business_date)
    if detail is None:
        raise NotFound(f"nothing was published for {business_date}")
    context = {"account": request.state.account, "day": business_date, **detail}
    return templates.TemplateResponse(request, "night.html", context)


@router.get("/nights/{day}/files/{name}")
def night_file_download(request: Request, day: str, name: str) -> Response:
    business_date = _day(day)
    found = night_file(_warehouse(request), business_date, name)
    if found is None:
        raise NotFound(f"no file {name!r} was published for {business_date}")
    data, content_type = found
    headers = {"Content-Security-Policy": FILE_CSP}
    if not content_type.startswith("text/html"):
        headers["Content-Disposition"] = f'attachment; filename="{business_date}-{name}"'
    return Response(data, media_type=content_type, headers=headers)
