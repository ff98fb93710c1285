"""Pictures drawn in the worker: the ECG trace with every beat marked and coloured by class."""

import io

import numpy as np

# The same colours as the beat-<CODE> classes in static/css/portal.css.
BEAT_COLOURS = {
    "N": "#2e7d32",
    "L": "#1565c0",
    "R": "#6a1b9a",
    "A": "#b45309",
    "V": "#c62828",
    "P": "#00767f",
    "VF": "#4e342e",
    "E": "#ad1457",
}
ROW_SECONDS = 10.0
MAX_ROWS = 6


def trace_png(signal, *, fs, r_peaks, labels, kind="signal"):
    """Return a PNG of the trace, up to six 10-second rows, each beat marked in its class colour."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    x = np.asarray(signal, dtype=float)
    fs = float(fs)
    r_peaks = np.asarray(r_peaks, dtype=int)
    duration = len(x) / fs
    row_s = ROW_SECONDS if kind == "signal" and duration > ROW_SECONDS else max(duration, 1e-3)
    n_rows = int(min(MAX_ROWS, max(1, np.ceil(duration / row_s))))
    fig = Figure(figsize=(11, 1.7 * n_rows + 0.6), dpi=100)
    axes = fig.subplots(n_rows, 1, squeeze=False)[:, 0]
    finite = x[np.isfinite(x)]
    lo, hi = (np.percentile(finite, 0.5), np.percentile(finite, 99.5)) if finite.size else (0, 1)
    pad = (hi - lo) * 0.25 or 1.0
    codes = [labels[i] if i < len(labels) else "?" for i in range(len(r_peaks))]
    for row, ax in enumerate(axes):
        start, stop = int(row * row_s * fs), int(min(len(x), (row + 1) * row_s * fs))
        t = np.arange(start, stop) / fs
        ax.plot(t, x[start:stop], color="#37474f", linewidth=0.7)
        in_row = [i for i, p in enumerate(r_peaks) if start <= p < stop]
        # One vlines call per class keeps drawing fast on long strips.
        for code in sorted({codes[i] for i in in_row}):
            colour = BEAT_COLOURS.get(code, "#616161")
            times = [r_peaks[i] / fs for i in in_row if codes[i] == code]
            ax.vlines(times, lo - pad * 0.3, hi + pad * 0.25, colors=colour, alpha=0.18, linewidth=3)
            for when in times:
                ax.text(when, hi + pad * 0.45, code, color=colour, ha="center", va="center", fontsize=8, weight="bold")
        ax.set_xlim(row * row_s, (row + 1) * row_s)
        ax.set_ylim(lo - pad * 0.3, hi + pad)
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#f3c1c1", linewidth=0.4)
        ax.set_yticklabels([])
    axes[-1].set_xlabel("time (s)", fontsize=8)
    shown = min(duration, n_rows * row_s)
    title = f"{len(r_peaks)} beat{'' if len(r_peaks) == 1 else 's'} in {duration:.1f} s"
    if shown < duration:
        title += f" (first {shown:.0f} s shown)"
    fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    fig.subplots_adjust(left=0.03, right=0.99, top=1 - 0.35 / fig.get_figheight(), bottom=0.45 / fig.get_figheight(), hspace=0.35)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


# True-scale ECG paper (AHA/ACC/HRS 2007 standardisation, part I): 25 mm/s, 10 mm/mV, a 1 mV
# calibration pulse 200 ms wide before the trace.
PAPER_MM_S = 25.0
PAPER_MM_MV = 10.0
STRIP_S = 7.0  # 175 mm at 25 mm/s: fits the width of an A4 page inside its margins
STRIP_MV = (-1.5, 2.5)
CAL_S = 0.4  # room for the calibration pulse


def strip_png(signal, *, fs, start_s, seconds=STRIP_S, dpi=200):
    """Return a PNG of ``seconds`` of ``signal`` from ``start_s`` on true-scale ECG paper.

    The picture is ``(CAL_S + seconds) * 25`` mm wide and ``40`` mm high at ``dpi``: drawn at that
    size (the PDF does), one small square is 1 mm, 0.04 s and 0.1 mV. Returns the PNG and its size in mm.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fs = float(fs)
    a = max(0, int(start_s * fs))
    x = np.asarray(signal[a: a + int(seconds * fs)], dtype=float)
    lo, hi = STRIP_MV
    width_mm = (CAL_S + seconds) * PAPER_MM_S
    height_mm = (hi - lo) * PAPER_MM_MV
    fig = Figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, CAL_S + seconds)
    ax.set_ylim(lo, hi)
    for t in np.arange(0, CAL_S + seconds + 1e-9, 0.04):
        ax.axvline(t, color="#f4b8b8", linewidth=0.8 if round(t / 0.04) % 5 == 0 else 0.3)
    for v in np.arange(lo, hi + 1e-9, 0.1):
        ax.axhline(v, color="#f4b8b8", linewidth=0.8 if round((v - lo) / 0.1) % 5 == 0 else 0.3)
    ax.plot([0.04, 0.08, 0.08, 0.28, 0.28, 0.32], [0, 0, 1, 1, 0, 0], color="black", linewidth=1.0)
    if x.size:
        baseline = float(np.median(x))
        t = CAL_S + np.arange(x.size) / fs
        ax.plot(t, np.clip(x - baseline, lo, hi), color="black", linewidth=0.8)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue(), (width_mm, height_mm)


