"""The quality domain: outcome measures' dashboard, measure pages, patient drill-down, API."""

from __future__ import annotations

from cmo.web.registry import Domain, DomainConfig, NavItem

# Capabilities of the quality app, as ``has_perm`` strings ("quality.<codename>").
DASHBOARD = "quality.view_dashboard"
PRACTITIONERS = "quality.view_practitioners"
PATIENTS = "quality.view_patients"
OWN_RESULTS = "quality.view_own_results"
SET_TARGETS = "quality.set_targets"

_ALL = ("view_dashboard", "view_practitioners", "view_patients")


class QualityConfig(DomainConfig):
    name = "cmo.quality"
    label = "quality"
    verbose_name = "Quality and outcomes"
    domain = Domain(
        name="quality",
        title="Quality and outcomes",
        urls="cmo.quality.urls",
        api="cmo.quality.api:router",
        nav=(NavItem("Dashboard", "quality:dashboard", permission=DASHBOARD, order=10),),
        capabilities=(
            ("view_dashboard", "See aggregate measure results (dashboard, measure pages, API)"),
            ("view_practitioners", "See practitioners named in funnel plots and tables"),
            ("view_patients", "See patient-level rows (drill-down, long-rows API)"),
            ("view_own_results", "See one's own practitioner page (linked in the directory)"),
            ("set_targets", "Set the measures' targets (value and source)"),
        ),
        grants={
            "cmo": (*_ALL, "set_targets"),
            "quality_analyst": _ALL,
            "medical_staff_office": ("view_dashboard", "view_practitioners"),
            "department_chair": _ALL,
            "safety_officer": ("view_dashboard", "view_patients"),
            "clinician": ("view_dashboard", "view_own_results"),
            "board_member": ("view_dashboard",),
        },
        # The board member lands on the published board report (cmo.board, issue 19).
        landing={
            **{role: "quality:dashboard" for role in ("cmo", "quality_analyst", "clinician")},
            # A chair lands on their department (issue 14).
            "department_chair": "quality:my_department",
        },
        warm="cmo.quality.views:warm",
        tiles="cmo.quality.tiles:tiles",
        order=20,
    )
