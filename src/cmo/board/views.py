"""Board pages: the published report (the board member's landing page), past reports, the
CMO's draft (edit the summary, publish), a chair's department scorecard, and the exports.

A published report is served from what was stored when it was published (body, HTML, PDF),
never rebuilt. The draft and the exports are built from the current serving snapshot.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from cmo.board import exports, forms, publish, services
from cmo.board import render as rendering
from cmo.board.apps import EDIT_REPORT, EXPORT, VIEW_DEPARTMENT, VIEW_REPORT
from cmo.board.models import BoardReport, ReportStatus
from cmo.board.reads import NoResults
from cmo.web.access import capability_required, require_post
from cmo.web.params import bad_request
from cmo.web.scope import scope_of


def _empty(request: HttpRequest, exc: NoResults, title: str) -> HttpResponse:
    return render(
        request, "web/no_results.html", {"title": title, "message": str(exc), "hint": exc.hint}
    )


def _published(request: HttpRequest) -> Any:
    """Published reports: de-identified aggregates, so every holder of ``view_report`` reads
    them (a chair too: department scope does not apply); a site-limited user reads the system
    reports and their sites'."""
    return published_for(scope_of(request.user))


def published_for(scope: Any) -> Any:
    qs = BoardReport.objects.filter(status=ReportStatus.PUBLISHED)
    if scope.sites is not None:
        qs = qs.filter(Q(site="") | Q(site__in=scope.sites))
    return qs


def _can_edit(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(EDIT_REPORT))


@capability_required(VIEW_REPORT)
def latest(request: HttpRequest) -> HttpResponse:
    """The latest published system-wide report (the board member's landing page)."""
    report = _published(request).filter(site="").order_by("-period", "-published_at").first()
    if report is None:
        report = _published(request).order_by("-period", "-published_at").first()
    return _show(request, report)


@capability_required(VIEW_REPORT)
def report(request: HttpRequest, pk: int) -> HttpResponse:
    return _show(request, get_object_or_404(_published(request), pk=pk))


def _show(request: HttpRequest, report: BoardReport | None) -> HttpResponse:
    past = list(
        _published(request)
        .order_by("-period", "site")
        .only("pk", "period", "site", "published_at", "sha256", "status")
    )
    return render(
        request,
        "board/report.html",
        {
            "report": report,
            "past": past,
            "can_edit": _can_edit(request),
            "verified": report.verify() if report else None,
        },
    )


@capability_required(VIEW_REPORT)
def reports(request: HttpRequest) -> HttpResponse:
    """Every published report, newest quarter first."""
    past = list(_published(request).order_by("-period", "site"))
    return render(request, "board/reports.html", {"past": past, "can_edit": _can_edit(request)})


