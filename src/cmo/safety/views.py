"""Safety pages: report (everyone), my reports, the triage queue, an event, its RCA²
investigation, an action and whether it worked, analytics and peer-review referrals.

Every page that shows event data writes an access-log row (cmo.web.audit) with the patients
it showed; the report page of an anonymous reporter writes one without any user or address.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from cmo.safety import analytics, clocks, forms, scope, services
from cmo.safety import models as m
from cmo.safety.apps import ANALYTICS, DEPARTMENT, INVESTIGATE, REFERRALS, REPORT, TRIAGE
from cmo.safety.audit import log_events, log_lookup
from cmo.safety.scope import capability_required
from cmo.web.access import require_post


@capability_required(REPORT)
def report(request: HttpRequest) -> HttpResponse:
    """The one-page report (AHRQ Common Formats Hospital v2.0)."""
    if not scope.can(request.user, REPORT):
        raise PermissionDenied
    form = forms.ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        anonymous = form.cleaned_data["anonymous"]
        if form.link is not None:
            log_lookup(request, form.link.patient_id, anonymous=anonymous)
        event = services.create_report(form.cleaned_data, user=request.user, link=form.link)
        if anonymous:
            return redirect("safety:thanks")
        messages.success(
            request, f"Thank you: report {event.reference} was sent to patient safety."
        )
        return redirect("safety:mine")
    return render(request, "safety/report.html", {"form": form})


@capability_required(REPORT)
def thanks(request: HttpRequest) -> HttpResponse:
    """After an anonymous report: no reference, nothing that ties the report to this session."""
    return render(request, "safety/thanks.html")


@capability_required(REPORT)
def mine(request: HttpRequest) -> HttpResponse:
    """The reporter's own (named) reports: status and the closing message (feedback loop)."""
    events = list(m.Event.objects.filter(reporter=request.user, anonymous=False))
    log_events(request, "my reports", events)
    return render(request, "safety/mine.html", {"events": events})


def _queue_rows(events: list[m.Event]) -> list[dict[str, Any]]:
    now = timezone.now()
    rows: list[dict[str, Any]] = [{"e": e, "clock": clocks.clock_state(e, now)} for e in events]
    # Worst harm first, then serious events, then the oldest.
    rows.sort(key=lambda r: (m.HARM_RANK[r["e"].harm], not r["e"].serious, r["e"].reported_at))
    return rows


@capability_required(TRIAGE, DEPARTMENT)
def queue(request: HttpRequest) -> HttpResponse:
    """Open events by severity and age, with clocks and overdue flags."""
    events_qs = scope.queue_events(request.user)
    if events_qs is None:
        raise PermissionDenied
    show = request.GET.get("show", "open")
    if show == "open":
        events_qs = events_qs.exclude(status__in=[m.Status.CLOSED, m.Status.MERGED])
    events = list(events_qs.select_related("unit", "site", "investigation", "department")[:500])
    log_events(request, "safety queue", events, show=show)
    return render(
        request,
        "safety/queue.html",
        {"rows": _queue_rows(events), "show": show, "can_triage": scope.sees_all(request.user)},
    )


def _event_or_403(request: HttpRequest, pk: int) -> m.Event:
    event: m.Event = get_object_or_404(m.Event, pk=pk)
    if not scope.visible_events(request.user).filter(pk=pk).exists():
        raise PermissionDenied
    return event


@capability_required(REPORT)
def event(request: HttpRequest, pk: int) -> HttpResponse:
    e = _event_or_403(request, pk)
    log_events(request, "safety event", [e], event=e.reference)
    triage = scope.sees_all(request.user)
    context: dict[str, Any] = {
        "e": e,
        "triage": triage,
        "clock": clocks.clock_state(e, timezone.now()),
        "practitioners": list(e.practitioners.all()),
        "duplicates": list(e.duplicates.all()),
        "referrals": list(e.referrals.all()) if scope.reads_referrals(request.user) else [],
        # That a referral exists is itself confidential: triage roles only (not the reporter,
        # not a chair).
        "referred": triage and e.referrals.exists(),
        "investigation": getattr(e, "investigation", None),
    }
    if triage:
        context.update(
            classify=forms.ClassifyForm(instance=e),
            route_form=forms.RouteForm(initial={"route": e.route or None}),
            merge_form=forms.MergeForm(),
            close_form=forms.CloseForm(initial={"closing_message": e.closing_message}),
        )
    return render(request, "safety/event.html", context)


