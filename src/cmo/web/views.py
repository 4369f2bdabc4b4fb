"""Pages of the web app itself: data status, access log, health check (home: cmo.web.home)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import LoginView, PasswordChangeView
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from cmo.measures import api
from cmo.web.access import capability_required
from cmo.web.audit import client_ip, log_access, log_event
from cmo.web.models import AccessLog
from cmo.web.params import AccessLogForm, QuarantinePageForm, UnlockForm, bad_request
from cmo.web.roles import ACCESS_LOG, DATA_STATUS, QUARANTINE_TEXT, UNLOCK, perm
from cmo.web.warehouse import NoResults, door

# The data status page's doors: they answer before any measure build (after an ingest).
data_status_read = door(api.data_status, needs=None)
quarantine_read = door(api.quarantine, needs=None)
site_status_read = door(api.site_status, needs=None)
data_issues_read = door(api.data_issues, needs=None)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


SECTION_ORDER = ("last_build", "build_steps", "ingest_runs", "quarantine", "tables")


def _fmt(value: Any) -> str:
    """A status value for people: thousands separators, seconds to 2 decimals, short lists."""
    import json
    from datetime import date, datetime
    from pathlib import PurePath

    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _fmt(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return _no_path(value)
    if isinstance(value, list):
        names = [PurePath(v).name if isinstance(v, str) and "/" in v else _fmt(v) for v in value]
        more = f" … ({len(names)} in all)" if len(names) > 6 else ""
        return ", ".join(names[:6]) + more
    if isinstance(value, dict):
        numbers = [v for v in value.values() if isinstance(v, int | float)]
        if len(value) > 6 and len(numbers) == len(value):  # e.g. rows per table of a run
            return f"{len(value)} tables, {_fmt(sum(numbers))} rows in all"
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _no_path(value: Any) -> str:
    """A file's name without the server's directories (the page shows no server paths)."""
    from pathlib import PurePosixPath, PureWindowsPath

    if not value:
        return ""
    text = str(value)
    return PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name


def _tables(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Each list of rows in the status becomes a titled table; scalars go in a summary table."""
    sections = []
    scalars = []
    keys = sorted(status, key=lambda k: SECTION_ORDER.index(k) if k in SECTION_ORDER else 0)
    for key in keys:
        value = status[key]
        title = key.replace("_", " ").capitalize()
        if isinstance(value, list) and value and isinstance(value[0], dict):
            cols = list(value[0].keys())
            rows = [[_fmt(r.get(c)) for c in cols] for r in value]
            sections.append({"title": title, "columns": cols, "rows": rows})
        elif isinstance(value, dict):
            rows = [[k, _fmt(v)] for k, v in value.items()]
            sections.append({"title": title, "columns": ["name", "value"], "rows": rows})
        elif isinstance(value, list):
            sections.append(
                {"title": title, "columns": ["value"], "rows": [[_fmt(v)] for v in value]}
            )
        else:
            scalars.append([title, _fmt(value)])
    if scalars:
        sections.insert(0, {"title": "Summary", "columns": ["name", "value"], "rows": scalars})
    return sections


