"""Fixtures for the exchange tests: a CA directory under the test's state dir, and a small registry."""

from __future__ import annotations

import datetime as dt

import pytest

from citygov.exchange import services
from citygov.exchange.engine import ca as ca_engine

OPENAPI = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
           "paths": {"/items/{id}": {"get": {"responses": {"200": {"description": "OK"}}}}}}


@pytest.fixture
def var_dir(settings, tmp_path):
    """A private state dir (the CA and gateway material of the demo go under it)."""
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def city_ca():
    """A CA (key and certificate PEM)."""
    return ca_engine.new_ca("test CA", now=dt.datetime.now(dt.UTC))


@pytest.fixture
def registry(city_admin, agency_a, agency_b, city_ca):
    """Agency A provides A/HR/persons; agency B's APP may call it. Both have a gateway."""
    a = services.do_register_member(city_admin, agency_id=agency_a.pk, code="A001", name="Agency A")
    b = services.do_register_member(city_admin, agency_id=agency_b.pk, code="B001", name="Agency B")
    hr = services.do_add_subsystem(city_admin, a.pk, code="HR")
    app = services.do_add_subsystem(city_admin, b.pk, code="APP")
    persons = services.do_add_service(city_admin, hr.pk, services.ServiceInput("persons", "Persons", OPENAPI))
    right = services.do_grant_access(city_admin, persons.pk, app.pk)
    now = dt.datetime.now(dt.UTC)
    for member, port in ((a, 5601), (b, 5602)):
        cert = ca_engine.issue_gateway_certificate(city_ca.key_pem, city_ca.cert_pem, member.identifier,
                                                   ["127.0.0.1"], now=now)
        services.do_register_gateway(city_admin, member.pk, address=f"127.0.0.1:{port}",
                                     cert_pem=cert.cert_pem.decode(), ca_cert_pem=city_ca.cert_pem)
    return {"a": a, "b": b, "hr": hr, "app": app, "persons": persons, "right": right}
