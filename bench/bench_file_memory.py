"""Peak memory of reading a long CSV: the C parser of ``ml.io.text`` against a Python string per cell.

    .venv/bin/python bench/bench_file_memory.py [--data ../shared/data] [--hours 4] [--model]

Writes, under a temporary folder, the dense CSV of issue 24: ``--hours`` of MIT-BIH record 100's
MLII at 360 Hz as ADC counts, one a line (4 h: 5.2 million lines, 20 MB, the upload limit). Each
reader runs alone in a fresh Python process, which reports its peak resident memory (VmHWM)
above what the imports (and the model) took, and the time the read took:
  - ``ml.io.text.read_text`` as shipped (pandas' C parser straight into a float array);
  - its cell-by-cell path (``_parse_cells``), taken for files the C parser refuses (clock times,
    quoted or ragged cells), on the same file;
  - the reader before issue 24 (``ml/io/text.py`` at commit d83fe37, taken from git): the whole
    text split into lines, each line into cells, every cell a Python string until one array;
  - ``ml.analysis.analyse`` of the same file, the whole task a worker child runs, with each of the
    two readers: with a stand-in classifier (no TensorFlow), or with ``--model`` the shipped model,
    loaded before the baseline as a worker child has it.
Without MIT-BIH data the samples are a synthetic ECG-like wave of the same size.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FS = 360
BEFORE = "d83fe376bec6a134d399e74c3c679ec5ccdb2528"  # the last ml/io/text.py before issue 24
READERS = {
    "shipped": "read_text (C parser)",
    "cells": "cell-by-cell path",
    "before": "read_text before issue 24 (a string per cell)",
    "analyse": "whole analysis",
    "analyse-before": "whole analysis, reader before issue 24",
}


def write_csv(path, data_dir, hours):
    """Write ``hours`` of ADC counts at 360 Hz, one a line under a "MLII" header; return the line count."""
    n = int(hours * 3600 * FS)
    header = Path(data_dir) / "mitdb" / "100.hea"
    if header.is_file():
        import wfdb

        counts = wfdb.rdrecord(str(header.with_suffix("")), channels=[0], physical=False).d_signal[:, 0]
    else:
        t = np.arange(FS * 60) / FS
        counts = (1024 + 200 * np.exp(-(((t % 0.8) - 0.4) ** 2) / 2e-4)).astype(int)
    path.write_text("MLII\n" + "\n".join(map(str, np.resize(counts, n).tolist())) + "\n")
    return n


def _reader_before(folder):
    """Return the pre-issue-24 ``ml.io.text`` module, loaded from git into ``folder``."""
    import importlib.util

    source = subprocess.run(["git", "show", f"{BEFORE}:ml/io/text.py"], capture_output=True, text=True,
                            check=True, cwd=REPO).stdout
    path = Path(folder) / "text_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("text_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _AllNormal:
    version = "bench"

    def predict(self, images, context):
        from ml.classes import CODES

        probs = np.zeros((len(images), len(CODES)))
        probs[:, CODES.index("N")] = 1.0
        return probs


def child(mode, path, model):
    """Run one reader on ``path`` in this process; print its peak memory above the imports and its time."""
    import pandas  # noqa: F401  (imported before the baseline by every reader alike)

    from ml import analysis
    from ml.io import text as shipped

    text = _reader_before(path.parent) if mode.endswith("before") else shipped
    if model:
        from ml.store import get_classifier

        classifier = get_classifier()
    else:
        classifier = _AllNormal()
    before = peak_rss_mb()
    started = time.perf_counter()
    if mode in ("shipped", "before"):
        samples = text.read_text(path, shown=path.name, fs=FS).signal.size
    elif mode == "cells":
        samples = len(text._parse_cells(path, text._layout(path, path.name)))
    else:
        shipped.read_text = text.read_text  # ml.io.load looks the reader up at each call
        samples = round(analysis.analyse(path, fs=FS, classifier=classifier).duration_s * FS)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    print(json.dumps({"samples": samples, "seconds": seconds, "base_mb": before, "peak_mb": peak,
                      "grown_mb": peak - before}))


def peak_rss_mb():
    """Return this process's peak resident memory in MB.

    Linux's VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak when it forked.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--model", action="store_true", help="classify with the shipped model (TensorFlow)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.model)
        return

    with tempfile.TemporaryDirectory(prefix="bench-file-memory-") as tmp:
        path = Path(tmp) / "dense.csv"
        n = write_csv(path, args.data, args.hours)
        size_mb = path.stat().st_size / 2**20
        model = "the shipped model (loaded before the baseline)" if args.model else "a stand-in classifier"
        print(f"{path.name}: {args.hours:g} h at {FS} Hz, {n:,} lines, {size_mb:.1f} MB; analysis with {model}\n")
        results = {}
        for mode in READERS:
            command = [sys.executable, __file__, "--child", mode, str(path)] + (["--model"] if args.model else [])
            out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print("| reader | peak RSS, MB | above the baseline, MB | x file size | time, s | memory vs shipped |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, label in READERS.items():
        r = results[mode]
        shipped = results["analyse" if mode.startswith("analyse") else "shipped"]
        print(f"| {label} | {r['peak_mb']:.0f} | {r['grown_mb']:.0f} | {r['grown_mb'] / size_mb:.1f} "
              f"| {r['seconds']:.1f} | {r['grown_mb'] / shipped['grown_mb']:.1f}x |")
    print(f"\nBaseline: the process after its imports{' and the model' if args.model else ''}, "
          f"{results['shipped']['base_mb']:.0f} MB. 'vs shipped': against read_text, or the whole analysis.")


if __name__ == "__main__":
    main()
