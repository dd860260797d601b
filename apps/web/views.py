"""Web trading UI: server-rendered shell pages; data comes from the /v2 API and /ws/stream.

The pages hold no trading logic: the browser calls the same REST endpoints as the mobile app
(with the session cookie and CSRF token) and listens on the same WebSocket.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from apps.accounts.selectors import account_for_user


@login_required
@ensure_csrf_cookie
def trade(request: HttpRequest) -> HttpResponse:
    account = account_for_user(user=request.user)  # type: ignore[arg-type]
    return render(request, "web/trade.html", {"account": account})


@login_required
@ensure_csrf_cookie
def api_keys(request: HttpRequest) -> HttpResponse:
    return render(request, "web/api_keys.html", {})
