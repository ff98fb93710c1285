"""The worker and the web process never import the lab (ml/lab: training, evaluation, datasets).

Serving is every module of ``ml`` outside ``ml/lab`` and ``ml/tests``, and every Django app; they
may read what the lab wrote (``ml/models``, ``ml/reports``) but not its code.
"""

import ast
import subprocess
import sys
from pathlib import Path

ML = Path(__file__).resolve().parent.parent
REPO = ML.parent
APPS = ("ecgportal", "accounts", "predictions", "articles", "usage", "audit", "exports", "notifications")


def _serving_files():
    for path in sorted(ML.rglob("*.py")):
        rel = path.relative_to(ML)
        if rel.parts[0] not in ("lab", "tests"):
            yield path
    for app in APPS:
        for path in sorted((REPO / app).rglob("*.py")) if (REPO / app).is_dir() else ():
            if "tests" not in path.relative_to(REPO).parts:
                yield path


def _lab_imports(path, text=None):
    """Return the lines of ``path`` (its ``text`` where given) that import ml.lab, absolutely or
    relatively."""
    tree = ast.parse(path.read_text() if text is None else text, filename=str(path))
    in_ml = path.is_relative_to(ML)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and in_ml:  # from .lab import x / from . import lab
                names = [node.module or ""] + [a.name for a in node.names]
                names = ["ml.lab" if n == "lab" or n.startswith("lab.") else n for n in names]
            else:
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        if any(n == "ml.lab" or n.startswith("ml.lab.") for n in names):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_serving_module_imports_the_lab():
    files = list(_serving_files())
    assert len(files) > 40  # the scan found the serving code
    offenders = [line for path in files for line in _lab_imports(path)]
    assert offenders == []


def test_the_scan_sees_a_lab_import():
    probe = ML / "io" / "probe.py"  # read as if it stood there; nothing is written
    assert _lab_imports(probe, "def f():\n    from ml.lab import train\n    return train\n") == [
        f"{probe.relative_to(REPO)}:2"]
    assert _lab_imports(probe, "from ml import lab\n")
    assert _lab_imports(probe, "from ..lab import train\n")
    assert not _lab_imports(probe, "from ml import store\nimport ml.io\n")


def test_reading_an_ecg_loads_no_lab_module(tmp_path):
    """Run what a worker runs on a file, in a fresh interpreter, and list the modules it loaded."""
    csv = tmp_path / "strip.csv"
    import numpy as np

    t = np.arange(0, 10, 1 / 250)
    beat = np.exp(-((t % 0.8) - 0.2) ** 2 / 0.0005)  # 75 bpm spikes
    np.savetxt(csv, np.column_stack([t, beat]), delimiter=",", header="time,mV", comments="")
    code = (
        "import sys, ml\n"
        "from ml.io import load\n"
        "import ml.analysis, ml.assessment, ml.twelve_lead, ml.rhythm, ml.store, ml.events\n"
        f"assert load({str(csv)!r}).signal.size\n"
        f"result = ml.analyse({str(csv)!r})\n"
        "lab = sorted(m for m in sys.modules if m == 'ml.lab' or m.startswith('ml.lab.'))\n"
        "print('LAB', lab)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "LAB []" in out.stdout, out.stdout
