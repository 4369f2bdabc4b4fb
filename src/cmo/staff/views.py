"""Pages of the medical staff office: the work queue, the practitioner file (every view
access-logged), verifications, applications, screening reviews, department privileges and the
reappointment packet."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from cmo.directory.models import Department
from cmo.errors import CmoError, InputError
from cmo.staff import rules, services
from cmo.staff.apps import (
    EDIT_FILES,
    MOVE_APPLICATIONS,
    REVIEW_SCREENING,
    VIEW_APPLICATIONS,
    VIEW_FILES,
    VIEW_PRIVILEGES,
)
from cmo.staff.forms import (
    ELEMENTS,
    DecisionForm,
    MoveForm,
    ScreeningForm,
    VerificationForm,
    element_form,
)
from cmo.staff.models import (
    CredentialFile,
    GrantStatus,
    PrivilegeDefinition,
    PrivilegeGrant,
    Review,
    ScreeningMatch,
    ScreeningRun,
)
from cmo.staff.volumes import volumes
from cmo.web.access import capability_required, require_post
from cmo.web.audit import log_access
from cmo.web.scope import scope_of


def _today() -> date:
    today: date = timezone.localdate()
    return today


def _with_volume(f: CredentialFile, today: date) -> tuple[list[PrivilegeGrant], Any]:
    """The file's grants, each with ``cases`` (None without a readable warehouse)."""
    grants = list(f.privileges.select_related("privilege__department", "file__practitioner"))
    vol = volumes(grants, today)
    for g in grants:
        g.cases = None if vol is None else vol.cases[g.pk]  # type: ignore[attr-defined]
    return grants, vol


def _scoped_file(request: HttpRequest, pk: int) -> CredentialFile:
    """The file, if the user's department scope includes the practitioner (else 404)."""
    try:
        found: CredentialFile = services.files_in(scope_of(request.user).departments).get(pk=pk)
        return found
    except CredentialFile.DoesNotExist:
        raise Http404("no such credential file in your departments") from None


@capability_required(VIEW_FILES)
def queue(request: HttpRequest) -> HttpResponse:
    """The office's morning: what expires, what is on hold, where applications wait."""
    today, scope = _today(), scope_of(request.user).departments
    days = int(request.GET.get("days", 90)) if request.GET.get("days", "90").isdigit() else 90
    items = services.expirables(today, min(days, 365), scope)
    holds = PrivilegeGrant.objects.filter(
        status=GrantStatus.HOLD, file__in=services.files_in(scope)
    ).select_related("privilege", "file__practitioner")
    apps = [
        (a, services.overdue(a, today))
        for a in services.applications_for(request.user).filter(services.active_q())
    ]
    last_run = ScreeningRun.objects.filter(ok=True).first()
    pending = (
        ScreeningMatch.objects.filter(review=Review.PENDING, active=True).count()
        if request.user.has_perm(REVIEW_SCREENING)
        else None
    )
    return render(
        request,
        "staff/queue.html",
        {
            "today": today,
            "days": days,
            "items": items,
            "counts": {w: sum(i.window == w for i in items) for w in ("expired", "30", "60", "90")},
            "holds": holds,
            "apps": apps,
            "pending_reviews": pending,
            "last_run": last_run,
            # NCQA 2025 and 42 CFR 455.436: exclusions checked at least monthly.
            "screening_due": last_run is None
            or (today - timezone.localdate(last_run.started)).days > rules.MONITOR_DAYS,
            "files": services.files_in(scope),
            "departments": Department.objects.filter(code__in=scope)
            if scope is not None
            else Department.objects.all(),
            "can_edit": request.user.has_perm(EDIT_FILES),
            "decision_form": DecisionForm(),
        },
    )


def _file_page(
    request: HttpRequest,
    f: CredentialFile,
    form: Any,
    status: int = 200,
    element: dict[str, Any] | None = None,
) -> Any:
    log_access(request, filters={"credential_file": f.practitioner.code}, patient_ids=())
    today = _today()
    grants, vol = _with_volume(f, today)
    return render(
        request,
        "staff/file.html",
        {
            "f": f,
            "p": f.practitioner,
            "today": today,
            "flags": services.file_flags(f, today),
            "grants": grants,
            "volume": vol,
            "screened": services.last_clear(f.practitioner_id),
            "form": form,
            "can_edit": request.user.has_perm(EDIT_FILES),
            "expirables": [i for i in services.expirables(today, 90) if i.file_id == f.pk],
            "element_forms": [
                (kind, label, (element or {}).get(kind) or element_form(kind)(prefix=kind))
                for kind, (_, label) in ELEMENTS.items()
            ],
        },
        status=status,
    )


