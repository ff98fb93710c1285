"""Single-beat plots: their own model, an honest split, right labels on held-out images."""

import numpy as np
import pytest

import ml
from ml import classes, store
from ml.lab import image_dataset


@pytest.fixture(scope="session")
def image_dir(data_dir):
    return data_dir / "ecg-images" / "train"


@pytest.fixture(scope="session")
def scanned(image_dir):
    entries, facts = image_dataset.scan(image_dir)
    return entries, facts, image_dataset.split(entries)


@pytest.fixture(scope="session")
def image_classifier():
    return store.get_image_classifier()


def test_image_model_matches_its_checksum_and_has_six_outputs(image_classifier):
    path = store.IMAGE_MODEL_PATH
    assert store.sha256_of(path) == store.expected_sha256(path)
    assert image_classifier.version == store.sha256_of(path)[:12]
    assert store.get_image_classifier() is image_classifier  # loaded once per process
    shapes = {t.name.split(":")[0]: tuple(t.shape) for t in image_classifier.model.inputs}
    assert shapes == {"image": (None, 32, 32, 1), "context": (None, 32)}
    assert image_classifier.codes == ("N", "L", "R", "A", "V", "VF")
    assert tuple(image_classifier.model.outputs[0].shape) == (None, 6)


def test_split_is_by_unique_image_without_blanks(scanned):
    entries, facts, (train, val, test) = scanned
    shas = [{entries[i].sha256 for i in idx} for idx in (train, val, test)]
    assert not (shas[0] & shas[1]) and not (shas[0] & shas[2]) and not (shas[1] & shas[2])
    assert len(train) + len(val) + len(test) == len(entries) == facts["kept"]
    assert facts["unique"] < facts["n_files"] and facts["blank_unique_dropped"] >= 1
    assert abs(len(test) / len(entries) - 0.15) < 0.01
    blank = image_dataset.is_blank
    assert not any(blank(entries[i].path) for i in test[:50])
    # Every class is in the test split, in proportion.
    codes = {entries[i].code for i in test}
    assert codes == set(image_dataset.IMAGE_CODES)


def test_held_out_images_of_every_class_are_labelled_correctly(scanned, image_classifier):
    entries, _, (_, _, test) = scanned
    right, per_class = 0, {}
    for code in image_dataset.IMAGE_CODES:
        picks = [i for i in test if entries[i].code == code][:3]
        for i in picks:
            res = ml.analyse(entries[i].path, image_classifier=image_classifier,
                             n_representatives=1)
            if res.kind != "image-beat":
                continue  # read as a strip: not this model's input
            assert res.status == "ok", res.reason
            assert len(res.labels) == 1 and len(res.probabilities[0]) == len(classes.CODES)
            assert res.model_version == image_classifier.version
            assert any("single-beat image model" in n for n in res.notes)
            ok = res.labels[0] == code
            right += ok
            per_class[code] = per_class.get(code, 0) + ok
    assert right >= 15, per_class
    assert all(per_class.get(c, 0) >= 2 for c in image_dataset.IMAGE_CODES), per_class


def test_paced_and_escape_are_never_predicted_for_a_plot(image_dir, image_classifier):
    path = image_dir / "Normal" / "fig_10008.png"  # called L at 100 % by the signal model
    res = ml.analyse(path, image_classifier=image_classifier)
    assert res.labels == ["N"]
    probs = dict(zip(classes.CODES, res.probabilities[0]))
    assert probs["P"] == 0 and probs["E"] == 0
    assert res.representatives and res.representatives[0].label == "N"


def test_blank_plot_is_inconclusive(image_dir, tmp_path, image_classifier):
    from PIL import Image

    made = tmp_path / "blank.png"
    Image.new("L", (192, 128), 255).save(made)
    for path in (image_dir / "Normal" / "fig_1.png", made):  # fig_1.png: a blank in the data set
        res = ml.analyse(path, image_classifier=image_classifier)
        assert res.status == "inconclusive" and res.reason and not res.labels


def test_image_beat_features_ignore_plot_size_and_gain(rng):
    from ml import preprocess

    t = np.linspace(0, 1, 192)
    beat = np.exp(-0.5 * ((t - 0.5) / 0.02) ** 2) - 0.2 * np.exp(-0.5 * ((t - 0.7) / 0.06) ** 2)
    a_img, a_ctx = preprocess.image_beat_features(beat)
    b_img, b_ctx = preprocess.image_beat_features(3.0 * np.interp(np.linspace(0, 1, 384), t, beat))
    assert a_img.shape == (32, 32, 1) and a_ctx.shape == (preprocess.N_TRACE_CONTEXT,)
    np.testing.assert_allclose(a_img, b_img, atol=0.05)
    np.testing.assert_allclose(a_ctx, b_ctx, atol=0.05)


def test_fibrillation_plot_read_as_strip_is_still_one_image_beat(scanned, image_classifier):
    from ml.io import load

    entries, _, (_, _, test) = scanned
    vf = [entries[i].path for i in test if entries[i].code == "VF"]
    strip = next(p for p in vf if load(p).kind == "image-strip")  # several peaks in the plot
    res = ml.analyse(strip, image_classifier=image_classifier, n_representatives=0)
    assert res.kind == "image-beat" and res.status == "ok", res.reason
    assert res.labels == ["VF"]
    assert any("size and shape of a single-beat plot" in n for n in res.notes)


def test_wide_rhythm_strip_image_is_not_forced_into_one_beat(tmp_path, shipped_classifier):
    from PIL import Image, ImageDraw

    width, height = 1500, 300
    t = np.arange(width)
    y = np.zeros(width)
    for c in range(75, width, 150):  # 10 spiky beats
        y += 110 * np.exp(-0.5 * ((t - c) / 4.0) ** 2) + 20 * np.exp(-0.5 * ((t - c - 45) / 14.0) ** 2)
    img = Image.new("L", (width, height), 255)
    ImageDraw.Draw(img).line(list(zip(t.tolist(), (200 - y).tolist())), fill=0, width=2)
    path = tmp_path / "strip.png"
    img.save(path)
    res = ml.analyse(path, classifier=shipped_classifier, n_representatives=0)
    assert res.kind == "image-strip"
    if res.status == "ok":
        assert len(res.labels) >= 8
