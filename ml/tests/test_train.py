"""A one-epoch training run on three records exercises the whole training pipeline."""

import json

from ml import train


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

    from ml import dataset

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
