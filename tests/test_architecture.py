"""Project-wide rules: engines are Django-free, and every model and service is documented."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "citygov"


def pure_modules() -> list[str]:
    """Every module under an ``engine`` package, and ``citygov.core.text``."""
    paths = sorted(PACKAGE.glob("*/engine/**/*.py")) + sorted((PACKAGE / "core" / "text").glob("*.py"))
    return [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in paths]


def test_there_are_pure_modules():
    assert "citygov.agencies.engine.address" in pure_modules()
    assert "citygov.core.text.normalize" in pure_modules()


def test_engines_import_without_django():
    """Import every engine with Django made unimportable: an engine that needs it fails here."""
    code = "import sys\nsys.modules['django'] = None\nsys.modules['rest_framework'] = None\n" + "\n".join(
        f"import {name}" for name in pure_modules())
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def citygov_models():
    return [m for m in apps.get_models() if m.__module__.startswith("citygov.")]


@pytest.mark.parametrize("model", citygov_models(), ids=lambda m: m._meta.label)
def test_every_model_has_a_docstring(model):
    doc = model.__doc__ or ""
    assert doc and not doc.startswith(model.__name__ + "("), f"{model._meta.label} has no docstring"


def service_functions():
    found = []
    for path in sorted(PACKAGE.glob("*/services.py")) + sorted(PACKAGE.glob("*/services/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith(("do_", "check_")):
                found.append((path.relative_to(ROOT).as_posix(), node))
    return found


@pytest.mark.parametrize(("path", "node"), service_functions(), ids=lambda v: getattr(v, "name", v))
def test_every_service_has_a_docstring(path, node):
    assert ast.get_docstring(node), f"{path}:{node.lineno} {node.name} has no docstring"


def test_views_do_not_save_models():
    """Writes go through services: no ``.save()`` or ``.delete()`` in views or API views."""
    offenders = []
    for path in sorted(PACKAGE.glob("*/views.py")) + sorted(PACKAGE.glob("*/api/views.py")):
        source = path.read_text(encoding="utf-8")
        for needle in (".save(", ".delete(", ".objects.create(", ".update("):
            if needle in source:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_no_signal_receivers():
    offenders = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
                 if "@receiver(" in p.read_text(encoding="utf-8") or ".connect(" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_engine_functions_are_documented():
    import importlib

    missing = []
    for name in pure_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or not inspect.isfunction(value) or value.__module__ != name:
                continue
            if not inspect.getdoc(value):
                missing.append(f"{name}.{attr}")
    assert missing == []
