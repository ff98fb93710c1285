"""Render single-beat plots in the style of the image set (``ecg-images/train``) from WFDB beats.

The image set's 192 x 128 plots were drawn from MIT-BIH lead 0 (measured here by matching every
plot's trace to the annotated beats: median correlation 0.994, see
``ml/reports/images_by_recording.md``). Their style, measured on the real plots:

* window: 96 samples either side of the annotated R peak at 360 Hz (+-0.267 s), stretched over
  the axes' full width (no margin);
* axes: matplotlib's default subplot box (left 0.125, right 0.9, bottom 0.11, top 0.88 of the
  figure), no axis lines or ticks: the trace runs from column 24 to 172;
* amplitude: one fixed scale for every plot, about 34 pixels per mV with 0 mV on row 53 (the
  axes show -1.78 to +1.10 mV; taller beats are clipped at the axes, as in the set);
* line: thin, grey on white (matplotlib's default blue at 0.6 pt, read as grey).

:func:`render_beat` draws one beat so; :func:`measure_style` measures a plot (real or rendered)
for the test that keeps the two alike. :func:`plot_beats` renders chosen beats of whole records
to PNG files (cached under ``.cache/``) labelled with the image set's class codes, so
``ml.lab.image_dataset`` digitises them with the serving reader like the real plots.

See also: ``ml.lab.image_dataset`` (the real plots and the split by recording).
"""

import hashlib
import io
from pathlib import Path

import numpy as np

from ml import lab

PLOT_SIZE_PX = (192, 128)  # width, height
HALF_WINDOW_S = 96 / 360.0
AXES_BOX = (0.125, 0.11, 0.9, 0.88)  # left, bottom, right, top (figure fractions)
PX_PER_MV = 34.2
ZERO_ROW_PX = 53.0  # row of 0 mV, from the top
LINE_WIDTH_PT = 0.6
LINE_COLOUR = "#1f77b4"  # matplotlib's first colour; the set's grey is its luminance
DPI = 100

# The beat symbols (MIT-BIH and SVDB annotation) plotted per image-model code, as the image set's
# plots are labelled (``ml.lab.image_dataset.code_of``): paced beats ``/`` are ``P``; atrial
# premature beats are ``A`` with SVDB's supraventricular premature beats ``S``, as the 8-class
# models label them (``ml.lab.dataset.EIGHT_CLASS_MAP``); escape beats ``E`` are drawn as ``V``,
# as the set's PVC folder holds them.
SYMBOLS_BY_CODE = {"N": ("N",), "L": ("L",), "R": ("R",), "A": ("A", "S"), "V": ("V", "E"),
                   "P": ("/",), "VF": ("!",)}
CODE_OF_SYMBOL = {s: code for code, symbols in SYMBOLS_BY_CODE.items() for s in symbols}
RENDER_VERSION = "v2"


def _y_limits_mv():
    height = PLOT_SIZE_PX[1]
    top_px = (1.0 - AXES_BOX[3]) * height
    bottom_px = (1.0 - AXES_BOX[1]) * height
    return (-(bottom_px - ZERO_ROW_PX) / PX_PER_MV, (ZERO_ROW_PX - top_px) / PX_PER_MV)


def beat_window(signal, fs, r_sample):
    """Return the plotted window of one beat (mV), or None where it runs off the record."""
    half = int(round(HALF_WINDOW_S * fs))
    a, b = int(r_sample) - half, int(r_sample) + half
    if a < 0 or b > len(signal):
        return None
    return np.asarray(signal[a:b], dtype=np.float64)


