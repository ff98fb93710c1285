"""Single-beat plots: their own model, a split by recording, right labels on held-out recordings."""

import json

import numpy as np
import pytest

import ml
from ml import classes, store
from ml.errors import ModelFileError
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


def test_image_model_matches_its_checksum_and_serves_the_classes_its_json_names(image_classifier):
    path = store.IMAGE_MODEL_PATH
    assert store.sha256_of(path) == store.expected_sha256(path)
    assert image_classifier.version == store.sha256_of(path)[:12]
    assert store.get_image_classifier() is image_classifier  # loaded once per process
    shapes = {t.name.split(":")[0]: tuple(t.shape) for t in image_classifier.model.inputs}
    assert shapes == {"image": (None, 32, 32, 1), "context": (None, 32)}
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sha256"] == store.sha256_of(path)
    # The installed model was trained on the labels by file number: paced plots are P.
    assert image_classifier.codes == tuple(meta["classes"]) == image_dataset.IMAGE_CODES
    assert image_dataset.IMAGE_CODES == ("N", "L", "R", "A", "V", "P", "VF")
    assert tuple(image_classifier.model.outputs[0].shape) == (None, len(image_classifier.codes))


def test_store_reads_the_image_models_codes_from_its_json(tmp_path):
    model = tmp_path / "m.keras"
    assert store.image_codes(model) == classes.LEGACY_IMAGE_CODES  # no .json: the 6-class models
    model.with_suffix(".json").write_text(json.dumps({"sha256": "x"}))
    assert store.image_codes(model) == ("N", "L", "R", "A", "V", "VF")
    model.with_suffix(".json").write_text(json.dumps({"classes": ["N", "P", "VF"]}))
    assert store.image_codes(model) == ("N", "P", "VF")
    for bad in (["N", "Q"], ["N", "N"]):
        model.with_suffix(".json").write_text(json.dumps({"classes": bad}))
        with pytest.raises(ModelFileError, match="classes"):
            store.image_codes(model)


def test_a_served_image_model_whose_outputs_and_codes_disagree_is_refused(tmp_path, monkeypatch):
    class Fake:
        class _T:
            shape = (None, 6)
        outputs = [_T()]

    model = tmp_path / "ecg_cnn_image.keras"
    model.write_bytes(b"model")
    model.with_suffix(".sha256").write_text(store.sha256_of(model) + "\n")
    model.with_suffix(".json").write_text(json.dumps({"classes": list(image_dataset.IMAGE_CODES)}))
    monkeypatch.setattr(store, "IMAGE_MODEL_PATH", model)
    try:
        store.set_loader(lambda path: Fake())
        with pytest.raises(ModelFileError, match="6 outputs"):
            store.get_image_classifier()
        model.with_suffix(".json").write_text(json.dumps(
            {"classes": list(classes.LEGACY_IMAGE_CODES)}))
        assert store.get_image_classifier().codes == classes.LEGACY_IMAGE_CODES
        # Loaded once per process: later calls neither reload it nor read its .json again.
        model.with_suffix(".json").write_text(json.dumps({"classes": ["X"]}))  # read: ModelFileError
        assert store.get_image_classifier().codes == classes.LEGACY_IMAGE_CODES
    finally:
        store.set_loader(None)


def test_image_set_files_are_labelled_by_what_their_numbers_name(scanned, image_dir):
    """The "Premature Atrial Contraction" folder: paced beats are P, record 232's beats A."""
    pac = image_dir / "Premature Atrial Contraction"
    for name, code in (("fig_300.png", "P"), ("fig_1570.png", "P"), ("fig_1571.png", "A"),
                       ("fig_1600.png", "A"), ("fig_1771.png", "A"), ("fig_1772.png", "P")):
        assert image_dataset.code_of(pac / name) == code, name
    assert image_dataset.code_of(image_dir / "Normal" / "fig_200.png") == "N"
    assert image_dataset.code_of(image_dir / "Premature Ventricular Contractions"
                                 / "VEBfig_3.png") == "V"  # escape beats: drawn as the folder's V
    entries, facts, _ = scanned
    pac_entries = [e for e in entries if "Premature Atrial Contraction" in e.path]
    by_code = {}
    for e in pac_entries:
        by_code.setdefault(e.code, set()).add(e.recording)
    assert by_code["A"] - {None} == {"mitdb/232"}
    assert by_code["P"] - {None} == {"mitdb/102", "mitdb/104", "mitdb/217"}
    assert sum(e.code == "A" for e in pac_entries) <= 201
    assert sum(e.code == "P" for e in pac_entries) >= 1700
    assert {e.code for e in entries} == set(image_dataset.IMAGE_CODES)


