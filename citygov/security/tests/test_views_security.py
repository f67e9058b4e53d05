import pytest

from citygov.core.dashboard import tiles_for
from citygov.security.models import InstalledSoftware, ManualMapping
from citygov.security.services import do_import_inventory

INVENTORY = ("hostname,display_name,display_version,publisher\n"
             "PC-1,WinRAR 6.22 (64-bit),6.22.0,win.rar GmbH\n"
             "PC-1,ACME Viewer Pro,2.1,ACME\n")


@pytest.fixture
def imported(tmp_path, admin_a, agency_a):
    path = tmp_path / "inv.csv"
    path.write_text(INVENTORY, encoding="utf-8")
    do_import_inventory(admin_a, agency_a.pk, path)
    return agency_a


def test_overview_page_and_nav(client_for, admin_a, imported):
    response = client_for(admin_a).get("/security/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/security/"' in html
    assert f'<tr data-agency="{imported.pk}">' in html
    assert "<td data-rate>50%</td>" in html


def test_overview_needs_the_capability(client_for, make_user, agency_a):
    from citygov.core.roles import Role

    steward = make_user("steward", Role.DATA_STEWARD, [agency_a])
    assert client_for(steward).get("/security/").status_code == 403


def test_agency_page_is_scoped(client_for, admin_b, admin_a, imported):
    assert client_for(admin_b).get(f"/security/agencies/{imported.pk}/").status_code == 404
    page = client_for(admin_a).get(f"/security/agencies/{imported.pk}/")
    assert page.status_code == 200
    assert "ACME Viewer Pro" in page.content.decode()


def test_mapping_form_saves_through_the_service(client_for, admin_a, imported):
    response = client_for(admin_a).post(f"/security/agencies/{imported.pk}/",
                                        {"display_name": "ACME Viewer Pro", "vendor": "acme", "product": "viewer"})
    assert response.status_code == 302
    assert ManualMapping.objects.get().vendor == "acme"
    assert InstalledSoftware.objects.get(display_name="ACME Viewer Pro").status == "identified"


def test_auditor_reads_but_cannot_map(client_for, auditor, imported):
    assert client_for(auditor).get(f"/security/agencies/{imported.pk}/").status_code == 200
    response = client_for(auditor).post(f"/security/agencies/{imported.pk}/",
                                        {"display_name": "ACME Viewer Pro", "vendor": "acme", "product": "viewer"})
    assert response.status_code == 403
    assert ManualMapping.objects.count() == 0


def test_api_is_scoped(api_client_for, admin_a, admin_b, imported):
    rows = api_client_for(admin_a).get("/api/security/software/").json()
    names = sorted(r["display_name"] for r in rows["results"]) if isinstance(rows, dict) else sorted(
        r["display_name"] for r in rows)
    assert names == ["ACME Viewer Pro", "WinRAR 6.22 (64-bit)"]
    other = api_client_for(admin_b).get("/api/security/software/").json()
    assert (other["count"] if isinstance(other, dict) else len(other)) == 0
    [posture] = api_client_for(admin_a).get("/api/security/posture/").json()
    assert (posture["identified"], posture["unidentified"], posture["identification_rate"]) == (1, 1, 0.5)
    assert api_client_for(None).get("/api/security/posture/").status_code in (401, 403)


def test_dashboard_tile_empty_then_rate(admin_b, admin_a, imported):
    tile = {t.key: v for t, v in tiles_for(admin_b)}["security.overview"]
    assert tile.value is None
    tile = {t.key: v for t, v in tiles_for(admin_a)}["security.overview"]
    assert (tile.value, tile.unit) == (50.0, "%")
