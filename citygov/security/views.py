"""Security pages: the posture overview per agency and an agency's software to work through."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citygov.agencies.models import Agency
from citygov.core.errors import ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability
from citygov.core.scoping import can_reach_agency
from citygov.security import queries
from citygov.security.models import Device
from citygov.security.services import do_map_software

# What each security capability lets a user do, shown on the overview (the role decides who holds which).
CAPABILITY_LABELS = {
    Capability.VIEW_SECURITY: gettext_lazy("View IT assets, software identification and vulnerabilities"),
    Capability.MANAGE_SECURITY: gettext_lazy("Import inventories and map software to CPEs"),
}


# Signed in (else the sign-in page) and holding ``VIEW_SECURITY`` (else 403).
security_page = capability_page(Capability.VIEW_SECURITY)


class MappingForm(forms.Form):
    """An analyst's mapping of a software name to an NVD vendor:product."""

    display_name = forms.CharField(label=gettext_lazy("Software name"), max_length=300)
    vendor = forms.CharField(label=gettext_lazy("NVD vendor"), max_length=120)
    product = forms.CharField(label=gettext_lazy("NVD product"), max_length=160)


@security_page
def overview(request: HttpRequest) -> HttpResponse:
    """Per agency: devices, VANS/EDR coverage, identification rate and vulnerable devices."""
    postures = queries.agency_postures(request.user)
    named, total = queries.identification_totals(request.user)
    context = {
        "postures": postures,
        "named": named,
        "total": total,
        "rate": named / total if total else None,
        "levels": queries.coverage_by_level(request.user),
        "devices": sum(p.devices for p in postures),
        "edr": sum(p.edr for p in postures),
        "vans": sum(p.vans for p in postures),
        "abilities": [label for capability, label in CAPABILITY_LABELS.items()
                      if request.user.has_capability(capability) and not (
                          request.user.is_read_only and capability == Capability.MANAGE_SECURITY)],
    }
    return render(request, "security/overview.html", context)


@security_page
def agency_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One agency: the unidentified software names to work through and its devices."""
    agency = Agency.objects.filter(pk=pk).first()
    if agency is None or not can_reach_agency(request.user, agency.pk):
        raise Http404
    user = request.user
    can_map = not user.is_read_only and user.has_capability(Capability.MANAGE_SECURITY)
    form = MappingForm(request.POST or None) if can_map else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                updated = do_map_software(user, **form.cleaned_data)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Mapping saved: %(count)d installed programs re-identified.")
                                 % {"count": updated})
                return redirect("security:agency", pk=agency.pk)
    devices = Device.objects.for_agency(user).filter(agency=agency).order_by("hostname")[:500]
    context = {"agency": agency, "names": queries.unidentified_names(user, agency.pk), "devices": devices,
               "form": form}
    return render(request, "security/agency.html", context)
