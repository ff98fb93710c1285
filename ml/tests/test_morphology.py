"""Beats grouped by shape (ml.morphology): what a reviewing doctor relabels at once."""

from collections import Counter

import numpy as np
import pytest

from ml.morphology import MAX_FAMILIES, shape_families
from ml.preprocess import clean


def _record(data_dir, name):
    import wfdb

    rec = wfdb.rdrecord(str(data_dir / "mitdb" / name))
    ann = wfdb.rdann(str(data_dir / "mitdb" / name), "atr")
    keep = [i for i, s in enumerate(ann.symbol) if s in "NLRAVEFj/aJe"]
    return clean(rec.p_signal[:, 0], rec.fs), rec.fs, ann.sample[keep], [ann.symbol[i] for i in keep]


@pytest.mark.parametrize("name, pure", [("119", 1.0), ("208", 0.90)])
def test_the_largest_families_are_one_class_on_real_records(data_dir, name, pure):
    """MIT-BIH 119 (bigeminy): normal and ventricular beats fall apart exactly; 208 (multiform
    PVCs and fusion beats): each of the three largest families is >= 90 % one class."""
    x, fs, peaks, symbols = _record(data_dir, name)
    families = shape_families(x, fs, peaks)
    assert sorted(i for f in families for i in f) == list(range(len(peaks)))  # every beat once
    assert len(families) <= MAX_FAMILIES
    for family in families[:3 if name == "208" else 2]:
        top = Counter(symbols[i] for i in family).most_common(1)[0][1]
        assert top / family.size >= pure, (name, Counter(symbols[i] for i in family))


def test_families_are_deterministic_and_handle_edges():
    t = np.arange(3600) / 360.0
    x = np.sin(2 * np.pi * t)
    peaks = np.arange(100, 3500, 300)
    first = shape_families(x, 360.0, peaks)
    assert [f.tolist() for f in first] == [f.tolist() for f in shape_families(x, 360.0, peaks)]
    assert shape_families(x, 360.0, []) == []
    edge = shape_families(x, 360.0, [0, 3599])  # windows clipped at both ends
    assert sorted(i for f in edge for i in f) == [0, 1]