@capability_required(TRIAGE)
@require_post
def triage(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the triage operations on an event (``op``): classify, route, merge, close."""
    e = get_object_or_404(m.Event, pk=pk)
    op = request.POST.get("op")
    if op == "classify":
        form: Any = forms.ClassifyForm(request.POST, instance=e)
        if form.is_valid():
            services.classify(
                e,
                sre=form.cleaned_data["sre"],
                sentinel=form.cleaned_data["sentinel"],
                department=form.cleaned_data["department"],
                by=request.user,
            )
            messages.success(request, "Classified." + (" Clocks started." if e.serious else ""))
    elif op == "route":
        form = forms.RouteForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            services.route(
                e,
                route=d["route"],
                reason=d["reason"],
                practitioner=d["practitioner"],
                concern=d["concern"],
                by=request.user,
            )
            messages.success(request, f"Routed: {m.Route(d['route']).label}.")
    elif op == "merge":
        form = forms.MergeForm(request.POST)
        if form.is_valid():
            try:
                services.merge(e, form.cleaned_data["into"], by=request.user)
            except ValueError as exc:
                form.add_error("into", str(exc))
            else:
                messages.success(request, f"Merged into {form.cleaned_data['into'].reference}.")
    elif op == "close":
        form = forms.CloseForm(request.POST)
        if form.is_valid():
            services.close(e, message=form.cleaned_data["closing_message"], by=request.user)
            messages.success(request, "Closed; the reporter sees the closing message.")
    else:
        return HttpResponse("unknown operation", status=400)
    for field, errs in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label or 'Form'}: {' '.join(errs)}")
    return redirect("safety:event", pk=pk)


@capability_required(INVESTIGATE)
def investigation(request: HttpRequest, pk: int) -> HttpResponse:
    """The RCA² investigation: team, timeline, causal statements, action plan."""
    e = get_object_or_404(m.Event, pk=pk)
    inv, _ = m.Investigation.objects.get_or_create(event=e)
    log_events(request, "RCA2 investigation", [e], event=e.reference)
    bound = {
        "team": forms.TeamForm(instance=inv),
        "timeline": forms.TimelineForm(),
        "cause": forms.CauseForm(),
        "action": forms.ActionForm(),
    }
    if request.method == "POST":
        op = request.POST.get("op", "")
        if op == "complete":
            inv.plan_completed_at = timezone.now()
            inv.save()
            messages.success(request, "Analysis and action plan marked complete.")
            return redirect("safety:investigation", pk=pk)
        if op not in bound:
            return HttpResponse("unknown operation", status=400)
        kind: Any = {
            "team": forms.TeamForm,
            "timeline": forms.TimelineForm,
            "cause": forms.CauseForm,
            "action": forms.ActionForm,
        }[op]
        form = kind(request.POST, instance=inv) if op == "team" else kind(request.POST)
        if form.is_valid():
            if op == "team":
                services.team_saved(form.save(commit=False))
            else:
                item = form.save(commit=False)
                item.investigation = inv
                item.save()
            messages.success(request, "Saved.")
            return redirect("safety:investigation", pk=pk)
        bound[op] = form
    return render(
        request,
        "safety/investigation.html",
        {
            "e": e,
            "inv": inv,
            "clock": clocks.clock_state(e, timezone.now()),
            "actions": list(inv.actions.select_related("unit")),
            "rules": m.FIVE_RULES,
            **{f"{k}_form": v for k, v in bound.items()},
        },
    )


@capability_required(INVESTIGATE)
def action(request: HttpRequest, pk: int) -> HttpResponse:
    """An action and "did it work?": its measure's control chart split at the action date."""
    a = get_object_or_404(m.Action.objects.select_related("investigation__event", "unit"), pk=pk)
    e = a.investigation.event
    form = forms.ActionProgressForm(request.POST or None, instance=a)
    if request.method == "POST" and form.is_valid():
        a = form.save(commit=False)
        a._history_user = request.user  # type: ignore[attr-defined]
        a.save()
        messages.success(request, "Action updated.")
        return redirect("safety:action", pk=pk)
    log_events(request, "RCA2 action", [e], action=a.pk)
    effect = analytics.action_effect(a)
    return render(request, "safety/action.html", {"a": a, "e": e, "effect": effect, "form": form})


@capability_required(ANALYTICS)
def analytics_page(request: HttpRequest) -> HttpResponse:
    """De-identified rates: events per 1,000 patient days (u-charts), near-miss ratio,
    reporting rate, days to close. No patient or practitioner appears, so no access-log row."""
    by = request.GET.get("by", "all")
    if by not in analytics.BREAKDOWNS:
        by = "all"
    context = analytics.page_context(by)
    return render(request, "safety/analytics.html", {**context, "by": by})


@capability_required(REFERRALS)
def referrals(request: HttpRequest) -> HttpResponse:
    """Peer-review referrals (confidential: CMO and, later, the review committee)."""
    rows = list(m.Referral.objects.select_related("event", "practitioner"))
    log_events(request, "peer-review referrals", [r.event for r in rows])
    return render(request, "safety/referrals.html", {"rows": rows})