def render_beat(window):
    """Return the 192 x 128 greyscale plot (uint8 array, 255 = white) of one beat ``window`` (mV).

    >>> render_beat(np.zeros(192)).shape
    (128, 192)
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from PIL import Image

    width, height = PLOT_SIZE_PX
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((AXES_BOX[0], AXES_BOX[1], AXES_BOX[2] - AXES_BOX[0],
                       AXES_BOX[3] - AXES_BOX[1]))
    x = np.arange(len(window))
    ax.plot(x, window, lw=LINE_WIDTH_PT, color=LINE_COLOUR)
    ax.set_xlim(0, len(window) - 1)
    ax.set_ylim(*_y_limits_mv())
    ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    with Image.open(buf) as img:
        return np.asarray(img.convert("L"))


def measure_style(image):
    """Return the style of a single-beat plot (greyscale array): trace columns, line ink and grey.

    ``first_col``/``last_col``: the first and last columns with ink; ``line_ink``: the median ink
    of a column where the trace is flat (in pixels of black); ``line_grey``: the median darkest
    grey of those columns; ``rows``: the trace's row (ink-weighted centre) in every column.
    """
    a = np.asarray(image, dtype=np.float64)
    ink = 255.0 - a
    cols = np.flatnonzero((a < 200).any(axis=0))
    first, last = int(cols[0]), int(cols[-1])
    sub = ink[:, first:last + 1]
    mass = sub.sum(axis=0)
    rows = (sub * np.arange(a.shape[0])[:, None]).sum(axis=0) / np.maximum(mass, 1e-9)
    rows[mass < 255.0 * 0.1] = np.nan  # no trace in the column (clipped at the axes' edge)
    flat = np.abs(np.gradient(rows)) < 0.3  # False where nan
    return {"first_col": first, "last_col": last,
            "line_ink": float(np.median(mass[flat]) / 255.0),
            "line_grey": float(np.median(a[:, first:last + 1].min(axis=0)[flat])),
            "rows": rows}


def fit_scale(image, window):
    """Return (pixels per mV, row of 0 mV) fitted between a plot and the beat ``window`` it shows.

    Clipped columns (the trace at the axes' edge) are left out of the fit.
    """
    style = measure_style(image)
    rows = style["rows"]
    pos = np.linspace(0, len(window) - 1, rows.size)
    mv = np.interp(pos, np.arange(len(window)), window)
    height = PLOT_SIZE_PX[1]
    with np.errstate(invalid="ignore"):
        inside = (rows > (1 - AXES_BOX[3]) * height + 2) & (rows < (1 - AXES_BOX[1]) * height - 2)
    slope, zero = np.polyfit(mv[inside], rows[inside], 1)
    return float(-slope), float(zero)


# Variants of a training beat (``plot_beats(variants=...)``): what differs between patients and
# devices but not between classes. The time stretch stays small: QRS width tells BBB from normal.
VARY_STRETCH = 0.08  # window scaled by up to +-8 % in time
VARY_GAIN = 0.25  # amplitude scaled within [1/1.25, 1.25] (the plots' mV scale is fixed)
VARY_TILT_MV = 0.15  # a baseline ramp of up to +-0.15 mV across the window
VARY_NOISE_MV = 0.02  # up to this much white noise (std)


def varied_window(signal, fs, r_sample, rng):
    """Return a beat window drawn with a random stretch, gain, baseline ramp and noise, or None."""
    stretch = 1.0 + rng.uniform(-VARY_STRETCH, VARY_STRETCH)
    window = beat_window(signal, fs * stretch, r_sample)
    if window is None:
        return None
    gain = np.exp(rng.uniform(-np.log1p(VARY_GAIN), np.log1p(VARY_GAIN)))
    ramp = np.linspace(-1.0, 1.0, len(window)) * rng.uniform(-VARY_TILT_MV, VARY_TILT_MV)
    noise = rng.normal(0.0, rng.uniform(0.0, VARY_NOISE_MV), len(window))
    return gain * (window - np.median(window)) + ramp + noise


def choose_beats(symbols, *, per_class, rng):
    """Return sorted indices of beats to plot: at most ``per_class`` of each image-set code."""
    symbols = np.asarray(symbols)
    picks = []
    for code, wanted in SYMBOLS_BY_CODE.items():
        idx = np.flatnonzero(np.isin(symbols, wanted))
        if len(idx) > per_class.get(code, 0):
            idx = np.sort(rng.choice(idx, per_class.get(code, 0), replace=False))
        picks.append(idx)
    return np.sort(np.concatenate(picks)).astype(np.int64)


def _cache_key(data_dir, records, per_class, seed, variants=0):
    """Key rendered plots by what draws them: the records, caps, seed, style and drawing code."""
    import inspect

    style = (PLOT_SIZE_PX, HALF_WINDOW_S, AXES_BOX, PX_PER_MV, ZERO_ROW_PX, LINE_WIDTH_PT,
             LINE_COLOUR, DPI, sorted(SYMBOLS_BY_CODE.items()), RENDER_VERSION)
    code = "".join(inspect.getsource(f) for f in (beat_window, render_beat, choose_beats))
    if variants:
        style += (variants, VARY_STRETCH, VARY_GAIN, VARY_TILT_MV, VARY_NOISE_MV)
        code += inspect.getsource(varied_window)
    text = repr((Path(data_dir).name, tuple(records), sorted(per_class.items()), seed, style))
    return hashlib.sha256((text + code).encode()).hexdigest()[:12]


def plot_beats(data_dir, records, *, per_class, seed=0, variants=0, cache_dir=lab.CACHE_DIR):
    """Render chosen beats of ``records`` (a WFDB folder) to PNGs; return [(path, code, recording)].

    ``per_class`` caps the plots per record and image-set code (e.g. ``{"N": 60, "V": 80}``; a
    code left out is not plotted), so no one patient dominates. ``variants``: that many more
    plots of each beat, varied (:func:`varied_window`). ``recording`` is
    ``"<database folder>/<record>"``. The PNGs are cached under ``cache_dir`` by records, caps,
    seed, variants and the drawing code.
    """
    from PIL import Image

    from ml.lab import dataset

    data_dir = Path(data_dir)
    key = _cache_key(data_dir, records, per_class, seed, variants)
    folder = Path(cache_dir) / f"beat_plots_{data_dir.name}_{key}"
    index = folder / "index.tsv"
    if index.exists():
        rows = [line.split("\t") for line in index.read_text().splitlines()]
        return [(str(folder / name), code, rec) for name, code, rec in rows]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for record in records:
        signal, fs, samples, symbols = dataset.read_record(data_dir, record)
        rng = np.random.default_rng([seed, int(record)])
        for i in choose_beats(symbols, per_class=per_class, rng=rng):
            window = beat_window(signal, fs, samples[i])
            if window is None:
                continue
            windows = [window] + [varied_window(signal, fs, samples[i], rng)
                                  for _ in range(variants)]
            for j, w in enumerate(w for w in windows if w is not None):
                name = f"{record}_{samples[i]}{f'_v{j}' if j else ''}.png"
                Image.fromarray(render_beat(w)).save(folder / name)
                out.append((name, CODE_OF_SYMBOL[symbols[i]], f"{data_dir.name}/{record}"))
    index.write_text("".join(f"{n}\t{c}\t{r}\n" for n, c, r in out))
    return [(str(folder / n), c, r) for n, c, r in out]
