"""Give every web request an id (the client's ``X-Request-ID`` when it sends a plain one) that the audit events
written while serving it carry, and send it back in the response's ``X-Request-ID``."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.audit.context import request_id, request_id_reset, request_id_set


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_id_set(request.headers.get("X-Request-ID"))
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id()
            return response
        finally:
            request_id_reset(token)
