"""Pages of practitioner review: OPPE cycles, completion and profiles (with the chair's
decision and the report as HTML and PDF), FPPEs, the confidential peer-review cases and the
practitioner timeline.

Every page shows practitioner-level data: each view writes an access-log row
(``cmo.web.audit``) and is sent with ``Cache-Control: no-store``. Peer-review pages open only
for the peer-review committee and the CMO (``review.peer_review``). A chair sees their
departments' profiles and FPPEs only (404 for another's, as the directory does).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from cmo.directory.models import Department, Practitioner
from cmo.errors import InputError
from cmo.review import forms, rules, services
from cmo.review.apps import DECIDE_FPPE, DECIDE_OPPE, PEER_REVIEW, VIEW_FPPE, VIEW_OPPE
from cmo.review.models import (
    Assignment,
    CaseStatus,
    Fppe,
    FppeStatus,
    Indicator,
    IndicatorKind,
    OppeProfile,
    PeerCase,
)
from cmo.web.access import capability_required, require_post
from cmo.web.audit import log_access
from cmo.web.scope import scope_of

CONFIDENTIAL = rules.CONFIDENTIAL
View = TypeVar("View", bound=Callable[..., Any])


def never_cache(view: View) -> View:
    """Django's ``never_cache`` (``Cache-Control: no-store`` and friends), typed: practitioner
    and patient data must not be kept by a browser or a proxy."""
    from django.views.decorators.cache import never_cache as django_never_cache

    return cast(View, django_never_cache(view))


def _today() -> date:
    today: date = timezone.localdate()
    return today


def _profile(request: HttpRequest, pk: int) -> OppeProfile:
    qs = OppeProfile.objects.restrict(scope_of(request.user)).select_related(
        "practitioner", "department"
    )
    found: OppeProfile = get_object_or_404(qs, pk=pk)
    return found


def _fppe(request: HttpRequest, pk: int) -> Fppe:
    qs = Fppe.objects.restrict(scope_of(request.user)).select_related("practitioner", "department")
    found: Fppe = get_object_or_404(qs, pk=pk)
    return found


# ---------------------------------------------------------------- OPPE


@capability_required(VIEW_OPPE)
@never_cache
def oppe(request: HttpRequest) -> HttpResponse:
    """The cycles, the completion view per department, and the cycle's profiles."""
    scope = scope_of(request.user)
    cycles = sorted(set(OppeProfile.objects.values_list("cycle", flat=True)), reverse=True)
    label = request.GET.get("cycle") or (cycles[0] if cycles else "")
    if label and label not in cycles:
        try:
            label = rules.parse_cycle(label).label
        except ValueError as exc:
            return HttpResponse(str(exc), status=400, content_type="text/plain")
    profiles = list(
        OppeProfile.objects.restrict(scope)
        .filter(cycle=label)
        .select_related("practitioner", "department")
    )
    log_access(
        request,
        filters={"review": "oppe", "cycle": label, "practitioners": len(profiles)},
        patient_ids=(),
    )
    return render(
        request,
        "review/oppe.html",
        {
            "cycles": cycles,
            "cycle": label,
            "profiles": profiles,
            "completion": services.completion(label, scope.departments),
        },
    )


@capability_required(VIEW_OPPE)
@never_cache
def profile(request: HttpRequest, pk: int) -> HttpResponse:
    """One practitioner's OPPE profile; the chair signs the decision here (POST)."""
    pr = _profile(request, pk)
    form = forms.OppeDecisionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not request.user.has_perm(DECIDE_OPPE):
            raise PermissionDenied
        if form.is_valid():
            services.decide_oppe(
                pr, request.user, form.cleaned_data["decision"], form.cleaned_data["comment"]
            )
            messages.success(request, f"Decision signed: {pr.get_decision_display()}.")
            return redirect("review:profile", pk=pr.pk)
        status = 400
    log_access(
        request,
        filters={"review": "oppe_profile", "practitioner": pr.practitioner.code},
        patient_ids=(),
    )
    return render(
        request,
        "review/profile.html",
        {
            "pr": pr,
            "form": form,
            "can_decide": request.user.has_perm(DECIDE_OPPE),
            "manual": _manual_form(pr),
        },
        status=status,
    )


