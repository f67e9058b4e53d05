"""Agency pages: list, detail and the district map."""

from django.urls import path

from citygov.agencies import views

app_name = "agencies"

urlpatterns = [
    path("", views.agency_list, name="agency_list"),
    path("<int:pk>/", views.agency_detail, name="agency_detail"),
    path("map/", views.district_map, name="district_map"),
    path("districts.geojson", views.districts_geojson, name="districts_geojson"),
]
