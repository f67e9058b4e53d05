"""Theme classification: the suggester's accuracy on the labelled Taoyuan set, the review workflow (nothing
applied until a steward accepts; corrections remembered), vocabularies, and no cross-agency decisions."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.datagov.engine import catalog, classify, vocabulary
from citygov.datagov.models import ClassificationSuggestion, Dataset, SuggestionStatus, VocabularyTerm
from citygov.datagov.services import (
    TermInput,
    do_import_catalog,
    do_review_suggestion,
    do_save_vocabulary_term,
    do_suggest_classification,
)
from citygov.datagov.tests.support import FULL, SAMPLE

LABELS = FULL.parent / "taoyuan_theme_labels.csv"
TERMS = [classify.Term(t.code, t.label_zh, t.keywords) for t in vocabulary.THEMES]


def _labelled() -> list[tuple[classify.Document, str]]:
    with LABELS.open(encoding="utf-8") as handle:
        labels = {row["編號"]: row["theme"] for row in csv.DictReader(handle)}
    with FULL.open("rb") as handle:
        entries = [entry for entry, _error in catalog.CatalogReader(handle) if entry is not None]
    return [(classify.Document(e.source_id, e.title, tuple(e.keywords), e.description,
                               tuple(f.name for f in e.fields)), labels[e.source_id])
            for e in entries if e.source_id in labels]


def test_suggester_accuracy_on_the_labelled_taoyuan_set():
    """70/30 split by identifier; the figures are recorded in docs/benchmarks.md."""
    data = _labelled()
    train = [d for d in data if int(d[0].key) % 10 < 7]
    test = [d for d in data if int(d[0].key) % 10 >= 7]
    assert (len(train), len(test)) == (955, 412)
    rules = classify.evaluate(train, test, TERMS, use_model=False)
    both = classify.evaluate(train, test, TERMS)
    assert (rules.top1, rules.top3, rules.no_suggestion) == (245, 325, 33)
    assert (both.top1, both.top3, both.no_suggestion) == (345, 400, 0)
    assert both.top1_accuracy > 0.83 and both.top3_accuracy > 0.97


def test_suggestion_says_why():
    doc = classify.Document("1", "桃園市公有停車場即時剩餘車位", ("停車場",), "各停車場剩餘車位數")
    best = classify.suggest(doc, TERMS)[0]
    assert best.code == "TRAN"
    assert "停車" in best.reason_zh and "標題" in best.reason_zh and "title" in best.reason
    assert all(s.code != "TRAN" for s in classify.suggest(doc, TERMS, exclude=frozenset({"TRAN"})))
    assert classify.suggest(classify.Document("2", "xyz"), TERMS) == ()


@pytest.fixture
def sample(reference_data, city_admin):
    """The 36-row Taoyuan sample (four 都市發展局 datasets): enough for the workflow, quick to import."""
    with SAMPLE.open("rb") as handle:
        return do_import_catalog(city_admin, handle, "sample.csv")


@pytest.fixture
def steward_land(make_user, sample):
    from citygov.agencies.models import Agency

    return make_user("steward-urban", Role.DATA_STEWARD, agencies=[Agency.objects.get(code="urban-dev")])


def test_review_applies_only_what_a_steward_accepts_and_remembers_corrections(sample, city_admin, steward_land):
    made = do_suggest_classification(city_admin)
    assert made == ClassificationSuggestion.objects.count() > 25 and Dataset.objects.exclude(theme="").count() == 0  # nothing applied yet
    assert do_suggest_classification(city_admin) == 0  # pending ones are not proposed twice
    mine = ClassificationSuggestion.objects.for_agency(steward_land).order_by("id")
    first, second, third = mine[0], mine[1], mine[2]
    other = ClassificationSuggestion.objects.exclude(dataset__agency__code="urban-dev").first()
    do_review_suggestion(steward_land, first.pk, "accept")
    other_code = "TOUR" if second.code != "TOUR" else "AGRI"
    do_review_suggestion(steward_land, second.pk, "correct", other_code)
    do_review_suggestion(steward_land, third.pk, "reject")
    assert Dataset.objects.get(pk=first.dataset_id).theme == first.code
    assert Dataset.objects.get(pk=second.dataset_id).theme == other_code
    assert Dataset.objects.get(pk=third.dataset_id).theme == ""
    assert ChangeLog.objects.filter(note="classification correct").count() == 1
    with pytest.raises(InvalidInput):
        do_review_suggestion(steward_land, first.pk, "reject")  # decided once
    with pytest.raises(InvalidInput):
        do_review_suggestion(steward_land, other.pk, "accept")  # another agency's dataset
    assert ClassificationSuggestion.objects.get(pk=other.pk).status == SuggestionStatus.PENDING
    with pytest.raises(InvalidInput):
        do_review_suggestion(city_admin, other.pk, "correct", "NOPE")
    # The rejected code is never proposed again for that dataset; the corrected dataset is training data.
    do_suggest_classification(city_admin)
    again = ClassificationSuggestion.objects.get(dataset_id=third.dataset_id, status=SuggestionStatus.PENDING)
    assert again.code != third.code
    assert not ClassificationSuggestion.objects.filter(dataset_id__in=[first.dataset_id, second.dataset_id],
                                                       status=SuggestionStatus.PENDING).exists()


def test_read_only_roles_vocabulary_command_and_api(sample, auditor, city_admin, api_client_for):
    with pytest.raises(Forbidden):
        do_suggest_classification(auditor)
    out = io.StringIO()
    call_command("datagov", "classify", "--user", "city-admin", "--axis", "scenario", stdout=out)
    made = int(out.getvalue().split()[0])
    assert made == ClassificationSuggestion.objects.filter(axis="scenario").count() > 0
    api = api_client_for(city_admin)
    listed = api.get("/api/datagov/suggestions/", {"axis": "scenario"}).json()
    assert listed["count"] == made
    first = listed["results"][0]
    decided = api.post(f"/api/datagov/suggestions/{first['id']}/decide/", {"decision": "accept"}, format="json")
    assert decided.status_code == 200 and decided.json()["status"] == "accepted"
    assert first["code"] in Dataset.objects.get(pk=first["dataset"]).scenarios
    denied = api_client_for(auditor).post(f"/api/datagov/suggestions/{listed['results'][1]['id']}/decide/",
                                          {"decision": "reject"}, format="json")
    assert denied.status_code == 403
    assert api.get("/api/datagov/vocabulary/", {"axis": "theme"}).json()["count"] == len(vocabulary.THEMES)
    assert VocabularyTerm.objects.filter(axis="theme").count() == len(vocabulary.THEMES)
    term = do_save_vocabulary_term(city_admin, TermInput("scenario", "smart_city", "智慧城市", "Smart city",
                                                         ("智慧", "物聯網")))
    assert (term.code, term.keywords) == ("SMART_CITY", ["智慧", "物聯網"])
    with pytest.raises(InvalidInput):
        do_save_vocabulary_term(city_admin, TermInput("scenario", "壞", ""))
    with pytest.raises(Forbidden):
        do_save_vocabulary_term(auditor, TermInput("scenario", "X", "X"))


def test_review_page_and_layer_browser(sample, city_admin, steward_land, client_for):
    do_suggest_classification(city_admin)
    client = client_for(steward_land)
    html = client.get(reverse("datagov:classification")).content.decode()
    suggestion = ClassificationSuggestion.objects.for_agency(steward_land).order_by("-score", "id").first()
    assert suggestion.dataset.title in html and suggestion.reason_zh.split("；")[0] in html
    other = ClassificationSuggestion.objects.exclude(dataset__agency__code="urban-dev").order_by("-score").first()
    assert other.dataset.title not in html
    response = client.post(reverse("datagov:classification_decide", args=[suggestion.pk]),
                           {"decision": "correct", "code": "TOUR"})
    assert response.status_code == 302
    assert Dataset.objects.get(pk=suggestion.dataset_id).theme == "TOUR"
    Dataset.objects.filter(pk=suggestion.dataset_id).update(spatial=True)
    html = client.get(reverse("datagov:layers"), {"theme": "TOUR"}).content.decode()
    assert suggestion.dataset.title in html
