"""The shipped model: present, intact, the expected shape, and right on real held-out beats."""

import shutil

import numpy as np
import pytest

from ml import classes, dataset, preprocess, store
from ml.errors import ModelFileError


def test_shipped_model_matches_its_checksum():
    assert store.sha256_of(store.MODEL_PATH) == store.expected_sha256(store.MODEL_PATH)


def test_shipped_model_has_expected_inputs_and_outputs(shipped_classifier):
    model = shipped_classifier.model
    shapes = {t.name.split(":")[0]: tuple(t.shape) for t in model.inputs}
    assert shapes == {"image": (None, 32, 32, 2), "context": (None, preprocess.N_CONTEXT)}
    assert tuple(model.outputs[0].shape) == (None, classes.N_CLASSES)
    assert shipped_classifier.version == store.sha256_of(store.MODEL_PATH)[:12]


def test_tampered_or_missing_model_is_refused(tmp_path):
    copy = tmp_path / "ecg_cnn.keras"
    shutil.copy(store.MODEL_PATH, copy)
    shutil.copy(store.MODEL_PATH.with_suffix(".sha256"), tmp_path / "ecg_cnn.sha256")
    with copy.open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelFileError, match="checksum"):
        store.load_classifier(copy)
    with pytest.raises(ModelFileError, match="missing"):
        store.load_classifier(tmp_path / "absent.keras")


def test_loader_seam_replaces_keras_and_is_cached_per_process():
    calls = []

    def fake_loader(path):
        calls.append(path)
        return object()

    try:
        store.set_loader(fake_loader)
        first = store.get_classifier()
        assert store.get_classifier() is first
        assert len(calls) == 1
    finally:
        store.set_loader(None)


def test_classifies_held_out_annotated_beats(mitdb, shipped_classifier):
    arrays = dataset.load_all_beats(mitdb, progress=False)
    _, _, test = dataset.protocol_splits(arrays, "intra-patient", seed=1)
    picks = np.concatenate([np.flatnonzero(test.y == c)[:5] for c in range(classes.N_CLASSES)])
    probs = shipped_classifier.predict(test.images[picks], test.context[picks])
    pred = probs.argmax(axis=1)
    assert np.mean(pred == test.y[picks]) >= 0.9
    for c in range(classes.N_CLASSES):
        assert np.sum(pred[test.y[picks] == c] == c) >= 3, classes.CODES[c]