@capability_required(VIEW_FILES)
def file(request: HttpRequest, pk: int) -> HttpResponse:
    """The practitioner's credential file (the view is access-logged)."""
    return _file_page(request, _scoped_file(request, pk), VerificationForm())


@capability_required(EDIT_FILES)
@require_post
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a primary-source verification (with its document) in the file."""
    f = _scoped_file(request, pk)
    form = VerificationForm(request.POST, request.FILES)
    if not form.is_valid():
        return _file_page(request, f, form, status=400)
    v = form.save(commit=False)
    v.file, v.verifier = f, request.user
    v._history_user = request.user
    v.save()
    messages.success(request, f"{v.get_element_display()} verification recorded.")
    return redirect("staff:file", pk=f.pk)


@capability_required(EDIT_FILES)
@require_post
def add_element(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Add a licence, DEA, board, policy, claim, training, position or CME credit to the file;
    the model's validators run (a DEA number with a bad check digit is refused)."""
    f = _scoped_file(request, pk)
    if kind not in ELEMENTS:
        raise Http404("no such element")
    form = element_form(kind)(request.POST, prefix=kind)
    if not form.is_valid():
        return _file_page(request, f, VerificationForm(), status=400, element={kind: form})
    item = form.save(commit=False)
    item.file = f
    item._history_user = request.user
    item.save()
    messages.success(request, f"{ELEMENTS[kind][1]} added.")
    return redirect("staff:file", pk=f.pk)


def _packet(request: HttpRequest, pk: int, template: str) -> HttpResponse:
    f = _scoped_file(request, pk)
    log_access(
        request, filters={"credential_file": f.practitioner.code, "packet": "1"}, patient_ids=()
    )
    today = _today()
    grants, vol = _with_volume(f, today)
    return render(
        request,
        template,
        {
            "f": f,
            "p": f.practitioner,
            "today": today,
            "flags": services.file_flags(f, today),
            "grants": grants,
            "volume": vol,
            "screened": services.last_clear(f.practitioner_id),
        },
    )


@capability_required(VIEW_FILES)
def packet(request: HttpRequest, pk: int) -> HttpResponse:
    """The reappointment packet: file, verifications, privileges with case volume."""
    return _packet(request, pk, "staff/packet.html")


