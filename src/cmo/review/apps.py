from __future__ import annotations

from cmo.web.registry import Domain, DomainConfig, NavItem

# Capabilities: the permissions of this app (``review.<codename>``).
VIEW_OPPE = "review.view_oppe"
DECIDE_OPPE = "review.decide_oppe"
VIEW_FPPE = "review.view_fppe"
DECIDE_FPPE = "review.decide_fppe"
PEER_REVIEW = "review.peer_review"
COMMITTEE = "peer_review_committee"

CAPABILITIES = (
    ("view_oppe", "See OPPE profiles, completion and practitioner timelines (views logged)"),
    ("decide_oppe", "Sign a practitioner's OPPE decision (department chair, CMO)"),
    ("view_fppe", "See FPPE proposals and plans"),
    ("decide_fppe", "Accept or decline an FPPE proposal, record progress and the outcome"),
    ("peer_review", "See and work confidential peer-review cases (committee and CMO only)"),
)

GRANTS: dict[str, tuple[str, ...]] = {
    "cmo": ("view_oppe", "decide_oppe", "view_fppe", "decide_fppe", "peer_review"),
    # A chair's pages are limited to their departments (cmo.web.scope); no peer review.
    "department_chair": ("view_oppe", "decide_oppe", "view_fppe", "decide_fppe"),
    "medical_staff_office": ("view_oppe", "view_fppe"),
    "credentials_committee": ("view_oppe", "view_fppe"),
    # Peer review is confidential (state peer-review privilege): the committee and the CMO.
    COMMITTEE: ("view_oppe", "view_fppe", "peer_review"),
}


class ReviewConfig(DomainConfig):
    default = True
    name = "cmo.review"
    label = "review"
    verbose_name = "Practitioner review"
    domain = Domain(
        name="review",
        title="Practitioner review",
        urls="cmo.review.urls",
        api="cmo.review.api:router",
        nav=(
            NavItem("OPPE", "review:oppe", permission=VIEW_OPPE, order=60),
            NavItem("FPPE", "review:fppe_list", permission=VIEW_FPPE, order=61),
            NavItem("Peer review", "review:cases", permission=PEER_REVIEW, order=62),
        ),
        capabilities=CAPABILITIES,
        grants=GRANTS,
        roles={COMMITTEE: "Peer-review committee"},
        landing={COMMITTEE: "review:cases"},
        demo="cmo.review.demo:seed",
        order=45,  # after staff (30) and safety (40): its demo reads theirs
    )
