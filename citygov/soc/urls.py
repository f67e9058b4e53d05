"""SOC pages: analytics, alerts, cases, follow-up actions, imports and the agency network table."""

from django.urls import path

from citygov.soc import views

app_name = "soc"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("import/", views.import_alerts, name="import_alerts"),
    path("export.<slug:fmt>", views.export, name="export"),
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/triage/", views.alert_triage, name="alert_triage"),
    path("alerts/<int:pk>/escalate/", views.alert_escalate, name="alert_escalate"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/actions/", views.case_add_action, name="case_add_action"),
    path("cases/<int:pk>/report.pdf", views.case_report, name="case_report"),
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("incidents/<int:pk>/<slug:verb>/", views.incident_update, name="incident_update"),
    path("actions/", views.action_list, name="action_list"),
    path("actions/<int:pk>/<slug:verb>/", views.action_update, name="action_update"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("networks/", views.network_list, name="network_list"),
]
