"""Where code lives: apps beside each other, views that do not import other apps' views."""

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

REPO = Path(settings.BASE_DIR)


def test_usage_metrics_are_a_top_level_app_with_their_old_label():
    config = apps.get_app_config("usage")
    assert config.name == "usage" and Path(config.path) == REPO / "usage"
    assert not (REPO / "ecgportal" / "usage").exists()


def _imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_view_module_imports_another_apps_views():
    offenders = []
    for path in sorted(REPO.glob("*/**/views.py")):
        app = path.relative_to(REPO).parts[0]
        if app in {".venv", "ml"}:
            continue
        for name in _imported_names(ast.parse(path.read_text())):
            parts = name.split(".")
            if parts[0] != app and "views" in parts[1:] and (REPO / parts[0]).is_dir():
                offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []
