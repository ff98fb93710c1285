"""The one preprocessing path: shapes, determinism, invariances a user relies on."""

import numpy as np

from ml import preprocess


def test_features_have_model_shapes_and_are_deterministic(record_segment):
    x, fs, peaks, _ = record_segment(100, 0, 20)
    a = preprocess.beat_features(x, fs, peaks)
    b = preprocess.beat_features(x.copy(), fs, peaks.copy())
    assert a.images.shape == (len(peaks), 32, 32, 2)
    assert a.context.shape == (len(peaks), preprocess.N_CONTEXT)
    assert a.images.dtype == np.float32 and a.context.dtype == np.float32
    assert np.isfinite(a.images).all() and np.isfinite(a.context).all()
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.context, b.context)


def test_images_do_not_depend_on_gain_or_sampling_rate(record_segment):
    from scipy.signal import resample_poly

    x, fs, peaks, _ = record_segment(119, 0, 20)
    base = preprocess.beat_features(x, fs, peaks).images
    # Same ECG in microvolts: amplitudes are normalised per record.
    scaled = preprocess.beat_features(x * 1000.0, fs, peaks).images
    np.testing.assert_allclose(scaled, base, atol=1e-4)
    # Same ECG recorded at 250 Hz: resampled to the model rate, images nearly identical.
    x250 = resample_poly(x, 25, 36)
    p250 = np.round(peaks * 250 / 360).astype(int)
    other = preprocess.beat_features(x250, 250.0, p250).images
    corr = np.corrcoef(other[2:-2].ravel(), base[2:-2].ravel())[0, 1]
    assert corr > 0.97


def test_premature_beat_has_short_relative_rr():
    fs = 360.0
    peaks = (np.array([0, 1, 2, 3, 3.6, 5, 6, 7, 8]) * fs + 1000).astype(int)
    ctx = preprocess.rr_context(peaks, fs)
    names = preprocess.CONTEXT_NAMES
    early = ctx[4]
    assert early[names.index("pre_rr_to_local")] < 0.75
    assert early[names.index("post_to_pre")] > 2.0
    assert abs(ctx[1][names.index("pre_rr_to_record")] - 1.0) < 0.1


def test_single_beat_gets_neutral_context():
    ctx = preprocess.rr_context(np.array([100]), 360.0, single_beat=True)
    assert ctx.shape == (1, preprocess.N_CONTEXT)
    names = preprocess.CONTEXT_NAMES
    assert ctx[0, 0] == preprocess.NEUTRAL_RR_S
    np.testing.assert_array_equal(ctx[0, 2:names.index("local_irregularity")], 1.0)
    assert ctx[0, names.index("local_irregularity")] == 0.0


def test_irregular_rhythm_is_told_from_isolated_premature_beats(rng):
    fs = 360.0
    names = preprocess.CONTEXT_NAMES
    regular = np.full(60, 0.8)
    regular[30] = 0.5  # one premature beat, then a compensatory pause
    regular[31] = 1.1
    fibrillation = rng.uniform(0.4, 1.2, 60)  # atrial fibrillation: RR irregularly irregular
    irr = names.index("local_irregularity")
    ctx_regular = preprocess.rr_context((np.cumsum(regular) * fs).astype(int), fs)
    ctx_af = preprocess.rr_context((np.cumsum(fibrillation) * fs).astype(int), fs)
    assert ctx_regular[31, irr] < 0.05  # the isolated premature beat does not raise it
    assert np.median(ctx_af[:, irr]) > 0.2


def test_clean_removes_baseline_wander():
    fs = 360.0
    t = np.arange(int(10 * fs)) / fs
    wander = 2.0 * np.sin(2 * np.pi * 0.2 * t) + 1.5
    assert np.abs(preprocess.clean(wander, fs)[int(fs):-int(fs)]).max() < 0.1
