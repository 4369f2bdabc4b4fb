"""Run in a child process with the throwaway settings: prints what the shell made of the app."""

import json

import cmo.web

cmo.web.migrate()
from django.contrib.auth.models import Group, User  # noqa: E402
from django.test import Client  # noqa: E402

out = {}
for role in ("cmo", "keeper", "clinician"):
    user = User.objects.create(username=f"p_{role}")
    user.groups.set([Group.objects.get(name=role)])
    client = Client()
    client.force_login(user)
    page = client.get("/throwaway/")
    home = client.get("/")
    api = client.get("/api/throwaway/ping")
    out[role] = {
        "page": page.status_code,
        "page_text": page.content.decode(),
        "home": home.get("Location"),
        "api": api.status_code,
        "api_json": api.json() if api.status_code == 200 else None,
    }
    if role == "cmo":
        out["openapi_paths"] = sorted(client.get("/api/openapi.json").json()["paths"])
out["anonymous_page"] = Client().get("/throwaway/").status_code
print(json.dumps(out))
