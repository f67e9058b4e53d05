"""Core pages: sign-in/out, the dashboard, the change log and the error pages."""

from __future__ import annotations

from django import forms
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from citygov.core.auth import is_locked_out, record_login, record_logout


class LoginForm(AuthenticationForm):
    """Sign-in form that tells a locked-out user so, instead of a generic failure."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "Too many failed sign-ins: this account is locked for a while. Try again later or ask an administrator."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and is_locked_out(username):
            # Still run authenticate so the attempt is logged, but answer with the lock-out message.
            try:
                super().clean()
            except forms.ValidationError:
                pass
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        return super().clean()


class LoginView(auth_views.LoginView):
    """Sign in and record it in the change log."""

    form_class = LoginForm
    template_name = "core/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        record_login(form.get_user(), self.request)
        return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out (POST only, CSRF-protected) and record it."""
    if request.user.is_authenticated:
        record_logout(request.user, request)
    auth.logout(request)
    messages.info(request, _("You have signed out."))
    return redirect("core:login")


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database check for load balancers (no data, no login)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def dashboard(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def changelog(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
