"""ml.lab.adapt_lab (not shipped): the record's confident beats re-weigh its unsure ones, and nothing else."""

import numpy as np

from ml import preprocess
from ml.lab import adapt_lab as adapt

PRE, POST_PRE = adapt._PRE_LOCAL, adapt._POST_PRE


def _record(n_normal=40, n_ectopic=12, seed=0):
    """Two shapes: normal beats on time, ectopic beats early with a pause after (4 classes)."""
    rng = np.random.default_rng(seed)
    n = n_normal + n_ectopic
    base = rng.normal(size=(2, preprocess.IMAGE_SIZE, preprocess.IMAGE_SIZE))
    kind = np.array([0] * n_normal + [1] * n_ectopic)
    images = np.zeros((n,) + preprocess.IMAGE_SHAPE, np.float32)
    images[..., 0] = base[kind] + 0.05 * rng.normal(size=(n,) + base.shape[1:])
    context = np.ones((n, preprocess.N_CONTEXT), np.float32)
    context[kind == 1, PRE] = 0.7
    context[kind == 1, POST_PRE] = 1.8
    probs = np.zeros((n, 4))
    probs[kind == 0] = [0.97, 0.01, 0.01, 0.01]
    probs[kind == 1] = [0.01, 0.97, 0.01, 0.01]
    return images, context, probs, kind


def test_an_unsure_beat_takes_the_class_of_the_beats_it_resembles():
    images, context, probs, kind = _record()
    ectopic = np.flatnonzero(kind == 1)[0]
    probs[ectopic] = [0.55, 0.40, 0.03, 0.02]  # the model leans to normal, unsure
    out, changed = adapt.adapt(probs, images, context, adapt.Settings(strength=1.0, scale=0.3))
    assert out[ectopic].argmax() == 1
    assert changed.tolist() == [ectopic]
    confident = np.flatnonzero(probs.max(axis=1) >= 0.77)
    assert np.array_equal(out[confident], probs[confident])  # sure beats are left alone
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_an_unsure_beat_like_the_normal_ones_stays_normal():
    images, context, probs, kind = _record()
    normal = np.flatnonzero(kind == 0)[0]
    probs[normal] = [0.6, 0.35, 0.03, 0.02]
    out, changed = adapt.adapt(probs, images, context, adapt.Settings(strength=1.0, scale=0.3))
    assert out[normal].argmax() == 0 and changed.size == 0
    assert out[normal, 0] > probs[normal, 0]  # and it is surer of it


def test_no_adaptation_without_two_reference_classes():
    images, context, probs, kind = _record(n_ectopic=3)  # 3 < min_refs confident ectopic beats
    probs[0] = [0.5, 0.45, 0.03, 0.02]
    out, changed = adapt.adapt(probs, images, context)
    assert np.array_equal(out, probs) and changed.size == 0


def test_strength_zero_changes_nothing():
    images, context, probs, kind = _record()
    probs[-1] = [0.55, 0.40, 0.03, 0.02]
    out, _ = adapt.adapt(probs, images, context, adapt.Settings(strength=0.0))
    np.testing.assert_allclose(out, probs)