@capability_required(DATA_STATUS)
def data_status(request: HttpRequest) -> HttpResponse:
    """Ingest runs, row counts, quarantined lines with their reasons, measure build times."""
    with_text = request.user.has_perm(perm(QUARANTINE_TEXT))
    form = QuarantinePageForm(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    page = form.cleaned_data["qpage"] or 1
    try:
        status = data_status_read()
        sites = site_status_read()
        issues = data_issues_read()
        quarantined = quarantine_read(
            limit=QUARANTINE_PAGE,
            offset=(page - 1) * QUARANTINE_PAGE,
            with_text=with_text,
        )
    except NoResults as exc:
        return render(
            request,
            "web/no_results.html",
            {"title": "Data status", "message": str(exc), "hint": exc.hint},
        )
    total = int(quarantined["total"])
    if with_text and quarantined["rows"]:
        # The line text can hold patient data: who saw which page of it is logged.
        log_access(
            request,
            filters={"quarantine_page": page, "lines": len(quarantined["rows"])},
            patient_ids=(),
            event="quarantine",
        )
    pages = max(1, -(-total // QUARANTINE_PAGE))
    lines = [
        {
            "started": _fmt(r.get("started")),
            "run_id": r.get("run_id"),
            "file": _no_path(r.get("file")),
            "line": r.get("line"),
            "resource_type": r.get("resource_type") or "–",
            "reason": r.get("reason"),
            "excerpt": _excerpt(r.get("text")) if with_text else None,
        }
        for r in quarantined["rows"]
    ]
    return render(
        request,
        "web/data_status.html",
        {
            "sections": _tables(dict(status)),
            "sites": _site_lines(sites, status),
            "issues": _issue_lines(issues, {x["site_id"]: x["site_name"] for x in sites}),
            "built": status["last_build"],
            "quarantine": lines,
            "quarantine_total": total,
            "quarantine_page": page,
            "quarantine_pages": pages,
            "quarantine_text": with_text,
        },
    )


QUARANTINE_PAGE = 200
EXCERPT_CHARS = 120
COMPLETE_SHARE = 0.8  # a last month with fewer stays than this share of a usual one is partial
STALE_DAYS = 35  # a site whose last discharge is this much older than the newest one is behind


def _site_lines(sites: list[Any], status: Any) -> list[dict[str, Any]]:
    """Per site, in plain words: how far its data reaches, whether its last month looks
    complete, and whether it lags the other sites."""
    newest = max((x["last_discharge"] for x in sites if x["last_discharge"]), default=None)
    out = []
    for x in sites:
        last, usual, n = x["last_discharge"], x["usual_month_stays"], x["last_month_stays"]
        if usual:
            share = n / usual
            complete = (
                f"its last month has {n:,} stays, about a usual month's ({usual:,.0f}): "
                "looks complete"
                if share >= COMPLETE_SHARE
                else f"its last month has {n:,} stays against {usual:,.0f} in a usual month "
                f"({share:.0%}): probably still incomplete"
            )
        else:
            complete = "too few months to judge completeness"
        lag = (newest - last).days if newest and last else None
        fresh = (
            "up to date with the other sites"
            if lag is not None and lag <= STALE_DAYS
            else (f"{lag} days behind the newest site" if lag is not None else "no discharges")
        )
        out.append(
            {
                "name": x["site_name"],
                "data_end": last,
                "stays": x["stays"],
                "since": x["first_discharge"],
                "complete": complete,
                "fresh": fresh,
                "ok": bool(
                    usual and n / usual >= COMPLETE_SHARE and lag is not None and lag <= STALE_DAYS
                ),
            }
        )
    return out


ISSUE_WORDS = {
    "vital_status_conflict": "stays whose discharge status and death date disagree "
    "(excluded from the measures)",
    "no_attending": "stays without an attending physician (not attributed to anyone)",
    "invalid_diagnosis_code": "diagnosis codes that are not billable ICD-10-CM codes",
    "invalid_procedure_code": "procedure codes not shaped like ICD-10-PCS",
    "missing_poa_share": "share of secondary diagnoses without a present-on-admission flag",
}


def _issue_lines(issues: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for r in issues:
        issue = str(r.get("issue"))
        if issue == "missing_poa_share":
            v = r.get("value")
            amount = f"{v:.0%} of {int(r.get('n') or 0):,}" if v is not None else "–"
        else:
            amount = f"{int(r.get('stays') or r.get('rows') or 0):,}"
        out.append(
            {
                "site": names.get(str(r.get("site_id")), r.get("site_id") or "all sites"),
                "what": ISSUE_WORDS.get(issue, issue.replace("_", " ")),
                "amount": amount,
            }
        )
    return out


def _excerpt(text: str | None) -> str:
    """The start of a quarantined line, on one line (the full 500 characters overflow)."""
    if not text:
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS] + "…"


@capability_required(ACCESS_LOG)
def access_log(request: HttpRequest) -> HttpResponse:
    """Who looked at which patients and the security events, newest first; filters by user,
    patient, dates, event and IP; ``?format=csv`` exports the filtered rows. Each look at the
    log is itself a row (event ``audit``)."""
    form = AccessLogForm(request.GET)
    if not form.is_valid():
        return bad_request(form.message())
    d = form.cleaned_data
    qs = AccessLog.objects.all()
    if d["user"]:
        qs = qs.filter(username__icontains=d["user"])
    if d["patient"]:
        # JSON containment is not portable to SQLite; the id list is text-searched instead.
        qs = qs.filter(patient_ids__icontains=f'"{d["patient"]}"')
    if d["start"]:
        qs = qs.filter(time__date__gte=d["start"])
    if d["end"]:
        qs = qs.filter(time__date__lte=d["end"])
    if d["event"]:
        qs = qs.filter(event=d["event"])
    if d["ip"]:
        qs = qs.filter(ip=d["ip"])
    filters = {k: d[k] for k in ("user", "patient", "start", "end", "event", "ip", "format")}
    log_event(request, "audit", **{k: v for k, v in filters.items() if v})
    if d["format"] == "csv":
        return _access_csv(qs)
    page = Paginator(qs, 50).get_page(d["page"] or 1)
    query = "&".join(f"{k}={v}" for k, v in _urlencoded(filters).items() if v and k != "format")
    return render(
        request,
        "web/access_log.html",
        {
            "page": page,
            "f": {k: ("" if v is None else v) for k, v in filters.items()},
            "events": AccessLog.Event.choices,
            "query": query,
        },
    )


def _urlencoded(values: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import quote

    return {k: quote(str(v)) for k, v in values.items() if v}


CSV_LIMIT = 100_000


def _access_csv(qs: Any) -> HttpResponse:
    import csv

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-log.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["time_utc", "user", "event", "via", "ip", "page", "filters", "n_patients", "patient_ids"]
    )
    for e in qs[:CSV_LIMIT]:
        writer.writerow(
            [
                e.time.strftime("%Y-%m-%d %H:%M:%S"),
                _cell(e.username),
                e.event,
                e.via,
                e.ip or "",
                _cell(e.page),
                _cell("; ".join(f"{k}={v}" for k, v in e.filters.items() if v)),
                e.n_patients,
                " ".join(e.patient_ids),
            ]
        )
    return response


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# Throttle across user names: this many failed sign-ins from one address within the lockout's
# cool-off lock that address out (the per-name lockout is AXES_FAILURE_LIMIT, by user name and
# address together, so one attacker cannot lock the CMO out from elsewhere).
IP_FAILURE_LIMIT = 20


def ip_failures(ip: str | None) -> int:
    """Failed sign-ins from ``ip`` within the cool-off window, over every user name."""
    from axes.conf import settings as axes_settings
    from axes.models import AccessAttempt
    from django.db.models import Sum
    from django.utils import timezone

    if not ip:
        return 0
    since = timezone.now() - axes_settings.AXES_COOLOFF_TIME
    total = AccessAttempt.objects.filter(ip_address=ip, attempt_time__gte=since).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return int(total or 0)


class Login(LoginView):
    """Django's login view behind an IP throttle across user names (429 when exceeded)."""

    template_name = "web/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ip = client_ip(request)
        if ip_failures(ip) >= IP_FAILURE_LIMIT:
            if (
                not AccessLog.objects.filter(event="lockout", ip=ip)
                .filter(filters__scope="ip")
                .exists()
            ):
                log_event(request, "lockout", username="(any)", scope="ip")
            return render(request, "web/locked_out.html", {"by_ip": True}, status=429)
        return super().post(request, *args, **kwargs)


@capability_required(UNLOCK)
def lockouts(request: HttpRequest) -> HttpResponse:
    """Current failed-login lockouts (by user name and address, and addresses throttled
    across user names); the CMO or an administrator unlocks them here (POST)."""
    from axes.conf import settings as axes_settings
    from axes.models import AccessAttempt
    from django.db.models import Sum
    from django.utils import timezone

    if request.method == "POST":
        return _unlock(request)
    since = timezone.now() - axes_settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=since)
    limit = axes_settings.AXES_FAILURE_LIMIT
    users = [a for a in recent.order_by("-attempt_time") if a.failures_since_start >= limit]
    ips = [
        r
        for r in recent.values("ip_address").annotate(n=Sum("failures_since_start"))
        if (r["n"] or 0) >= IP_FAILURE_LIMIT
    ]
    return render(
        request,
        "web/lockouts.html",
        {"users": users, "ips": ips, "limit": limit, "ip_limit": IP_FAILURE_LIMIT},
    )


def _unlock(request: HttpRequest) -> HttpResponse:
    from axes.utils import reset

    form = UnlockForm(request.POST)
    if not form.is_valid():
        return bad_request(
            "bad parameter: "
            + "; ".join(" ".join(str(e) for e in errs) for errs in form.errors.values())
        )
    name, ip = form.cleaned_data["username"], form.cleaned_data["ip"]
    n = reset(username=name) if name else reset(ip=ip)
    log_event(request, "unlock", unlocked=name or ip, records=n)
    return redirect("lockouts")


class PasswordChange(PasswordChangeView):
    """Change the password; clears the one-time-password flag."""

    template_name = "web/password_change.html"
    success_url = "/"

    def form_valid(self, form: Any) -> HttpResponse:
        from cmo.web.middleware import clear_password_flag

        response = super().form_valid(form)
        clear_password_flag(self.request, self.request.user)
        return response