def test_split_keeps_every_recording_on_one_side(scanned):
    entries, facts, (train, val, test) = scanned
    side_of = {}
    for side, idx in zip(image_dataset.SIDES, (train, val, test)):
        for i in idx:
            side_of.setdefault(entries[i].recording, set()).add(side)
    assert None not in side_of  # guard-band plots are on no side
    assert all(len(sides) == 1 for sides in side_of.values()), {
        r: s for r, s in side_of.items() if len(s) > 1}
    assert {r for r, s in side_of.items() if s == {"test"}} <= image_dataset.TEST_RECORDINGS
    shas = [{entries[i].sha256 for i in idx} for idx in (train, val, test)]
    assert not (shas[0] & shas[1]) and not (shas[0] & shas[2]) and not (shas[1] & shas[2])
    on_a_side = len(train) + len(val) + len(test)
    assert on_a_side == facts["kept"] - facts["guard_band_dropped"] and on_a_side > 14_000
    assert facts["recordings"] >= 20 and facts["blank_unique_dropped"] >= 1
    # Every class but VF (one patient in MIT-BIH: record 207, on the training side) is held out.
    codes = {entries[i].code for i in test}
    assert codes == set(image_dataset.IMAGE_CODES) - {"VF"}
    assert {entries[i].recording for i in train if entries[i].code == "VF"} == {"mitdb/207"}


def test_split_is_deterministic(scanned, image_dir):
    entries, _, splits = scanned
    again, _ = image_dataset.scan(image_dir)
    order = np.random.default_rng(0).permutation(len(again))
    shuffled = [again[i] for i in order]
    for a, b in zip(splits, image_dataset.split(shuffled)):
        assert {entries[i].sha256 for i in a} == {shuffled[i].sha256 for i in b}
    for a, b in zip(splits, image_dataset.split(entries)):
        np.testing.assert_array_equal(a, b)


def test_split_by_file_is_the_installed_models_recipe(scanned):
    """The installed model's split (make train's --image-split file): every unique plot on one
    side, each folder 70/15/15 at random with a fixed seed, so every recording is on every side
    (the folders, not the labels, are the strata: each plot is where it was before the labels
    by file number)."""
    entries, facts, _ = scanned
    train, val, test = image_dataset.split_by_file(entries)
    assert len(train) + len(val) + len(test) == facts["kept"]
    assert not (set(train) & set(val)) and not (set(train) & set(test)) and not (set(val) & set(test))
    from pathlib import Path

    for folder in classes.IMAGE_FOLDERS:
        n = sum(Path(e.path).parent.name == folder for e in entries)
        n_test = sum(Path(entries[i].path).parent.name == folder for i in test)
        assert abs(n_test - 0.15 * n) <= 1
    for side in (val, test):  # paced and atrial premature plots on each side
        assert {"A", "P"} <= {entries[i].code for i in side}
    for a, b in zip((train, val, test), image_dataset.split_by_file(entries)):
        np.testing.assert_array_equal(a, b)
    # Within patients: the test side shares its recordings with the training side.
    test_recordings = {entries[i].recording for i in test} - {None}
    assert test_recordings <= {entries[i].recording for i in train}
    # The model card's figures came from this split: 10,734 / 2,301 / 2,301 of 15,336 plots.
    assert (len(train), len(val), len(test)) == (10734, 2301, 2301)


def test_file_numbers_name_their_recordings(image_dir, mitdb):
    """The number counts one symbol's beats in record order: the named beat is the one plotted."""
    from PIL import Image

    from ml.lab import beat_plots, dataset

    counts = {}
    for record in dataset.ALL_RECORDS:
        _, _, _, symbols = dataset.read_record(mitdb, record)
        for sym in image_dataset.RECORD_COUNTS:
            if (n := int(np.sum(symbols == sym))):
                counts.setdefault(sym, []).append((str(record), n))
    assert counts == {k: list(v) for k, v in image_dataset.RECORD_COUNTS.items()}
    # (folder, file, record, index of that record's beat of the symbol counted); the folder
    # named "Premature Atrial Contraction" holds paced beats and, at fig_1571-1771, atrial ones.
    named = [("Normal", "fig_200.png", 100, "N", 199),
             ("Left Bundle Branch Block", "fig_5700.png", 207, "L", 5700 - 4616),
             ("Right Bundle Branch Block", "fig_300.png", 118, "R", 299),
             ("Premature Atrial Contraction", "fig_300.png", 102, "/", 299),
             ("Premature Atrial Contraction", "fig_1600.png", 232, "A", 1600 - 1158),
             ("Ventricular Fibrillation", "VFEfig_300.png", 207, "!", 299)]
    for folder, name, record, sym, k in named:
        path = image_dir / folder / name
        assert image_dataset.recording_of(path) == f"mitdb/{record}"
        x, fs, samples, symbols = dataset.read_record(mitdb, record)
        beats = samples[symbols == sym]
        rows = beat_plots.measure_style(np.asarray(Image.open(path).convert("L")))["rows"]
        seen = np.isfinite(rows)
        best = 0.0
        for j in range(k - 2, k + 8):  # the count runs a few beats off the annotation order
            window = beat_plots.beat_window(x, fs, beats[j])
            mv = np.interp(np.linspace(0, len(window) - 1, rows.size), np.arange(len(window)),
                           window)
            best = max(best, np.corrcoef(-rows[seen], mv[seen])[0, 1])
        assert best > 0.95, (folder, name, best)
    assert image_dataset.recording_of(image_dir / "Normal" / "fig_2239.png") is None  # 100 | 101