@capability_required(VIEW_REPORT)
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    rep = get_object_or_404(_published(request), pk=pk)
    if not rep.pdf:
        raise Http404("this report was published without a PDF")
    response = HttpResponse(bytes(rep.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="board-{rep.period}.pdf"'
    return response


@capability_required(VIEW_REPORT)
def report_html(request: HttpRequest, pk: int) -> HttpResponse:
    rep = get_object_or_404(_published(request), pk=pk)
    response = HttpResponse(rep.html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="board-{rep.period}.html"'
    return response


def _params(request: HttpRequest) -> tuple[services.Quarter, str] | HttpResponse:
    form = forms.ReportParams(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    try:
        quarter = services.checked_quarter(form.cleaned_data.get("period") or None)
    except services.BadPeriod as exc:
        return bad_request(str(exc))
    site = form.cleaned_data.get("site") or ""
    return quarter, site


@capability_required(EDIT_REPORT)
def draft(request: HttpRequest) -> HttpResponse:
    """The CMO's draft of a quarter: the live report, its summary editable, then publish."""
    try:
        if request.method == "POST":
            return _save_summary(request)
        parsed = _params(request)
        if isinstance(parsed, HttpResponse):
            return parsed
        quarter, site = parsed
        if site and site not in _site_codes(quarter):
            return bad_request(f"site: no results for {site} in {quarter.label}")
        data = publish.numbers(quarter, site)
        form = forms.SummaryForm(
            initial={"period": quarter.label, "site": site, "summary": "\n".join(data["summary"])}
        )
        return _draft_page(request, quarter, site, data, form)
    except NoResults as exc:
        return _empty(request, exc, "Board report")


def _draft_page(
    request: HttpRequest,
    quarter: services.Quarter,
    site: str,
    data: dict[str, Any],
    form: forms.SummaryForm,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "board/draft.html",
        {
            "quarter": quarter,
            "site": site,
            "quarters": services.quarters(),
            "sites": _sites(quarter),
            "body": rendering.body(data),
            "form": form,
            "draft": publish.draft_of(quarter, site),
            "published": publish.published_of(quarter, site),
        },
        status=status,
    )


def _sites(quarter: services.Quarter) -> list[tuple[str, str]]:
    from cmo.board import reads as r

    out: dict[str, str] = {}
    for m in r.list_measures()[:1]:
        for row in r.results(
            m["measure_id"], period_type="quarter", level="site", period_start=quarter.start
        ):
            out[str(row["unit_id"])] = str(row.get("unit_name") or row["unit_id"])
    return sorted(out.items(), key=lambda kv: kv[1])


def _site_codes(quarter: services.Quarter) -> set[str]:
    return {code for code, _ in _sites(quarter)}


def _save_summary(request: HttpRequest) -> HttpResponse:
    form = forms.SummaryForm(request.POST)
    if not form.is_valid():
        period = str(request.POST.get("period") or "")
        try:
            quarter = services.checked_quarter(period)
        except services.BadPeriod as exc:
            return bad_request(str(exc))
        site = str(request.POST.get("site") or "")
        site = site if site in _site_codes(quarter) else ""
        data = publish.numbers(quarter, site)
        return _draft_page(request, quarter, site, data, form, status=400)
    try:
        quarter = services.checked_quarter(form.cleaned_data["period"])
    except services.BadPeriod as exc:
        return bad_request(str(exc))
    site = form.cleaned_data.get("site") or ""
    if publish.published_of(quarter, site):
        messages.error(request, f"{quarter.label} is published; its summary can no longer change.")
    else:
        publish.save_summary(quarter, site, form.cleaned_data["summary"], request.user)
        messages.success(request, "Summary saved in the draft.")
    return redirect(_draft_url(quarter, site))


def _draft_url(quarter: services.Quarter, site: str) -> str:
    url = str(reverse("board:draft")) + f"?period={quarter.label}"
    return url + (f"&site={site}" if site else "")


@capability_required(EDIT_REPORT)
@require_post
def publish_view(request: HttpRequest) -> HttpResponse:
    form = forms.PublishForm(request.POST)
    if not form.is_valid():
        return bad_request("bad parameter: period must be YYYY-QN, site a site code")
    try:
        quarter = services.checked_quarter(form.cleaned_data["period"])
        site = form.cleaned_data.get("site") or ""
        if site and site not in _site_codes(quarter):
            return bad_request(f"site: no results for {site} in {quarter.label}")
        rep = publish.publish(quarter, site, request.user)
    except NoResults as exc:
        return _empty(request, exc, "Board report")
    except (services.BadPeriod, publish.AlreadyPublished, rendering.PdfUnavailable) as exc:
        messages.error(request, str(exc))
        return redirect(_draft_url(services.parse_period(form.cleaned_data["period"]), ""))
    messages.success(request, f"Published {rep.period}: frozen with SHA-256 {rep.sha256[:12]}…")
    return redirect("board:report", pk=rep.pk)


@capability_required(VIEW_DEPARTMENT)
def department(request: HttpRequest) -> HttpResponse:
    """A department's scorecard: a chair sees their departments (with practitioners)."""
    form = forms.DepartmentParams(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    scope = scope_of(request.user)
    try:
        quarter = services.checked_quarter(form.cleaned_data.get("period") or None)
        choices = _departments(quarter, scope.departments)
        code = form.cleaned_data.get("department") or (choices[0][0] if choices else "")
        if code and code not in {c for c, _ in choices}:
            if scope.departments is not None:
                return HttpResponse(
                    "not one of your departments", status=403, content_type="text/plain"
                )
            return bad_request(f"department: no results for {code} in {quarter.label}")
        card = (
            services.department_scorecard(
                quarter, code, names=scope.can("quality.view_practitioners")
            )
            if code
            else None
        )
    except services.BadPeriod as exc:
        return bad_request(str(exc))
    except NoResults as exc:
        return _empty(request, exc, "Department scorecard")
    response = render(
        request,
        "board/department.html",
        {
            "card": card,
            "choices": choices,
            "code": code,
            "quarter": quarter,
            "quarters": services.quarters(),
            "status_rule": services.STATUS_RULE,
        },
    )
    response["Cache-Control"] = "no-store, private"  # practitioner-level rows
    return response


def _departments(quarter: services.Quarter, allowed: list[str] | None) -> list[tuple[str, str]]:
    from cmo.board import reads as r

    out: dict[str, str] = {}
    for m in r.list_measures():
        for row in r.results(
            m["measure_id"], period_type="quarter", level="department", period_start=quarter.start
        ):
            code = str(row["unit_id"])
            if allowed is None or code in allowed:
                out[code] = str(row.get("unit_name") or code)
    return sorted(out.items(), key=lambda kv: kv[1])


@capability_required(EXPORT)
def scorecard_csv(request: HttpRequest) -> HttpResponse:
    parsed = _params(request)
    if isinstance(parsed, HttpResponse):
        return parsed
    quarter, site = parsed
    try:
        if site and site not in _site_codes(quarter):
            return bad_request(f"site: no results for {site} in {quarter.label}")
        data = services.build(quarter, site or None)
    except NoResults as exc:
        return _empty(request, exc, "Board scorecard")
    response = HttpResponse(exports.scorecard_csv(data), content_type="text/csv; charset=utf-8")
    name = f"board-scorecard-{quarter.label}{'-' + site if site else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@capability_required(EXPORT)
def measure_report(request: HttpRequest) -> HttpResponse:
    parsed = _params(request)
    if isinstance(parsed, HttpResponse):
        return parsed
    quarter, _site = parsed
    try:
        body = exports.measure_reports(quarter)
    except NoResults as exc:
        return _empty(request, exc, "Board scorecard")
    response = HttpResponse(body, content_type="application/fhir+ndjson")
    response["Content-Disposition"] = f'attachment; filename="MeasureReport-{quarter.label}.ndjson"'
    return response
