"""Exchange pages: the registry as the user's agency sees it (members, services, consumers, rights it
holds, pending and expired sharing grants), traffic statistics per service with a chart, a search of
transfer records by X-Road-Id, and a service's page with its OpenAPI description and consumers.

Every page needs ``exchange.view``; rows are read through ``for_agency(user)`` (see ``queries``), so
another agency's service is a 404. City administrators grant access from a service's page through
``services.do_grant_access``.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citygov.core.errors import Forbidden, InvalidInput, ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability
from citygov.exchange import queries, services
from citygov.exchange.models import INSTANCE, Subsystem

# Signed in (else the sign-in page) and holding ``VIEW_EXCHANGE`` (else 403).
exchange_page = capability_page(Capability.VIEW_EXCHANGE)


def _can_manage(user) -> bool:
    return not user.is_read_only and user.has_capability(Capability.MANAGE_EXCHANGE)


def _right_state(right, now) -> str:
    if right.not_after is not None and right.not_after <= now:
        return "expired"
    if right.grant_dataset is not None and not services.sharing_grant_is_current(right, now=now):
        return "not_current"  # data governance reports no current grant (pending, rejected or ended)
    return "permanent" if right.not_after is None else "current"


@exchange_page
def overview(request: HttpRequest) -> HttpResponse:
    """The registry, the traffic statistics and the X-Road-Id search."""
    user, now = request.user, timezone.now()
    rights = list(queries.access_rights_for(user))
    own = user.visible_agency_ids()
    consumers = [r for r in rights if own is None or r.service.subsystem.member.agency_id in own]
    held = [r for r in rights if own is not None and r.client.member.agency_id in own]
    stats = queries.traffic_stats(user, now=now)
    query = request.GET.get("x_road_id", "").strip()[:100]
    sides = {"provider": _("provider side"), "consumer": _("consumer side")}
    # Short labels (member/service) keep the axis readable; the table below has the full identifiers.
    chart = {"services": [f"{'/'.join(s.service.split('/')[2::2])} ({sides.get(s.side, s.side)})" for s in stats], "count": [s.count for s in stats],
             "errors": [s.errors for s in stats], "p50": [s.p50_ms for s in stats], "p95": [s.p95_ms for s in stats]}
    return render(request, "exchange/overview.html", {
        "instance": INSTANCE,
        "members": queries.members_for(user),
        "services": queries.services_for(user),
        "consumers": [(r, _right_state(r, now)) for r in consumers],
        "held": [(r, _right_state(r, now)) for r in held],
        "stats": stats,
        "chart": json.dumps(chart),
        "query": query,
        "found": list(queries.find_transfers(user, query)[:50]) if query else None,
        "can_manage": _can_manage(user),
        "pending": queries.pending_sharing_grants(user),
    })


class GrantForm(forms.Form):
    """Grant a client subsystem access to this service."""

    client = forms.ModelChoiceField(label=gettext_lazy("Client subsystem"), queryset=Subsystem.objects.none())
    not_after = forms.DateTimeField(label=gettext_lazy("Valid until (sharing grant end)"), required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    grant_ref = forms.CharField(label=gettext_lazy("Sharing grant reference"), required=False, max_length=100)
    grant_dataset = forms.IntegerField(label=gettext_lazy("Data-governance dataset id (grant checked live)"),
                                       required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Subsystem.objects.select_related("member").order_by("member__code", "code")
        self.fields["client"].label_from_instance = lambda sub: sub.identifier


@exchange_page
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One service: its OpenAPI paths, consumers (access rights) and traffic."""
    return _service_page(request, get_object_or_404(queries.services_for(request.user), pk=pk))


def _service_page(request: HttpRequest, service, form: GrantForm | None = None) -> HttpResponse:
    now = timezone.now()
    rights = [(r, _right_state(r, now)) for r in service.access_rights.select_related("client__member")]
    paths = sorted((path, sorted(k.upper() for k in ops if isinstance(ops, dict)))
                   for path, ops in (service.openapi.get("paths") or {}).items())
    stats = [s for s in queries.traffic_stats(request.user, now=now) if s.service == service.identifier]
    return render(request, "exchange/service_detail.html", {
        "service": service, "rights": rights, "paths": paths, "stats": stats,
        "openapi": json.dumps(service.openapi, ensure_ascii=False, indent=2),
        "form": form or (GrantForm() if _can_manage(request.user) else None),
    }, status=400 if form is not None else 200)


@exchange_page
@require_POST
def service_grant(request: HttpRequest, pk: int) -> HttpResponse:
    """Grant access to a service (city administrators)."""
    if not _can_manage(request.user):
        raise PermissionDenied
    service = get_object_or_404(queries.services_for(request.user), pk=pk)
    form = GrantForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.do_grant_access(request.user, service.pk, data["client"].pk, not_after=data["not_after"],
                                     grant_ref=data["grant_ref"], grant_dataset=data["grant_dataset"])
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Access granted."))
            return redirect("exchange:service_detail", pk=service.pk)
    return _service_page(request, service, form)


# --- registry management (city administrators) ----------------------------------------------------------

class MemberForm(forms.Form):
    """Register an agency as a member."""

    agency = forms.ModelChoiceField(label=gettext_lazy("Agency"), queryset=None)
    member_class = forms.ChoiceField(label=gettext_lazy("Member class"), choices=())
    code = forms.CharField(label=gettext_lazy("Member code"), max_length=64)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)

    def __init__(self, *args, **kwargs):
        from citygov.agencies.models import Agency
        from citygov.exchange.models import MEMBER_CLASSES

        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.filter(is_active=True).order_by("code")
        self.fields["member_class"].choices = [(c, c) for c in MEMBER_CLASSES]


