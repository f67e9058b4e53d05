"""Page access shared by every app: signed in, and holding the capability the page needs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def capability_page(capability: str) -> Callable:
    """A view decorator: the sign-in page when signed out, 403 without ``capability``."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_capability(capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
