"""Imports run one way (issue 24, "one access layer, no circles"):

    views -> accounts.permissions (the policy: rules applied, 404s, audit) -> selectors
          -> accounts.rules (who may see what, as predicates and querysets) -> models
    tasks -> services (services send tasks by name: ecgportal.celery.task)

Every import counts, at the top of a module or inside a function.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = ["accounts", "predictions", "exports", "notifications", "audit", "usage", "articles"]


def _imports(path):
    """Return the dotted names ``path`` imports (``from a import b`` gives a and a.b)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(kind):
    return [(app, REPO / app / f"{kind}.py") for app in APPS if (REPO / app / f"{kind}.py").exists()]


def _touches(names, module):
    return any(name == module or name.startswith(module + ".") for name in names)


@pytest.mark.parametrize("app, path", _modules("selectors"))
def test_selectors_never_import_the_policy_services_tasks_or_views(app, path):
    names = _imports(path)
    for upper in ("accounts.permissions", "predictions.access", *(f"{a}.{k}" for a in APPS
                                                                   for k in ("services", "tasks", "views"))):
        assert not _touches(names, upper), f"{path.relative_to(REPO)} imports {upper}"


def test_the_rules_import_nothing_above_the_models():
    names = _imports(REPO / "accounts" / "rules.py")
    for upper in ("accounts.permissions", *(f"{a}.{k}" for a in APPS for k in ("selectors", "services", "tasks", "views"))):
        assert not _touches(names, upper), f"accounts/rules.py imports {upper}"


@pytest.mark.parametrize("app, path", _modules("services"))
def test_services_never_import_tasks(app, path):
    names = _imports(path)
    assert not any(_touches(names, f"{a}.tasks") for a in APPS), f"{path.relative_to(REPO)} imports a tasks module"


def test_the_re_export_of_the_policy_is_gone():
    assert not (REPO / "predictions" / "access.py").exists()