class SubsystemForm(forms.Form):
    """Add a subsystem to a member."""

    member = forms.ModelChoiceField(label=gettext_lazy("Member"), queryset=None)
    code = forms.CharField(label=gettext_lazy("Subsystem code"), max_length=64)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        from citygov.exchange.models import Member

        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = Member.objects.order_by("code")
        self.fields["member"].label_from_instance = lambda m: m.identifier


class ServiceForm(forms.Form):
    """Add a service, with its OpenAPI 3 description (JSON), to a subsystem."""

    subsystem = forms.ModelChoiceField(label=gettext_lazy("Subsystem"), queryset=None)
    code = forms.CharField(label=gettext_lazy("Service code"), max_length=64)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    openapi = forms.CharField(label=gettext_lazy("OpenAPI 3 description (JSON)"), widget=forms.Textarea(attrs={"rows": 6}),
                              max_length=200_000)
    store_payloads = forms.BooleanField(label=gettext_lazy("Store payloads (encrypted) in the message log"),
                                        required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subsystem"].queryset = Subsystem.objects.select_related("member").order_by("member__code", "code")
        self.fields["subsystem"].label_from_instance = lambda s: s.identifier

    def clean_openapi(self) -> dict:
        try:
            value = json.loads(self.cleaned_data["openapi"])
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The description must be an OpenAPI 3 document."))
        return value


class GatewayForm(forms.Form):
    """Register a member's gateway with its TLS certificate (issued by the city CA)."""

    member = forms.ModelChoiceField(label=gettext_lazy("Member"), queryset=None)
    address = forms.CharField(label=gettext_lazy("Address (host:port)"), max_length=200)
    cert_pem = forms.CharField(label=gettext_lazy("TLS certificate (PEM)"), widget=forms.Textarea(attrs={"rows": 6}),
                               max_length=20_000)

    def __init__(self, *args, **kwargs):
        from citygov.exchange.models import Member

        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = Member.objects.order_by("code")
        self.fields["member"].label_from_instance = lambda m: m.identifier


class RevokeForm(forms.Form):
    """Revoke a gateway certificate."""

    serial = forms.CharField(label=gettext_lazy("Certificate serial (hex)"), max_length=64)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200, required=False)


MANAGE_FORMS = {"member": MemberForm, "subsystem": SubsystemForm, "service": ServiceForm, "gateway": GatewayForm,
                "revoke": RevokeForm}


def _apply(user, kind: str, data: dict) -> str:
    """Call the one service behind a management form; returns the confirmation message."""
    if kind == "member":
        member = services.do_register_member(user, agency_id=data["agency"].pk, code=data["code"], name=data["name"],
                                             member_class=data["member_class"])
        return _("Member %(id)s registered.") % {"id": member.identifier}
    if kind == "subsystem":
        sub = services.do_add_subsystem(user, data["member"].pk, code=data["code"], name=data["name"])
        return _("Subsystem %(id)s added.") % {"id": sub.identifier}
    if kind == "service":
        service = services.do_add_service(user, data["subsystem"].pk, services.ServiceInput(
            data["code"], data["title"], data["openapi"], data["store_payloads"]))
        return _("Service %(id)s added.") % {"id": service.identifier}
    if kind == "gateway":
        from pathlib import Path

        from django.conf import settings

        try:
            ca_pem = (Path(settings.VAR_DIR) / "exchange" / "ca" / "ca.pem").read_bytes()
        except OSError as exc:
            raise InvalidInput(_("The city CA is not set up: run `citygov exchange ca-init`.")) from exc
        gateway = services.do_register_gateway(user, data["member"].pk, address=data["address"],
                                               cert_pem=data["cert_pem"].strip() + "\n", ca_cert_pem=ca_pem)
        return _("Gateway %(address)s registered.") % {"address": gateway.address}
    row = services.do_revoke_certificate(user, data["serial"], reason=data["reason"])
    return _("Certificate %(serial)s revoked; it is refused from the next published configuration.") % {
        "serial": row.serial}


@exchange_page
def manage(request: HttpRequest) -> HttpResponse:
    """Registry management: members, subsystems, services, gateways, revocations (city administrators)."""
    if not _can_manage(request.user):
        raise PermissionDenied
    forms_ = {kind: cls(prefix=kind) for kind, cls in MANAGE_FORMS.items()}
    status = 200
    if request.method == "POST":
        kind = request.POST.get("form", "")
        if kind not in MANAGE_FORMS:
            status = 400
        else:
            form = MANAGE_FORMS[kind](request.POST, prefix=kind)
            forms_[kind] = form
            if form.is_valid():
                try:
                    message = _apply(request.user, kind, form.cleaned_data)
                except Forbidden as exc:
                    raise PermissionDenied(exc.message) from exc
                except ServiceError as exc:
                    form.add_error(None, exc.message)
                    for name, errors in exc.fields.items():
                        if name in form.fields:
                            for error in errors:
                                form.add_error(name, str(error))
                else:
                    messages.success(request, message)
                    return redirect("exchange:manage")
            status = 400
    return render(request, "exchange/manage.html", {"forms": forms_}, status=status)
