"""Points API routes (filled in by the points API work)."""

urlpatterns: list = []
