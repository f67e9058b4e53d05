"""REST API of the datagov module, mounted at /api/datagov/."""
