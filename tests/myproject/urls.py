"""The project's views: who Django thinks the user is, a form target, a health check."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path


def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "username": request.user.get_username(),
            "authenticated": request.user.is_authenticated,
            "login": request.META.get("REMOTE_USER"),
            "profile": request.META.get("oauth_middleware.user"),
        }
    )


def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"posted": request.POST.get("text")})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("me/", me), path("echo/", echo), path("healthz", healthz)]
