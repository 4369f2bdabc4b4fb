from __future__ import annotations

from cmo.web.registry import Domain, DomainConfig, NavItem
from cmo.web.roles import ROLES

# Capabilities (Django permissions of this app, declared on safety.Capability).
REPORT = "report_event"
TRIAGE = "triage_events"
DEPARTMENT = "view_department_events"
INVESTIGATE = "investigate_events"
ANALYTICS = "view_safety_analytics"
REFERRALS = "view_referrals"

# Every role reports (issue 17: "every role, including clinician").
GRANTS: dict[str, tuple[str, ...]] = {role: (REPORT,) for role in ROLES}
GRANTS["safety_officer"] = (REPORT, TRIAGE, INVESTIGATE, ANALYTICS)
# Peer-review referrals are confidential: the CMO (and the review committee, when that
# module lands) read them; the safety officer routes an event there but does not read them.
GRANTS["cmo"] = (REPORT, TRIAGE, INVESTIGATE, ANALYTICS, REFERRALS)
GRANTS["department_chair"] = (REPORT, DEPARTMENT, ANALYTICS)
GRANTS["quality_analyst"] = (REPORT, ANALYTICS)
GRANTS["board_member"] = (REPORT, ANALYTICS)


class SafetyConfig(DomainConfig):
    # Django picks an apps.py's config automatically only when it is the one AppConfig subclass
    # there; the imported DomainConfig is another, so this one says it is the default.
    default = True
    name = "cmo.safety"
    label = "safety"
    verbose_name = "Patient safety"
    domain = Domain(
        name="safety",
        title="Patient safety",
        urls="cmo.safety.urls",
        api="cmo.safety.api:router",
        nav=(
            NavItem("Report event", "safety:report", f"safety.{REPORT}", order=50),
            NavItem("Safety queue", "safety:queue", f"safety.{TRIAGE}", order=51),
            NavItem("Safety analytics", "safety:analytics", f"safety.{ANALYTICS}", order=52),
        ),
        capabilities=(
            (REPORT, "Report a patient safety event and see one's own reports"),
            (TRIAGE, "See every safety event; triage, classify, route, merge and close"),
            (DEPARTMENT, "See the safety events of one's own departments"),
            (INVESTIGATE, "Run RCA² investigations and action plans"),
            (ANALYTICS, "See de-identified safety event rates"),
            (REFERRALS, "See peer-review referrals from safety events"),
        ),
        grants=GRANTS,
        landing={"safety_officer": "safety:queue"},
        demo="cmo.safety.demo:seed",
        tiles="cmo.safety.tiles:tiles",
        sync="cmo.safety.sync:apply_payload",
        # De-identified events for the board and the builds (no reporter, patient or
        # practitioner): app__safety_event.
        export_tables={"event": "cmo.safety.analytics:event_table"},
        order=40,
    )
