"""Rendered single-beat plots look like the image set's and read like them."""

import numpy as np
import pytest
from PIL import Image

from ml.lab import beat_plots, dataset, image_dataset


@pytest.fixture(scope="session")
def image_dir(data_dir):
    return data_dir / "ecg-images" / "train"


@pytest.fixture(scope="session")
def real_and_rendered(image_dir, mitdb):
    """Return [(real plot, the beat window it shows, the same window rendered)] for plots of
    record 100 (Normal fig_k is the k-th N beat of record 100 for k < 2230)."""
    x, fs, samples, symbols = dataset.read_record(mitdb, 100)
    beats = samples[symbols == "N"]
    out = []
    for k in range(20, 420, 20):
        real = np.asarray(Image.open(image_dir / "Normal" / f"fig_{k}.png").convert("L"))
        window = beat_plots.beat_window(x, fs, beats[k - 1])
        out.append((real, window, beat_plots.render_beat(window)))
    return out


def _median(values):
    return float(np.median(values))


def test_rendered_plot_has_the_image_sets_size_window_scale_and_line(real_and_rendered):
    real = [beat_plots.measure_style(r) for r, _, _ in real_and_rendered]
    made = [beat_plots.measure_style(m) for _, _, m in real_and_rendered]
    assert all(m.shape == (128, 192) and m.dtype == np.uint8 for _, _, m in real_and_rendered)
    for key, tol in (("first_col", 1), ("last_col", 1)):
        assert abs(_median([s[key] for s in made]) - _median([s[key] for s in real])) <= tol, key
    ink_real, ink_made = (_median([s["line_ink"] for s in group]) for group in (real, made))
    assert abs(ink_made / ink_real - 1) < 0.15, (ink_real, ink_made)
    grey_real, grey_made = (_median([s["line_grey"] for s in group]) for group in (real, made))
    assert abs(grey_made - grey_real) < 15, (grey_real, grey_made)
    fits_real = np.array([beat_plots.fit_scale(r, w) for r, w, _ in real_and_rendered])
    fits_made = np.array([beat_plots.fit_scale(m, w) for _, w, m in real_and_rendered])
    px_real, zero_real = np.median(fits_real, axis=0)
    px_made, zero_made = np.median(fits_made, axis=0)
    assert abs(px_made / px_real - 1) < 0.03, (px_real, px_made)
    assert abs(zero_made - zero_real) < 1.0, (zero_real, zero_made)
    # The same beat: its trace is where the real plot's is, column by column.
    rows = [(beat_plots.measure_style(r)["rows"], beat_plots.measure_style(m)["rows"])
            for r, _, m in real_and_rendered]
    seen = [np.isfinite(a) & np.isfinite(b) for a, b in rows]
    assert _median([np.corrcoef(a[s], b[s])[0, 1] for (a, b), s in zip(rows, seen)]) > 0.97


def test_rendered_plot_is_read_by_the_serving_digitiser_as_one_beat(real_and_rendered, tmp_path):
    from ml.io import load

    _, window, made = real_and_rendered[0]
    path = tmp_path / "beat.png"
    Image.fromarray(made).save(path)
    rec = load(path)
    assert rec.kind == "image-beat"
    trace = np.interp(np.linspace(0, len(rec.signal) - 1, len(window)),
                      np.arange(len(rec.signal)), rec.signal)
    assert np.corrcoef(trace, window)[0, 1] > 0.95


def test_window_is_the_same_time_at_any_sampling_rate():
    x = np.sin(np.linspace(0, 20, 10_000))
    assert len(beat_plots.beat_window(x, 360.0, 5000)) == 192
    assert len(beat_plots.beat_window(x, 128.0, 5000)) == 68  # +-0.267 s at SVDB's rate
    assert beat_plots.beat_window(x, 360.0, 50) is None  # runs off the record


def test_rendered_plots_keep_the_image_sets_labels_and_recordings(mitdb, tmp_path):
    plots = beat_plots.plot_beats(mitdb, [207], per_class={"L": 3, "VF": 2, "V": 2},
                                  cache_dir=tmp_path)
    codes = sorted(code for _, code, _ in plots)
    assert codes == ["L", "L", "L", "V", "V", "VF", "VF"]
    assert {rec for _, _, rec in plots} == {"mitdb/207"}
    assert image_dataset.side_of("mitdb/207") == "train"
    # Cached: a second call renders nothing and returns the same files.
    assert beat_plots.plot_beats(mitdb, [207], per_class={"L": 3, "VF": 2, "V": 2},
                                 cache_dir=tmp_path) == plots
    # Labelled as the image set's plots are, by what the beat is: paced P; atrial premature beats
    # (and SVDB's supraventricular premature beats, as the 8-class models label them) A.
    assert beat_plots.CODE_OF_SYMBOL["/"] == "P"
    assert beat_plots.CODE_OF_SYMBOL["A"] == beat_plots.CODE_OF_SYMBOL["S"] == "A"
    assert set(beat_plots.SYMBOLS_BY_CODE) == set(image_dataset.IMAGE_CODES)


def test_rendered_paced_and_atrial_premature_beats_are_labelled_p_and_a(mitdb, tmp_path):
    plots = beat_plots.plot_beats(mitdb, [232, 217], per_class={"A": 2, "P": 2},
                                  cache_dir=tmp_path)
    assert sorted((rec, code) for _, code, rec in plots) == [
        ("mitdb/217", "P"), ("mitdb/217", "P"), ("mitdb/232", "A"), ("mitdb/232", "A")]
    assert {image_dataset.side_of(rec) for _, _, rec in plots} == {"test"}


def test_varied_beat_keeps_the_window_and_differs_from_the_plain_one():
    rng = np.random.default_rng(0)
    t = np.arange(2000) / 360.0
    x = np.exp(-0.5 * ((t - 2.5) / 0.02) ** 2)
    plain = beat_plots.beat_window(x, 360.0, 900)
    varied = [beat_plots.varied_window(x, 360.0, 900, rng) for _ in range(5)]
    assert all(len(v) in range(176, 209) for v in varied)  # +-8 % of 192 samples
    assert all(np.argmax(v) in range(len(v) // 2 - 2, len(v) // 2 + 3) for v in varied)
    assert not any(len(v) == len(plain) and np.allclose(v, plain) for v in varied)
    assert beat_plots.varied_window(x, 360.0, 10, rng) is None
