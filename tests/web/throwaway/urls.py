from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from cmo.web.access import capability_required

app_name = "throwaway"


@capability_required("throwaway.view_thing")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/no_results.html", {"title": "Things", "message": "thing-page"})


urlpatterns = [path("", index, name="index")]