def _manual_indicators(pr: OppeProfile) -> list[Indicator]:
    return [i for i in services.indicators_for(pr.department) if i.kind == IndicatorKind.MANUAL]


def _manual_form(pr: OppeProfile, data: Any = None) -> forms.ManualValueForm | None:
    choices = [(i.pk, i.label) for i in _manual_indicators(pr)]
    return forms.ManualValueForm(data, choices=choices, prefix="manual") if choices else None


@capability_required(DECIDE_OPPE)
@never_cache
@require_post
def manual_value(request: HttpRequest, pk: int) -> HttpResponse:
    """The chair enters a manual indicator's value (e.g. a documentation audit) on a profile."""
    pr = _profile(request, pk)
    form = _manual_form(pr, request.POST)
    if form is None or not form.is_valid():
        messages.error(request, "Choose a manual indicator and give a number.")
        return redirect("review:profile", pk=pr.pk)
    indicator = next(i for i in _manual_indicators(pr) if i.pk == form.cleaned_data["indicator"])
    services.set_manual_value(pr, indicator, form.cleaned_data["value"], request.user)
    messages.success(request, f"{indicator.label}: {form.cleaned_data['value']:g} recorded.")
    return redirect("review:profile", pk=pr.pk)


@capability_required(DECIDE_OPPE)
@never_cache
def indicators(request: HttpRequest) -> HttpResponse:
    """The indicator sets: the organisation's defaults, and each department's own, which its
    chair adds (a measure of the warehouse or a manual indicator, with its competency and
    thresholds) or retires."""
    scope = scope_of(request.user)
    departments = Department.objects.restrict(scope).filter(active=True).order_by("name")
    form = forms.IndicatorForm(request.POST or None, departments=departments)
    status = 200
    if request.method == "POST":
        op = request.POST.get("op", "add")
        if op == "retire":
            ind = get_object_or_404(
                Indicator.objects.restrict(scope).filter(department__isnull=False),
                pk=request.POST.get("id") or 0,
            )
            ind.active = False
            ind._history_user = request.user
            ind.save()
            messages.success(request, f"{ind.label} retired.")
            return redirect("review:indicators")
        if op != "add":
            return HttpResponse("unknown operation", status=400, content_type="text/plain")
        if form.is_valid():
            ind = form.save(commit=False)
            ind._history_user = request.user
            ind.save()
            messages.success(request, f"{ind.label} added to {ind.department}.")
            return redirect("review:indicators")
        status = 400
    services.ensure_indicators()
    own = Indicator.objects.restrict(scope).filter(department__isnull=False, active=True)
    return render(
        request,
        "review/indicators.html",
        {
            "defaults": Indicator.objects.filter(department__isnull=True, active=True),
            "own": own.select_related("department"),
            "form": form,
        },
        status=status,
    )


def _report(request: HttpRequest, pk: int, template: str) -> HttpResponse:
    pr = _profile(request, pk)
    log_access(
        request,
        filters={"review": "oppe_report", "practitioner": pr.practitioner.code},
        patient_ids=(),
    )
    return render(request, template, {"pr": pr, "today": _today()})


@capability_required(VIEW_OPPE)
@never_cache
def report(request: HttpRequest, pk: int) -> HttpResponse:
    """The OPPE report of one practitioner (printable HTML)."""
    return _report(request, pk, "review/report.html")


