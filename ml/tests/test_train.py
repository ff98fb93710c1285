"""A one-epoch training run on three records exercises the whole training pipeline."""

import json

from ml.lab import train


def test_short_training_run_writes_model_curves_and_metrics(mitdb, tmp_path):
    out = tmp_path / "run"
    result = train.train(
        data=mitdb, protocol="intra-patient", epochs=1, seed=3, out=out,
        records=[100, 119, 207], cache_dir=tmp_path / "cache", batch_size=256, verbose=0,
    )
    for name in ("best.keras", "curves.png", "confusion.png", "metrics.json", "history.json"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test"]["n"] == result["test"]["n"] > 500
    # Even one epoch on three records learns more than the majority class alone.
    assert result["test"]["accuracy"] > 0.8
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_class_weights_favour_rare_classes():
    import numpy as np

    y = np.array([0] * 900 + [1] * 100 + [2] * 4)
    w = train.class_weights(y, 4)
    assert w[2] > w[1] > w[0]
    assert abs(np.mean([w[c] for c in y]) - 1.0) < 1e-9


def test_ds1_cross_validation_scores_each_record_only_when_held_out(mitdb, tmp_path):
    import numpy as np

    from ml.lab import dataset

    folds = ((119, 209), (208, 201))
    result = train.ds1_cross_validation(data=mitdb, epochs=1, seed=1, out=tmp_path / "cv",
                                        folds=folds, cache_dir=tmp_path / "cache")
    arrays = dataset.load_all_beats(mitdb, records=(119, 201, 208, 209),
                                    cache_dir=tmp_path / "cache", progress=False)
    n_per_fold = [len(dataset.aami_beats(arrays, list(f))) for f in folds]
    assert [f["n"] for f in result["folds"]] == n_per_fold
    assert result["cv"]["n"] == sum(n_per_fold)
    assert 0.0 <= result["selection_score"] <= 1.0
    saved = json.loads((tmp_path / "cv" / "metrics.json").read_text())
    assert saved["cv"]["confusion"] == result["cv"]["confusion"]
    # One epoch on two patients still finds most ventricular beats of two others.
    assert np.array(result["cv"]["confusion"])[2, 2] > 0.5 * np.array(result["cv"]["confusion"])[2].sum()


def test_all_ds1_run_reports_no_validation_figure_on_beats_it_trained_on(mitdb, tmp_path):
    out = tmp_path / "run"
    result = train.train(
        data=mitdb, protocol="inter-patient", epochs=1, seed=1, out=out, records=[100, 106, 209],
        cache_dir=tmp_path / "cache", verbose=0, all_ds1=True,
    )
    # 106 is a DS1 validation record, so with --all-ds1 it is a training record.
    assert result["validation"] is None and result["best_epoch"] == 1
    assert result["test"]["n"] > 1000  # record 100 (DS2) only
    assert json.loads((out / "metrics.json").read_text())["validation"] is None


def test_grouped_folds_keep_each_record_on_one_side_and_spread_atrial_ectopy():
    import numpy as np

    from ml.lab import dataset

    rng = np.random.default_rng(0)
    records = list(dataset.DS1) + list(range(800, 830))
    symbol, record = [], []
    for r in records:
        n_s = int(rng.integers(1, 300)) if r % 3 == 0 else 0
        beats = ["N"] * 500 + ["A" if r < 800 else "S"] * n_s + ["V"] * int(rng.integers(0, 50))
        symbol += beats
        record += [r] * len(beats)
    arrays = {"symbol": np.array(symbol), "record": np.array(record)}
    folds = dataset.grouped_folds(arrays, records, n_folds=4)
    flat = [r for f in folds for r in f]
    assert sorted(flat) == sorted(records) and len(flat) == len(set(flat))  # no record twice
    s_per_fold = [sum(np.isin(arrays["symbol"], ["A", "S"])[np.isin(arrays["record"], f)])
                  for f in folds]
    assert min(s_per_fold) > 0.5 * max(s_per_fold)


def test_grouped_cross_validation_never_trains_on_a_held_out_record(mitdb, tmp_path, monkeypatch):
    import numpy as np

    from ml.lab import dataset

    seen = []
    real = dataset.aami_beats

    def spy(arrays, records):
        seen.append(tuple(sorted(records)))
        return real(arrays, records)

    monkeypatch.setattr(dataset, "aami_beats", spy)
    folds = ((119, 209), (208, 201))
    train.ds1_cross_validation(data=mitdb, epochs=1, seed=1, out=tmp_path / "cv", folds=folds,
                               cache_dir=tmp_path / "cache")
    # Calls alternate: the training records of a fold, then its held-out records.
    for (fit, held), fold in zip(zip(seen[0::2], seen[1::2]), folds):
        assert set(held) == set(fold) and not set(fit) & set(fold)
    with np.load(tmp_path / "cv" / "oof_probs.npz") as z:
        assert set(z["record"]) == {119, 209, 208, 201}
        assert np.allclose(z["probs"].sum(axis=1), 1.0, atol=1e-4)


def test_svdb_records_load_at_128_hz_through_the_one_preprocessing_path(data_dir):
    import numpy as np

    from ml import preprocess
    from ml.lab import dataset

    x, fs, samples, symbols = dataset.read_record(data_dir / "svdb", 800)
    assert fs == 128.0 and "S" in set(symbols)
    feats = preprocess.beat_features(x[: 128 * 60], fs, samples[samples < 128 * 60])
    assert feats.images.shape[1:] == preprocess.IMAGE_SHAPE
    assert feats.context.shape[1] == preprocess.N_CONTEXT
    beats = dataset.eight_class_beats({
        "images": feats.images, "context": feats.context,
        "symbol": symbols[samples < 128 * 60], "record": np.full(len(feats.images), 800)})
    # SVDB's supraventricular premature beats are the model's premature atrial class.
    from ml import classes
    assert (beats.y == classes.SYMBOLS.index("A")).sum() == (symbols[samples < 128 * 60] == "S").sum()


def test_temperature_fitted_on_overconfident_probabilities_lowers_calibration_error():
    import numpy as np

    from ml.lab import metrics

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 4)) * 2.0
    true_p = metrics.apply_temperature(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 1.0)
    y = np.array([rng.choice(4, p=p) for p in true_p])
    overconfident = metrics.apply_temperature(true_p, 0.4)  # sharper than the truth
    t = metrics.fit_temperature(overconfident, y)
    assert 0.3 < t < 0.5 or 2.0 < t < 3.0  # undoes the 0.4 sharpening (T ~ 2.5)
    fixed = metrics.apply_temperature(overconfident, t)
    assert metrics.calibration(fixed, y)["ece"] < 0.5 * metrics.calibration(overconfident, y)["ece"]
    assert (fixed.argmax(1) == overconfident.argmax(1)).all()


def test_noise_augmentation_keeps_the_beats_and_changes_only_their_images(mitdb, data_dir, tmp_path):
    import numpy as np

    from ml.lab import dataset

    clean = dataset.load_all_beats(mitdb, records=(100,), cache_dir=tmp_path, progress=False)
    noisy = dataset.load_noisy_beats(mitdb, data_dir / "nstdb-noise", records=(100,),
                                     cache_dir=tmp_path)
    assert (noisy["sample"] == clean["sample"]).all()
    assert (noisy["context"] == clean["context"]).all()  # same R peaks, same rhythm
    assert not np.allclose(noisy["images"], clean["images"])
    mixed = dataset.mix_noisy(clean, noisy, 0.5, seed=1)
    from_noisy = (mixed["images"] == noisy["images"]).all(axis=(1, 2, 3)) & ~(
        mixed["images"] == clean["images"]).all(axis=(1, 2, 3))
    assert 0.4 < from_noisy.mean() < 0.6