def test_held_out_images_of_every_class_are_labelled_correctly(scanned, image_classifier):
    entries, _, (_, _, test) = scanned
    right, per_class = 0, {}
    held_out = [c for c in image_dataset.IMAGE_CODES if c != "VF"]  # VF: one patient, trained on
    for code in held_out:
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
    assert right >= 12, per_class
    assert all(per_class.get(c, 0) >= 2 for c in held_out), per_class


def test_escape_is_never_predicted_for_a_plot(image_dir, image_classifier):
    path = image_dir / "Normal" / "fig_10008.png"  # called L at 100 % by the signal model
    res = ml.analyse(path, image_classifier=image_classifier)
    assert res.labels == ["N"]
    probs = dict(zip(classes.CODES, res.probabilities[0]))
    assert probs["E"] == 0  # not one of the image model's classes
    assert any("never names a ventricular escape beat" in n for n in res.notes)
    assert res.representatives and res.representatives[0].label == "N"


def test_a_paced_plot_is_read_as_paced_and_record_232s_as_atrial(scanned, image_classifier):
    """Plots of the test recordings 217 (paced) and 232 (atrial premature beats), end to end:
    the label, and the assessment a paced beat gets from a signal (info, not abnormal)."""
    entries, _, (_, _, test) = scanned
    for recording, code, concept in (("mitdb/217", "P", "Paced rhythm"),
                                     ("mitdb/232", "A", "Premature atrial contractions")):
        picks = [i for i in test if entries[i].recording == recording
                 and entries[i].code == code][:5]
        results = [ml.analyse(entries[i].path, image_classifier=image_classifier,
                              n_representatives=0) for i in picks]
        results = [r for r in results if r.kind == "image-beat"]
        right = [r for r in results if r.labels == [code]]
        assert len(results) >= 3 and len(right) >= len(results) - 1, (recording, [
            r.labels for r in results])
        findings = right[0].assessment["findings"]
        assert [f["display"] for f in findings] == [concept], findings
        assert findings[0]["severity"] == ("info" if code == "P" else "abnormal")


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

    entries, _, _ = scanned
    vf = [e.path for e in entries if e.code == "VF"]
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


def test_the_installed_image_model_is_never_chosen_on_its_test_figures(tmp_path, monkeypatch):
    """make train installs what it trained, held-out figures beside it: a model that scores below
    the installed one on the test recordings is installed all the same (a test set never chooses)."""
    from ml.lab import train

    monkeypatch.setattr(train, "IMAGE_MODEL", tmp_path / "ecg_cnn_image.keras")
    best = tmp_path / "best.keras"
    best.write_bytes(b"model")
    cfg = train.TrainConfig(data="x", protocol="image-beats", image_split="file")

    def fig(acc, rec):
        return {"n": 10, "accuracy": acc, "macro_recall": rec, "macro_f1": rec}

    result = {"protocol": "image-beats", "seed": 1, "epochs": 1, "batch_size": 8,
              "best_epoch": 1, "params": 1, "test": fig(0.99, 0.99),
              "test_unseen": fig(0.6, 0.5), "installed": {"test": fig(1.0, 1.0),
                                                          "test_unseen": fig(0.65, 0.6)}}
    digest = train._install_image_model(best, result, cfg, image_dataset.IMAGE_CODES)
    assert train.IMAGE_MODEL.read_bytes() == b"model"
    assert train.IMAGE_MODEL.with_suffix(".sha256").exists()
    facts = json.loads(train.IMAGE_MODEL.with_suffix(".json").read_text())
    assert facts["sha256"] == digest and facts["split"].startswith("by file")
    # The codes it was trained on, in output order: what ml.store serves it with.
    assert facts["classes"] == list(image_dataset.IMAGE_CODES)
    assert store.image_codes(train.IMAGE_MODEL) == image_dataset.IMAGE_CODES
    assert facts["test_unseen"]["accuracy"] == 0.6  # reported beside the model
