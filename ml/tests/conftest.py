"""Shared fixtures for the ml tests (plain pytest, no Django)."""

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def data_dir():
    """Return the data folder (ECG_DATA_DIR, default <repo>/../shared/data) holding mitdb/."""
    path = Path(os.environ.get("ECG_DATA_DIR", REPO.parent / "shared" / "data"))
    # Skip without the data on a developer's machine; fail under CI=true (ecgportal.testing).
    from ecgportal.testing import require

    require((path / "mitdb" / "100.hea").is_file(), f"MIT-BIH data not found under {path}; set ECG_DATA_DIR (see README).")
    return path


@pytest.fixture(scope="session")
def mitdb(data_dir):
    return data_dir / "mitdb"


@pytest.fixture(scope="session")
def record_segment(mitdb):
    """Return a function (record, start_s, seconds) -> (MLII signal in mV, fs, beat samples, symbols)."""
    from ml.lab import dataset

    cache = {}

    def segment(record, start_s=0.0, seconds=10.0):
        if record not in cache:
            cache[record] = dataset.read_record(mitdb, record)
        x, fs, samples, symbols = cache[record]
        a, b = int(start_s * fs), int((start_s + seconds) * fs)
        keep = (samples >= a) & (samples < b)
        return x[a:b].copy(), fs, samples[keep] - a, symbols[keep]

    return segment


@pytest.fixture(scope="session")
def shipped_classifier():
    from ml import store

    return store.get_classifier()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
