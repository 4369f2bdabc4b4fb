from typing import Any

from ninja import Router

from cmo.web.access import require

router = Router(tags=["throwaway"])


@router.get("/ping", summary="Ping the things")
def ping(request: Any) -> dict[str, str]:
    require(request, "throwaway.view_thing")
    return {"thing": "pong"}
