"""Agency pages (being built)."""


def agency_list(request):
    raise NotImplementedError


def agency_detail(request, pk):
    raise NotImplementedError


def district_map(request):
    raise NotImplementedError


def districts_geojson(request):
    raise NotImplementedError
