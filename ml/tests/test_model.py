"""The two-head model: its output is the geometric mean of the heads, and it survives a save."""

import subprocess
import sys

import numpy as np
import pytest

from ml import model as ml_model
from ml import preprocess, store

REPO = store.MODEL_PATH.parents[2]


def _inputs(rng, n=16):
    images = rng.normal(size=(n,) + preprocess.IMAGE_SHAPE).astype(np.float32)
    context = rng.uniform(0.3, 2.0, size=(n, preprocess.N_CONTEXT)).astype(np.float32)
    return {"image": images, "context": context}


def _randomise_rhythm_head(model, rng):
    layer = model.get_layer(ml_model.RHYTHM_LOGITS)
    layer.set_weights([rng.normal(scale=0.3, size=w.shape).astype(np.float32)
                       for w in layer.get_weights()])


@pytest.mark.parametrize("w", [0.5, 0.35])
def test_output_is_normalised_weighted_geometric_mean_of_the_two_heads(rng, w):
    model = ml_model.build_model(preprocess.IMAGE_SHAPE, preprocess.N_CONTEXT, 4, rhythm_weight=w)
    _randomise_rhythm_head(model, rng)  # it starts at zero (uniform), which would hide a bug
    x = _inputs(rng)
    served = model(x, training=False).numpy()
    heads = ml_model.training_view(model)(x, training=False)
    geo = heads["morphology"].numpy() ** (1 - w) * heads["rhythm"].numpy() ** w
    geo /= geo.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(served, geo, rtol=1e-4, atol=1e-6)
    assert not np.allclose(heads["morphology"].numpy(), heads["rhythm"].numpy(), atol=1e-3)


def test_rhythm_head_sees_only_the_rr_context(rng):
    model = ml_model.build_model(preprocess.IMAGE_SHAPE, preprocess.N_CONTEXT, 4)
    _randomise_rhythm_head(model, rng)
    x = _inputs(rng)
    other = dict(x, image=rng.normal(size=x["image"].shape).astype(np.float32))
    view = ml_model.training_view(model)
    np.testing.assert_allclose(view(x)["rhythm"].numpy(), view(other)["rhythm"].numpy(), rtol=1e-5)
    faster = dict(x, context=x["context"] * 0.5)
    assert not np.allclose(view(x)["rhythm"].numpy(), view(faster)["rhythm"].numpy())


def test_image_model_has_no_rhythm_head():
    model = ml_model.build_model(preprocess.BEAT_IMAGE_SHAPE, preprocess.N_TRACE_CONTEXT, 6,
                                 rhythm_head=False)
    assert not ml_model.has_rhythm_head(model)


def test_saved_model_loads_through_the_store_in_a_fresh_process(tmp_path, rng):
    model = ml_model.build_model(preprocess.IMAGE_SHAPE, preprocess.N_CONTEXT, 4)
    _randomise_rhythm_head(model, rng)
    path = tmp_path / "m.keras"
    model.save(path)
    x = _inputs(rng, n=3)
    np.save(tmp_path / "image.npy", x["image"])
    np.save(tmp_path / "context.npy", x["context"])
    expected = model(x, training=False).numpy()
    # A fresh interpreter has not imported ml.model: the store must register the custom layer.
    code = (
        "import sys, numpy as np; from ml import store; "
        f"clf = store.load_classifier({str(path)!r}, verify=False); "
        f"p = clf.predict(np.load({str(tmp_path / 'image.npy')!r}), "
        f"np.load({str(tmp_path / 'context.npy')!r})); np.save({str(tmp_path / 'out.npy')!r}, p)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-4, atol=1e-6)
