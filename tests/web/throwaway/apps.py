from cmo.web.registry import Domain, DomainConfig, NavItem


class ThrowawayConfig(DomainConfig):
    name = "throwaway"
    label = "throwaway"
    domain = Domain(
        name="throwaway",
        title="Throwaway",
        urls="throwaway.urls",
        api="throwaway.api:router",
        nav=(NavItem("Throwaway things", "throwaway:index", permission="throwaway.view_thing"),),
        capabilities=(("view_thing", "See the throwaway things"),),
        grants={"cmo": ("view_thing",), "keeper": ("view_thing",)},
        roles={"keeper": "Keeper of things"},
        landing={"keeper": "throwaway:index"},
    )