@capability_required(VIEW_FILES)
def packet_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The packet as PDF (WeasyPrint, extra ``pdf``); 501 when it is not installed."""
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError):  # not installed, or Debian's pango missing
        return HttpResponse(
            "PDF packets need the pdf extra (pip install 'cmo[pdf]') and Debian's pango; "
            "the HTML packet prints from the browser.",
            status=501,
            content_type="text/plain",
        )
    from importlib import resources

    page = _packet(request, pk, "staff/packet_print.html")
    css = resources.files("cmo.web") / "static" / "web" / "cmo.css"
    # No base URL: the print template references nothing, so nothing is fetched.
    pdf = HTML(string=page.content.decode()).write_pdf(stylesheets=[CSS(string=css.read_text())])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="packet-{pk}.pdf"'
    return response


@capability_required(EDIT_FILES)
@require_post
def decide_hold(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(PrivilegeGrant.objects.select_related("file"), pk=pk)
    _scoped_file(request, grant.file_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose confirm or release and give a reason.")
        return redirect("staff:queue")
    try:
        services.decide_hold(
            grant,
            request.user,
            confirm=form.cleaned_data["decision"] == "confirm",
            reason=form.cleaned_data["reason"],
        )
    except InputError as exc:
        messages.error(request, exc.message)
    return redirect("staff:queue")


@capability_required(VIEW_APPLICATIONS)
def applications(request: HttpRequest) -> HttpResponse:
    """Applications and their clocks. A board member sees names and states only."""
    today = _today()
    rows = [
        (a, services.overdue(a, today), services.may_move(a, request.user))
        for a in services.applications_for(request.user).prefetch_related("transitions")
    ]
    return render(
        request,
        "staff/applications.html",
        {
            "rows": rows,
            "today": today,
            "form": MoveForm(),
            "clinical": request.user.has_perm(VIEW_FILES),
        },
    )


@capability_required(MOVE_APPLICATIONS)
@require_post
def move(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(services.applications_for(request.user), pk=pk)
    form = MoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A comment is required for every step.")
        return redirect("staff:applications")
    try:
        step = services.move(
            app, request.user, form.cleaned_data["comment"], decision=form.cleaned_data["decision"]
        )
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except InputError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{app.file.practitioner}: moved to {step.get_to_state_display()}."
        )
    return redirect("staff:applications")


@capability_required(REVIEW_SCREENING)
def screening(request: HttpRequest) -> HttpResponse:
    runs = ScreeningRun.objects.annotate(n=Count("matches"))[:12]
    latest = next((r for r in runs if r.ok), None)
    matches = (
        latest.matches.select_related("practitioner", "reviewer").order_by("review", "-score")
        if latest
        else []
    )
    return render(
        request,
        "staff/screening.html",
        {
            "runs": runs,
            "latest": latest,
            "matches": matches,
            "form": DecisionForm(),
            "run_form": ScreeningForm() if request.user.has_perm(EDIT_FILES) else None,
        },
    )


@capability_required(EDIT_FILES)
@require_post
def run(request: HttpRequest) -> HttpResponse:
    """Screen everyone against uploaded files (kept under their own names for the run's
    record); a failed run is stored and shown, and clears nobody."""
    import tempfile
    from pathlib import Path

    form = ScreeningForm(request.POST, request.FILES)
    if not form.is_valid():
        problems = " ".join(e for errors in form.errors.values() for e in errors)
        messages.error(request, f"Screening not run, nobody was marked clear: {problems}")
        return redirect("staff:screening")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for key in ("leie", "sam"):
            upload = form.cleaned_data.get(key)
            if upload:
                paths[key] = Path(tmp) / Path(upload.name).name
                with paths[key].open("wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
        try:
            done, hits = services.run_screening(
                paths["leie"], paths.get("sam"), by=request.user.get_username()
            )
        except CmoError as exc:
            messages.error(request, f"Screening failed, nobody was marked clear: {exc.message}")
        else:
            messages.success(
                request, f"Screened {done.practitioners} practitioners: {len(hits)} match(es)."
            )
    return redirect("staff:screening")


@capability_required(REVIEW_SCREENING)
@require_post
def review(request: HttpRequest, pk: int) -> HttpResponse:
    match = get_object_or_404(ScreeningMatch, pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose confirm or clear and give a reason.")
        return redirect("staff:screening")
    confirm = form.cleaned_data["decision"] == "confirm"
    services.review_match(match, request.user, confirm=confirm, reason=form.cleaned_data["reason"])
    messages.success(
        request,
        f"{match.practitioner}: {'confirmed — privileges held' if confirm else 'cleared'}.",
    )
    return redirect("staff:screening")


@capability_required(VIEW_PRIVILEGES)
def privileges(request: HttpRequest, code: str) -> HttpResponse:
    """A department's delineation, who holds what, case volume beside each grant."""
    scope = scope_of(request.user).departments
    if scope is not None and code not in scope:
        raise Http404("no such department in your scope")  # as for files: no existence leak
    dept = get_object_or_404(Department, code=code)
    today = _today()
    defs = PrivilegeDefinition.objects.filter(department=dept).prefetch_related("codes")
    grants = list(
        PrivilegeGrant.objects.filter(privilege__department=dept).select_related(
            "privilege", "file__practitioner"
        )
    )
    vol = volumes(grants, today)
    rows = []
    for g in grants:
        cases = None if vol is None else vol.cases[g.pk]
        rows.append((g, cases, cases is not None and cases < g.privilege.min_cases_24m))
    return render(
        request,
        "staff/privileges.html",
        {"dept": dept, "defs": defs, "rows": rows, "volume": vol},
    )
