"""The shipped model: present, intact, the expected shape, and right on real held-out beats."""

import shutil

import numpy as np
import pytest

from ml import classes, preprocess, store
from ml.lab import dataset
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


def test_classifies_annotated_beats_of_every_class(mitdb, shipped_classifier):
    # The served model trains on every MIT-BIH and SVDB patient, so these beats are not held out:
    # a sanity check of the shipped file. Held-out figures are in the model card.
    arrays = dataset.load_all_beats(mitdb, progress=False)
    _, _, test = dataset.protocol_splits(arrays, "intra-patient", seed=1)
    picks = np.concatenate([np.flatnonzero(test.y == c)[:5] for c in range(classes.N_CLASSES)])
    probs = shipped_classifier.predict(test.images[picks], test.context[picks])
    pred = probs.argmax(axis=1)
    assert np.mean(pred == test.y[picks]) >= 0.9
    for c in range(classes.N_CLASSES):
        assert np.sum(pred[test.y[picks] == c] == c) >= 3, classes.CODES[c]


RATES_HZ = (128, 250, 257, 360, 500, 1000)


def _analyse_at(x, fs, rate):
    from fractions import Fraction

    from scipy import signal as sps

    from ml import analysis

    ratio = Fraction(rate, int(fs))
    result = analysis.analyse(sps.resample_poly(x, ratio.numerator, ratio.denominator), fs=rate)
    return (np.asarray(result.r_peaks) / rate, np.asarray(result.labels),
            np.max(result.probabilities, axis=1))


@pytest.mark.parametrize("record", [119, 208])
def test_same_labels_on_the_same_beats_at_any_sampling_rate(record_segment, record):
    """A consumer device records at 125-1000 Hz: one minute of MIT-BIH resampled to each rate
    gives the same beats and the same labels as at its native 360 Hz, and finds its V beats."""
    from ml import analysis

    x, fs, samples, symbols = record_segment(record, 0.0, 60.0)
    base_t, base_labels, base_top = _analyse_at(x, fs, 360)
    ref_t = samples / fs
    for rate in RATES_HZ:
        t, labels, _ = _analyse_at(x, fs, rate)
        assert abs(len(t) - len(base_t)) <= 1, rate
        gap = np.abs(t[:, None] - base_t[None, :])
        nearest = gap.argmin(axis=1)
        same_beat = gap[np.arange(len(t)), nearest] < 0.1  # within a QRS width
        assert same_beat.mean() >= 0.97, rate
        # Fusion beats (half normal, half ventricular) are in none of the 8 classes, so they
        # may go either way; every other beat keeps its label.
        fusion = symbols[np.abs(t[:, None] - ref_t[None, :]).argmin(axis=1)] == "F"
        kept = same_beat & ~fusion
        same = labels[kept] == base_labels[nearest[kept]]
        assert same.mean() >= 0.93, (rate, same.mean())
        # Beats the model is sure of at 360 Hz keep their label; flips are near the boundary.
        sure = base_top[nearest[kept]] >= analysis.LOW_CONFIDENCE
        assert same[sure].mean() >= 0.97, (rate, same[sure].mean())
        # The reference V beats are found as V at every rate.
        to_ref = np.abs(ref_t[:, None] - t[None, :])
        hit = to_ref.min(axis=1) < 0.1
        v_ref = (symbols == "V") & hit
        v_found = labels[to_ref.argmin(axis=1)][v_ref] == "V"
        assert v_found.mean() >= 0.85, (rate, v_found.mean())


def test_warm_up_loads_both_models_and_runs_each_once(monkeypatch):
    """A worker child's warm-up (PREDICTIONS_MODEL_WARMUP) leaves both models loaded and their
    forward passes traced, so a first upload of either kind waits for neither."""
    store.set_loader(None)
    ran = []
    real_predict = store.Classifier.predict

    def counted(self, images, context):
        ran.append((self, images.shape))
        return real_predict(self, images, context)

    from ml import saliency

    monkeypatch.setattr(store.Classifier, "predict", counted)
    monkeypatch.setattr(saliency, "_compiled", {})  # not traced by an earlier test
    signal = store.warm_up()
    assert signal is store.get_classifier()
    image = store.get_image_classifier()
    assert {id(c) for c, _ in ran} == {id(signal), id(image)}
    assert all(shape[0] == 1 for _, shape in ran)
    assert signal._fn is not None and image._fn is not None  # traced
    assert set(saliency._compiled) == {id(signal.model), id(image.model)}  # the saliency gradient too