@capability_required(VIEW_OPPE)
@never_cache
def report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The OPPE report as PDF (WeasyPrint, extra ``pdf``); 501 when it is not installed."""
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError):
        return HttpResponse(
            "PDF reports need the pdf extra (pip install 'cmo[pdf]') and Debian's pango; "
            "the HTML report prints from the browser.",
            status=501,
            content_type="text/plain",
        )
    from importlib import resources

    page = _report(request, pk, "review/report_print.html")
    css = resources.files("cmo.web") / "static" / "web" / "cmo.css"
    pdf = HTML(string=page.content.decode()).write_pdf(stylesheets=[CSS(string=css.read_text())])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="oppe-{pk}.pdf"'
    return response


# ---------------------------------------------------------------- FPPE


@capability_required(VIEW_FPPE)
@never_cache
def fppe_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status and status not in FppeStatus.values:
        return HttpResponse("unknown status", status=400, content_type="text/plain")
    qs = Fppe.objects.restrict(scope_of(request.user)).select_related("practitioner", "department")
    if status:
        qs = qs.filter(status=status)
    items = list(qs[:500])
    log_access(request, filters={"review": "fppe", "status": status or "all"}, patient_ids=())
    return render(
        request,
        "review/fppe_list.html",
        {"items": items, "status": status, "statuses": FppeStatus.choices},
    )


@capability_required(VIEW_FPPE)
@never_cache
def fppe(request: HttpRequest, pk: int) -> HttpResponse:
    f = _fppe(request, pk)
    log_access(
        request,
        filters={"review": "fppe", "fppe": pk, "practitioner": f.practitioner.code},
        patient_ids=(),
    )
    return _fppe_page(request, f)


def _fppe_page(request: HttpRequest, f: Fppe, status: int = 200, **bound: Any) -> HttpResponse:
    can = request.user.has_perm(DECIDE_FPPE)
    context: dict[str, Any] = {"f": f, "can_decide": can}
    if can:
        context.update(
            accept=bound.get("accept") or forms.AcceptFppeForm(prefix="accept"),
            decline=bound.get("decline") or forms.DeclineFppeForm(prefix="decline"),
            progress=bound.get("progress") or forms.ProgressForm(prefix="progress"),
            close=bound.get("close") or forms.CloseFppeForm(prefix="close"),
        )
    return render(request, "review/fppe.html", context, status=status)


FPPE_FORMS: dict[str, Any] = {
    "accept": forms.AcceptFppeForm,
    "decline": forms.DeclineFppeForm,
    "progress": forms.ProgressForm,
    "close": forms.CloseFppeForm,
}


@capability_required(DECIDE_FPPE)
@never_cache
@require_post
def fppe_act(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept (with a plan), decline, record progress, or complete an FPPE (``op``)."""
    f = _fppe(request, pk)
    op = request.POST.get("op", "")
    if op not in FPPE_FORMS:
        return HttpResponse("unknown operation", status=400, content_type="text/plain")
    form = FPPE_FORMS[op](request.POST, prefix=op)
    if not form.is_valid():
        return _fppe_page(request, f, status=400, **{op: form})
    d = form.cleaned_data
    try:
        if op == "accept":
            services.accept_fppe(
                f,
                request.user,
                method=d["method"],
                cases_required=d["cases_required"],
                duration_days=d["duration_days"],
                reviewers=d["reviewers"],
                criteria=d["criteria"],
                comment=d["comment"],
            )
            messages.success(request, "FPPE accepted: the plan has started.")
        elif op == "decline":
            services.decline_fppe(f, request.user, d["comment"])
            messages.success(request, "Proposal declined.")
        elif op == "progress":
            services.record_progress(f, request.user, d["cases"])
            messages.success(request, f"{d['cases']} case(s) recorded.")
        else:
            services.close_fppe(
                f, request.user, d["outcome"], d["comment"], extend_cases=d["extend_cases"] or 0
            )
            messages.success(request, f"Outcome recorded: {f.get_outcome_display()}.")
    except InputError as exc:
        form.add_error(None, exc.message)
        return _fppe_page(request, f, status=400, **{op: form})
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from exc
    return redirect("review:fppe", pk=f.pk)


# ---------------------------------------------------------------- peer review (confidential)


def _shown_name(case: PeerCase, user: Any) -> str:
    """The practitioner's name, or a pseudonym on a blinded case (the CMO sees the name)."""
    if case.practitioner is None:
        return "No practitioner named"
    if case.blinded and not user.groups.filter(name="cmo").exists():
        return f"Practitioner {case.practitioner_id:04d} (blinded)"
    return str(case.practitioner)


