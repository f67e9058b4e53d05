import json
from dataclasses import replace

from citygov.security.engine.bundle import from_compact, load_vulns, to_compact
from citygov.security.engine.cpe import Cpe
from citygov.security.engine.matching import VulnIndex, configuration_matches, criterion_matches, severity
from citygov.security.engine.nvd import Configuration, MatchCriterion, Node, iter_cve_records
from citygov.security.tests.support import DATA


def sample_index():
    return VulnIndex(iter_cve_records(json.loads((DATA / "nvd_cve_api2_samples.json").read_text())))


def test_winrar_before_623_is_vulnerable():
    index = sample_index()
    assert [h.cve_id for h in index.match(Cpe(vendor="rarlab", product="winrar", version="6.22"))] == ["CVE-2023-38831"]
    assert index.match(Cpe(vendor="rarlab", product="winrar", version="6.23")) == []
    assert index.match(Cpe(vendor="rarlab", product="winrar", version="7.13")) == []


def test_range_applies_only_when_criteria_version_is_any():
    pinned = MatchCriterion("cpe:2.3:a:v:p:1.0:*:*:*:*:*:*:*", end_excluding="9.0")
    assert criterion_matches(pinned, Cpe(vendor="v", product="p", version="1.0")) is True
    assert criterion_matches(pinned, Cpe(vendor="v", product="p", version="2.0")) is False
    ranged = MatchCriterion("cpe:2.3:a:v:p:*:*:*:*:*:*:*:*", start_including="2.0", end_including="2.4.1")
    assert criterion_matches(ranged, Cpe(vendor="v", product="p", version="2.4.1")) is True
    assert criterion_matches(ranged, Cpe(vendor="v", product="p", version="2.4.2")) is False
    assert criterion_matches(ranged, Cpe(vendor="v", product="p", version="1.9")) is False


def test_unknown_version_only_matches_unbounded_criteria():
    assert criterion_matches(MatchCriterion("cpe:2.3:a:v:p:*"), Cpe(vendor="v", product="p")) is True
    assert criterion_matches(MatchCriterion("cpe:2.3:a:v:p:*", end_excluding="2"), Cpe(vendor="v", product="p")) is False


def test_update_field_must_agree():
    criterion = MatchCriterion("cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*")
    assert criterion_matches(criterion, Cpe(vendor="openbsd", product="openssh", version="9.2", update="p1")) is True
    assert criterion_matches(criterion, Cpe(vendor="openbsd", product="openssh", version="9.2", update="p2")) is False


def test_and_configuration_needs_every_vulnerable_node_and_assumes_platforms():
    app = Node(criteria=(MatchCriterion("cpe:2.3:a:v:app:*", end_excluding="3.0"),))
    platform = Node(criteria=(MatchCriterion("cpe:2.3:o:microsoft:windows:-", vulnerable=False),))
    configuration = Configuration(operator="AND", nodes=(app, platform))
    assert configuration_matches(configuration, Cpe(vendor="v", product="app", version="2.9")) is True
    assert configuration_matches(configuration, Cpe(vendor="v", product="app", version="3.0")) is False
    platform_only = Configuration(nodes=(platform,))
    assert configuration_matches(platform_only, Cpe(part="o", vendor="microsoft", product="windows", version="-")) is False


def test_negated_node():
    node = Node(negate=True, criteria=(MatchCriterion("cpe:2.3:a:v:p:1.0"),))
    assert configuration_matches(Configuration(nodes=(node,)), Cpe(vendor="v", product="p", version="1.0")) is False


def test_awaiting_analysis_found_by_keyword():
    index = sample_index()
    assert len(index.awaiting) == 4
    assert [h.cve_id for h in index.awaiting_for(["putty"])] == ["CVE-2024-31497"]
    assert [h.cve_id for h in index.awaiting_for(["docker desktop"])] == ["CVE-2024-8695"]
    assert index.awaiting_for(["ab"]) == []
    assert all(h.awaiting_analysis for h in index.awaiting_for(["zoom"]))


def test_severity_bands():
    assert [severity(s) for s in (9.8, 7.0, 6.9, 0.1, 0.0, None)] == ["critical", "high", "medium", "low", "none",
                                                                       "unknown"]


def test_compact_layout_round_trips():
    for record in iter_cve_records(json.loads((DATA / "nvdcve-1.1-modified-excerpt.json").read_text())):
        # Dates are kept to the day in the compact layout.
        expected = replace(record, published=record.published[:10], last_modified=record.last_modified[:10])
        assert from_compact(json.loads(json.dumps(to_compact(record, description_limit=10_000)))) == expected


def test_bundled_index_matches_real_records():
    index = load_vulns()
    hits = [h.cve_id for h in index.match(Cpe(vendor="rarlab", product="winrar", version="6.22"))]
    assert "CVE-2023-38831" in hits
    assert index.match(Cpe(vendor="rarlab", product="winrar", version="7.13")) == []
    chrome = index.match(Cpe(vendor="google", product="chrome", version="100.0.4896.60"))
    assert len(chrome) > 50
    assert chrome[0].score >= chrome[-1].score


def test_compiled_index_agrees_with_evaluating_every_configuration():
    from citygov.security.engine.nvd import CveRecord

    def crit(cpe, **bounds):
        return MatchCriterion(cpe, **bounds)

    records = [
        # AND of two vulnerable products: never for one product alone (pruned).
        CveRecord("CVE-1", configurations=(Configuration("AND", (
            Node("OR", False, (crit("cpe:2.3:a:v:p:*", end_excluding="3.0"),)),
            Node("OR", False, (crit("cpe:2.3:a:x:y:*"),)))),)),
        # 1.1-style AND node with a platform child: reduces to the plain range.
        CveRecord("CVE-2", configurations=(Configuration("OR", (Node("AND", False, (), (
            Node("OR", False, (crit("cpe:2.3:a:v:p:*", start_including="2.0", end_including="2.5"),)),
            Node("OR", False, (MatchCriterion("cpe:2.3:o:debian:debian_linux:12", vulnerable=False),)))),)),)),
        # Negated node: kept as a compiled tree.
        CveRecord("CVE-3", configurations=(Configuration("OR", (
            Node("OR", True, (crit("cpe:2.3:a:v:p:2.1"),)),)),)),
        CveRecord("CVE-4", configurations=(Configuration("OR", (
            Node("OR", False, (crit("cpe:2.3:a:v:p:2.1"), crit("cpe:2.3:a:v:p:-"))),)),)),
    ]
    index = VulnIndex(records)
    for version in ("1.0", "2.0", "2.1", "2.5", "2.6", "3.0", "-", "*"):
        installed = Cpe(vendor="v", product="p", version=version)
        expected = {r.id for r in records if any(configuration_matches(c, installed) for c in r.configurations)}
        assert {h.cve_id for h in index.match(installed)} == expected, version
    assert {h.cve_id for h in index.match(Cpe(vendor="v", product="p", version="2.1"))} == {"CVE-2", "CVE-4"}
