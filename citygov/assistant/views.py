"""Assistant pages: the public chat page and widget demo, and the analytics page for staff.

The chat page works without JavaScript (a CSRF-protected form posting to itself); with JavaScript the
vendored widget script takes over and talks to the public API. The analytics page needs the
``assistant.view`` capability.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from citygov.assistant import queries, services, serving
from citygov.assistant.api.views import AssistantRateThrottle, reply_payload
from citygov.assistant.models import EntryStatus, FaqEntry, SynonymList
from citygov.core.errors import Forbidden, ServiceError
from citygov.core.pages import capability_page
from citygov.core.roles import Capability


class AskForm(forms.Form):
    """The no-JavaScript chat form."""

    question = forms.CharField(label=_("Your question"), max_length=services.MAX_QUESTION)
    conversation = forms.CharField(required=False, widget=forms.HiddenInput)


# Signed in (else the sign-in page) and holding ``VIEW_ASSISTANT`` (else 403).
assistant_page = capability_page(Capability.VIEW_ASSISTANT)


@require_http_methods(["GET", "POST"])
def chat(request: HttpRequest) -> HttpResponse:
    """Full-page chat (public)."""
    form = AskForm(request.POST or None)
    reply = None
    error = None
    if request.method == "POST" and not AssistantRateThrottle().allow_request(request, None):
        # the same per-client limit as the API: the form is just another way in
        response = render(request, "assistant/chat.html", {
            "form": form, "reply": None, "error": gettext("Too many questions: please wait a minute.")})
        response.status_code = 429
        return response
    if request.method == "POST" and form.is_valid():
        try:
            result = services.do_ask(form.cleaned_data["question"], form.cleaned_data["conversation"] or None, "page")
        except ServiceError as exc:
            error = exc.message
        else:
            reply = reply_payload(result)
            form = AskForm(initial={"conversation": reply["conversation"]})
    return render(request, "assistant/chat.html", {"form": form, "reply": reply, "error": error})


def widget_demo(request: HttpRequest) -> HttpResponse:
    """A sample city page embedding the widget the way any city site would (public)."""
    return render(request, "assistant/widget_demo.html")


@assistant_page
def analytics(request: HttpRequest) -> HttpResponse:
    """Consultations per day and category, decision rates, feedback and the top unanswered questions."""
    loaded = serving.current()
    return render(request, "assistant/analytics.html", {
        "rates": queries.rates(), "days": queries.per_day(), "categories": queries.per_category(),
        "unanswered": queries.top_unanswered(), "bank": loaded,
        "bank_entries": len(loaded.index.entries),
    })


@assistant_page
def bank(request: HttpRequest) -> HttpResponse:
    """The FAQ bank: entries the user reaches, and import batches awaiting a second person's review."""
    entries = FaqEntry.objects.for_agency(request.user)
    status = request.GET.get("status") or ""
    if status in EntryStatus.values:
        entries = entries.filter(status=status)
    search = (request.GET.get("q") or "").strip()
    if search:
        entries = entries.filter(question__icontains=search)
    page = Paginator(entries.order_by("faq_id"), 50).get_page(request.GET.get("page"))
    return render(request, "assistant/bank.html", {
        "page": page, "status": status, "q": search,
        "statuses": [(value, label, FaqEntry.objects.for_agency(request.user).filter(status=value).count())
                     for value, label in EntryStatus.choices],
        "batches": queries.pending_batches(request.user),
        "can_manage": request.user.has_capability(Capability.MANAGE_ASSISTANT) and not request.user.is_read_only,
    })


@assistant_page
@require_POST
def review_batch(request: HttpRequest) -> HttpResponse:
    """Approve or reject one import batch (a second person: not the one who imported it)."""
    batch = request.POST.get("batch", "")
    approve = request.POST.get("decision") == "approve"
    try:
        count = services.do_review_batch(request.user, batch, approve)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, (gettext("%(n)d versions approved and published.") if approve
                                   else gettext("%(n)d versions rejected.")) % {"n": count})
    return redirect("assistant:bank")


@assistant_page
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Download the entries the user reaches as CSV or JSONL (the import format)."""
    if not request.user.has_capability(Capability.EXPORT) and not request.user.has_capability(
            Capability.MANAGE_ASSISTANT):
        raise PermissionDenied
    response = HttpResponse(content_type="text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="faq-bank.{fmt}"'
    queries.write_export(request.user, response, fmt)
    return response


class SynonymForm(forms.Form):
    """The whole synonym list as text, one ``term = alias, alias`` line per term."""

    text = forms.CharField(label=_("Synonym list"), widget=forms.Textarea(attrs={"rows": 24, "cols": 80}),
                           max_length=services.MAX_SYNONYM_TEXT,
                           help_text=_("One line per term: term = alias, alias. Lines starting with # are comments."))
    note = forms.CharField(label=_("Reason for the change"), max_length=200, required=False)


@assistant_page
@require_http_methods(["GET", "POST"])
def synonyms(request: HttpRequest) -> HttpResponse:
    """The synonym list in force and its versions; city administrators edit it (a new version each save)."""
    can_edit = request.user.is_city_wide and not request.user.is_read_only \
        and request.user.has_capability(Capability.MANAGE_ASSISTANT)
    current = SynonymList.objects.order_by("-number").first()
    text = current.text if current else serving.synonyms_file().read_text(encoding="utf-8")
    form = SynonymForm(request.POST or None, initial={"text": text})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                row = services.do_save_synonyms(request.user, form.cleaned_data["text"], form.cleaned_data["note"])
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ServiceError as exc:
                form.add_error("text", exc.message)
            else:
                if row is None:
                    messages.info(request, gettext("The synonym list is unchanged."))
                else:
                    messages.success(request, gettext("Synonym list version %(n)d saved; the assistant uses it "
                                                      "from the next question.") % {"n": row.number})
                return redirect("assistant:synonyms")
    return render(request, "assistant/synonyms.html", {
        "form": form, "can_edit": can_edit, "current": current, "text": text,
        "versions": SynonymList.objects.select_related("author").order_by("-number")[:50],
    })