@capability_required(PEER_REVIEW)
@never_cache
def cases(request: HttpRequest) -> HttpResponse:
    """Open peer-review cases with their age and overdue flags."""
    show = request.GET.get("show", "open")
    if show not in ("open", "all"):
        return HttpResponse("show is open or all", status=400, content_type="text/plain")
    qs = PeerCase.objects.select_related("practitioner", "department")
    if show == "open":
        qs = qs.exclude(status__in=[CaseStatus.CLOSED, CaseStatus.MERGED])
    today = _today()
    rows = [
        {
            "c": c,
            "name": _shown_name(c, request.user),
            "age": (today - c.opened_on).days,
            "overdue": services.overdue(c, today),
        }
        for c in qs[:500]
    ]
    log_access(
        request,
        filters={"review": "peer_cases", "show": show},
        patient_ids=[r["c"].patient_id for r in rows if r["c"].patient_id],
    )
    return render(
        request, "review/cases.html", {"rows": rows, "show": show, "confidential": CONFIDENTIAL}
    )


def _case_page(request: HttpRequest, c: PeerCase, status: int = 200, **bound: Any) -> HttpResponse:
    from cmo.review.warehouse import case_record
    from cmo.web.warehouse import NoResults

    record, problem = None, ""
    if c.stay_id:
        try:
            record = case_record(c.stay_id)
        except NoResults as exc:
            problem = str(exc)
    reviewers = [
        (p.pk, str(p))
        for p in Practitioner.objects.filter(active=True).order_by("family_name", "given_name")
        if services.conflict_reason(c, p) is None
    ][:400]
    pending = c.assignments.filter(submitted_at__isnull=True).select_related("reviewer").first()
    today = _today()
    committee_due, closure_due = rules.case_due(
        c.opened_on,
        int(services.setting("REVIEW_COMMITTEE_DAYS", rules.COMMITTEE_DAYS)),
        int(services.setting("REVIEW_CLOSURE_DAYS", rules.CLOSURE_DAYS)),
    )
    context = {
        "c": c,
        "name": _shown_name(c, request.user),
        "record": record,
        "problem": problem,
        "assignments": list(c.assignments.select_related("reviewer")),
        "pending": pending,
        "assign": bound.get("assign") or forms.AssignForm(prefix="assign", choices=reviewers),
        "score": bound.get("score") or forms.ScoreForm(prefix="score"),
        "decide": bound.get("decide") or forms.CommitteeForm(prefix="decide"),
        "age": (today - c.opened_on).days,
        "overdue": services.overdue(c, today),
        "committee_due": committee_due,
        "closure_due": closure_due,
        "confidential": CONFIDENTIAL,
    }
    return render(request, "review/case.html", context, status=status)


@capability_required(PEER_REVIEW)
@never_cache
def case(request: HttpRequest, pk: int) -> HttpResponse:
    """A case assembled from the warehouse: stay, timeline, diagnoses with POA, measures."""
    c = get_object_or_404(PeerCase.objects.select_related("practitioner", "department"), pk=pk)
    log_access(
        request,
        filters={"review": "peer_case", "case": pk},
        patient_ids=[c.patient_id] if c.patient_id else [],
    )
    return _case_page(request, c)


