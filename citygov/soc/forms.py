"""Forms of the SOC pages (validation of shape only; the services decide what is allowed)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from citygov.soc.engine.formats import FORMATS
from citygov.soc.engine.taxonomy import CATEGORIES, SEVERITIES
from citygov.soc.models import ActionStatus, CaseKind

MAX_UPLOAD = 200 << 20  # alert files up to 200 MB (streamed, never read into memory at once)


class FilterForm(forms.Form):
    """Filters of the analytics page and the alert list."""

    focus = forms.BooleanField(label=_("Medium and high only"), required=False)
    agency = forms.ModelChoiceField(label=_("Agency"), queryset=None, required=False)
    category = forms.ChoiceField(label=_("Category"), required=False,
                                 choices=[("", "—")] + [(k, v[0]) for k, v in CATEGORIES.items()])
    severity = forms.ChoiceField(label=_("Severity"), required=False,
                                 choices=[("", "—")] + [(k, v[0]) for k, v in SEVERITIES.items()])
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies


class ImportForm(forms.Form):
    """An alert file to import."""

    file = forms.FileField(label=_("Alert file"))
    input_format = forms.ChoiceField(label=_("Format"), choices=[(f, f) for f in FORMATS], initial="auto")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_("The file is larger than 200 MB; import it with the command line."))
        return upload


class TriageForm(forms.Form):
    """Acknowledge or dismiss (with a reason) an alert or its whole recurrence group."""

    verb = forms.ChoiceField(choices=[("acknowledge", _("Acknowledge")), ("dismiss", _("Dismiss as false positive"))])
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)
    whole_group = forms.BooleanField(label=_("All open alerts of this recurrence group"), required=False)


class EscalateForm(forms.Form):
    """Escalate an alert's recurrence group into a new case, or into an open case."""

    title = forms.CharField(label=_("Case title"), required=False, max_length=200)
    kind = forms.ChoiceField(label=_("Incident type"), choices=CaseKind.choices, initial=CaseKind.OTHER)
    case = forms.ModelChoiceField(label=_("Or add to case"), queryset=None, required=False)

    def __init__(self, *args, cases, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case"].queryset = cases


class CaseForm(forms.Form):
    """A new forensic case."""

    agency = forms.ModelChoiceField(label=_("Agency"), queryset=None)
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Incident type"), choices=CaseKind.choices)
    vendor = forms.CharField(label=_("Investigating vendor"), required=False, max_length=200)
    aware_at = forms.DateTimeField(label=_("Became aware at"), required=False,
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    scope = forms.CharField(label=_("Scope"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    findings = forms.CharField(label=_("Findings"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    root_cause = forms.CharField(label=_("Root cause"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    report_file = forms.FileField(label=_("Report file"), required=False)

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies


class ActionForm(forms.Form):
    """A recommendation of the report, as a follow-up action."""

    recommendation = forms.CharField(label=_("Recommendation"), widget=forms.Textarea(attrs={"rows": 2}))
    agency = forms.ModelChoiceField(label=_("Owning agency"), queryset=None)
    owner = forms.CharField(label=_("Owner"), required=False, max_length=120)
    due_date = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies


class ProgressForm(forms.Form):
    """The owning agency's progress report; "done" needs evidence."""

    status = forms.ChoiceField(label=_("Status"), choices=[(ActionStatus.IN_PROGRESS, ActionStatus.IN_PROGRESS.label),
                                                            (ActionStatus.DONE, _("Done"))])
    evidence_note = forms.CharField(label=_("Evidence of completion"), required=False,
                                    widget=forms.Textarea(attrs={"rows": 2}))
    evidence_file = forms.FileField(label=_("Evidence file"), required=False)


class VerifyForm(forms.Form):
    """The bureau's verification: accept, or return with a note."""

    accept = forms.TypedChoiceField(label=_("Decision"), coerce=lambda v: v == "yes",
                                    choices=[("yes", _("Verified")), ("no", _("Return to the agency"))])
    note = forms.CharField(label=_("Note"), required=False, max_length=1000)


class WaiveForm(forms.Form):
    """Waive an action, with the reason."""

    reason = forms.CharField(label=_("Reason for waiving"), max_length=1000)


class NetworkForm(forms.Form):
    """Assign an address range to an agency."""

    agency = forms.ModelChoiceField(label=_("Agency"), queryset=None)
    cidr = forms.CharField(label=_("Network (CIDR)"), max_length=50)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies


class IncidentForm(forms.Form):
    """A new incident (資安事件): the clocks start at the time the agency became aware of it."""

    agency = forms.ModelChoiceField(label=_("Agency"), queryset=None)
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Incident type"), choices=CaseKind.choices)
    level = forms.TypedChoiceField(label=_("Level"), coerce=int, choices=[(n, str(n)) for n in (1, 2, 3, 4)])
    aware_at = forms.DateTimeField(label=_("Became aware at"),
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies


MILESTONE_CHOICES = [("notify", _("Notified")), ("review", _("Level reviewed")),
                     ("recover", _("Damage control or recovery completed")),
                     ("report", _("Investigation and improvement report submitted"))]


class MilestoneForm(forms.Form):
    """Record when a milestone of an incident was met (empty: now)."""

    milestone = forms.ChoiceField(label=_("Milestone"), choices=MILESTONE_CHOICES)
    at = forms.DateTimeField(label=_("At"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class LevelForm(forms.Form):
    """Change an incident's level, with the reason."""

    level = forms.TypedChoiceField(label=_("Level"), coerce=int, choices=[(n, str(n)) for n in (1, 2, 3, 4)])
    reason = forms.CharField(label=_("Reason"), max_length=500)


class LinkAlertsForm(forms.Form):
    """Alert numbers to link to an incident (separated by commas or spaces)."""

    alerts = forms.CharField(label=_("Alert numbers"), max_length=2000)
    whole_group = forms.BooleanField(label=_("With their whole recurrence groups"), required=False)

    def clean_alerts(self) -> list[int]:
        raw = self.cleaned_data["alerts"].replace(",", " ").replace("，", " ").split()
        try:
            return sorted({int(part.lstrip("#")) for part in raw})
        except ValueError:
            raise forms.ValidationError(_("Alert numbers are whole numbers, e.g. 12, 15.")) from None


class LinkCaseForm(forms.Form):
    """Link an incident to an open forensic case, or open a new one for it."""

    case = forms.ModelChoiceField(label=_("Forensic case"), queryset=None, required=False,
                                  empty_label=_("Open a new forensic case"))

    def __init__(self, *args, cases, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case"].queryset = cases