# The standard 12-lead print (AHA/ACC/HRS 2007 part I): three rows of four 2.5-s columns and a
# 10-s lead II rhythm strip, each row 30 mm apart (3 mV), a calibration pulse before each.
TWELVE_LEAD_ROWS = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
TWELVE_LEAD_S = 10.0
ROW_MV = 3.0
RHYTHM_LEAD = "II"


def twelve_lead_png(leads, *, fs, dpi=200):
    """Return (PNG, (width mm, height mm)) of ``leads`` (name -> mV at ``fs``) in the standard
    3x4 + rhythm-strip layout on true-scale paper (see :func:`strip_png`): drawn at that size,
    one small square is 1 mm, 0.04 s and 0.1 mV. A lead missing from ``leads`` leaves its
    column blank but for its name; NaN (no trace in a picture's column) is not drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fs = float(fs)
    n = int(TWELVE_LEAD_S * fs)
    rows = [[(name, c * TWELVE_LEAD_S / 4, TWELVE_LEAD_S / 4) for c, name in enumerate(row)] for row in TWELVE_LEAD_ROWS]
    rows.append([(RHYTHM_LEAD, 0.0, TWELVE_LEAD_S)])
    width_s, height_mv = CAL_S + TWELVE_LEAD_S, ROW_MV * len(rows)
    width_mm, height_mm = width_s * PAPER_MM_S, height_mv * PAPER_MM_MV
    fig = Figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width_s)
    ax.set_ylim(0, height_mv)
    for t in np.arange(0, width_s + 1e-9, 0.04):
        ax.axvline(t, color="#f4b8b8", linewidth=0.8 if round(t / 0.04) % 5 == 0 else 0.3)
    for v in np.arange(0, height_mv + 1e-9, 0.1):
        ax.axhline(v, color="#f4b8b8", linewidth=0.8 if round(v / 0.1) % 5 == 0 else 0.3)
    for r, panels in enumerate(rows):
        base = height_mv - ROW_MV * (r + 0.6)
        ax.plot([0.04, 0.08, 0.08, 0.28, 0.28, 0.32], [base, base, base + 1, base + 1, base, base],
                color="black", linewidth=1.0)
        for name, t0, dur in panels:
            ax.text(CAL_S + t0 + 0.05, base + 1.1, name, fontsize=7)
            if t0 > 0:  # the lead-change mark
                ax.plot([CAL_S + t0] * 2, [base - 0.25, base + 0.25], color="black", linewidth=0.8)
            if name not in leads:
                continue
            x = np.asarray(leads[name], dtype=float)[:n]
            a, b = int(round(t0 * fs)), int(round((t0 + dur) * fs))
            seg = x[a:b]
            finite = seg[np.isfinite(seg)]
            if not finite.size:
                continue
            y = np.clip(seg - float(np.median(finite)), -ROW_MV * 0.4, ROW_MV * 0.6)  # within its row
            ax.plot(CAL_S + t0 + np.arange(seg.size) / fs, base + y, color="black", linewidth=0.6)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue(), (width_mm, height_mm)