@capability_required(PEER_REVIEW)
@never_cache
@require_post
def case_act(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign a reviewer, record the reviewer's score, or the committee's decision (``op``)."""
    c = get_object_or_404(PeerCase.objects.select_related("practitioner"), pk=pk)
    log_access(
        request,
        filters={"review": "peer_case_act", "case": pk, "op": request.POST.get("op", "")},
        patient_ids=[c.patient_id] if c.patient_id else [],
    )
    op = request.POST.get("op", "")
    try:
        if op == "assign":
            choices = [(p.pk, str(p)) for p in Practitioner.objects.filter(active=True)]
            form: Any = forms.AssignForm(request.POST, prefix="assign", choices=choices)
            if not form.is_valid():
                return _case_page(request, c, status=400, assign=form)
            reviewer = Practitioner.objects.get(pk=form.cleaned_data["reviewer"])
            services.assign(c, reviewer, request.user)
            messages.success(request, "Reviewer assigned.")
        elif op == "score":
            form = forms.ScoreForm(request.POST, prefix="score")
            a = Assignment.objects.filter(case=c, pk=request.POST.get("assignment") or 0).first()
            if a is None:
                return HttpResponse("no such assignment", status=400, content_type="text/plain")
            if not form.is_valid():
                return _case_page(request, c, status=400, score=form)
            services.submit_score(a, request.user, **form.cleaned_data)
            messages.success(request, "Review recorded.")
        elif op == "decide":
            form = forms.CommitteeForm(request.POST, prefix="decide")
            if not form.is_valid():
                return _case_page(request, c, status=400, decide=form)
            services.committee_decision(c, request.user, **form.cleaned_data)
            messages.success(request, "Committee decision recorded; the case is closed.")
        else:
            return HttpResponse("unknown operation", status=400, content_type="text/plain")
    except InputError as exc:
        messages.error(request, exc.message)
        return _case_page(request, c, status=400)
    return redirect("review:case", pk=c.pk)


# ---------------------------------------------------------------- practitioner timeline


@capability_required(VIEW_OPPE)
@never_cache
def timeline(request: HttpRequest, code: str) -> HttpResponse:
    """One practitioner's story in order: appointments and privileges, OPPE cycles and
    decisions, signals, FPPEs, peer-review cases (for those allowed), screening, expirables."""
    from cmo.review.warehouse import NoResults, signals
    from cmo.staff.interface import file_summary, privileges_of

    scope = scope_of(request.user)
    p = Practitioner.objects.restrict(scope).filter(code=code).first()
    if p is None:
        raise Http404("no such practitioner in your scope")
    today = _today()
    events: list[dict[str, Any]] = []
    summary = file_summary(p.pk, today)
    for a in summary["applications"]:
        events.append(
            {
                "on": a["received_on"],
                "kind": "Appointment",
                "what": f"{a['kind']} ({a['department']}): {a['state']}",
            }
        )
    for g in privileges_of(p.pk):
        events.append(
            {
                "on": g.granted_on or g.requested_on,
                "kind": "Privilege",
                "what": f"{g.privilege} ({g.department}): {g.status_label}"
                + (f"; FPPE: {g.fppe_reason}" if g.fppe_required else ""),
            }
        )
    for pr in OppeProfile.objects.filter(practitioner=p):
        what = f"OPPE {pr.cycle}: " + (pr.get_decision_display() or "awaiting the chair")
        events.append({"on": pr.due, "kind": "OPPE", "what": what, "url": f"/review/oppe/{pr.pk}/"})
    try:
        for s in signals(current=None):
            if s["level"] == "practitioner" and s["unit_id"] == p.code:
                events.append(
                    {
                        "on": s["period_start"],
                        "kind": "Signal",
                        "what": f"{s['measure_id']} {s['kind']} ({s['direction']})",
                    }
                )
    except NoResults:
        pass
    for f in Fppe.objects.filter(practitioner=p):
        events.append(
            {
                "on": f.opened or timezone.localdate(f.proposed_at),
                "kind": "FPPE",
                "what": f"{f.get_trigger_display()} {f.measure_id}: {f.get_status_display()}",
                "url": f"/review/fppe/{f.pk}/",
            }
        )
    peer = request.user.has_perm(PEER_REVIEW)
    if peer:
        for c in PeerCase.objects.filter(practitioner=p).exclude(status=CaseStatus.MERGED):
            events.append(
                {
                    "on": c.opened_on,
                    "kind": "Peer review",
                    "what": f"{c.get_source_display()}: {c.get_status_display()}",
                    "url": f"/review/peer/{c.pk}/",
                }
            )
    if summary["screened"]:
        events.append(
            {
                "on": summary["screened"],
                "kind": "Screening",
                "what": "clear in the latest exclusion screening",
            }
        )
    for e in summary["expirables"]:
        events.append({"on": e["expires"], "kind": "Expirable", "what": f"{e['label']} expires"})
    events.sort(key=lambda e: (e["on"] or date.min, e["kind"]))
    log_access(request, filters={"review": "timeline", "practitioner": p.code}, patient_ids=())
    return render(request, "review/timeline.html", {"p": p, "events": events, "peer": peer})
