"""Read every lead of a standard 3x4 12-lead report picture, on the rhythm strip's time axis.

``ml.io.image`` reads one lead of a report page (the rhythm strip); ST segments, Q waves, the axis
and bundle-branch blocks need all twelve (``ml.twelve_lead``). The standard print (``LEAD_GRID``)
has three rows of four 2.5 s leads, I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6, each row opened by a
calibration pulse, with lead-change marks (ticks, bars, gaps or the printed lead names) where one
lead gives way to the next, and usually one to three 10 s rhythm strips below. Printers draw every
lead on the same time axis, so a picture column is one instant in every row.

A page is read this way only on evidence, never by default: a grid scale that ``ml.io.image`` has
checked against the 10 s rows; three top rows that each last 10 s and start together; and the lead
changes marked where the layout puts them (every 2.5 s) and not half-way between (where a 6x2 page
or a rhythm-strip page has its marks or none). Otherwise no lead is named.

Each lead is read in mV from the row's own zero (the foot of its calibration pulse, the line the
printer draws the lead's isoelectric baseline on) and scaled by the pulse's gain on the grid, so ST
levels keep their meaning: nothing is high-passed. The pulse and the lead changes are cut out
(NaN), not left to look like waves.

See also: ``ml.io.image`` (the page, its grid and rows), ``ml.twelve_lead`` (the reading).
"""

from dataclasses import replace

import numpy as np

from ml.io import layout
from ml.io.leads import STANDARD_LEADS

# The standard 3x4 layout (the rows of ml.io.render.LEAD_GRID, which draws it for the tests).
LEAD_ROWS = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
LEAD_S = 2.5  # one column of the 3x4 layout at 25 mm/s: 62.5 mm
ROW_S = 10.0
PAPER_SPEED_MM_S = 25.0
PAPER_GAIN_MM_MV = 10.0  # used only when no row of the page has a calibration pulse
MAX_ROWS = 6  # the three lead rows and up to three rhythm strips (V1, II, V5)
ROW_LENGTH_TOLERANCE = 0.1  # a lead row lasts 10 s +- 10 %
ROW_START_TOLERANCE_MM = 3.0  # the rows' traces start together (after their pulses)
# Lead-change marks (a tick or bar beside the trace, a gap, a step between two flat stretches) are
# sought this far either side of where the layout puts the change.
MARK_WINDOW_MM = 1.5
LABEL_AFTER_MM = 4.0  # ink beside the trace is also sought this far after (the next lead's name)
MARK_MIN_MM = 1.0  # ink off the trace this tall within one picture column is a tick or a bar
TRACE_REACH_MM = 0.5  # ink this close to the trace (or to its path in the next columns) is trace
MARK_GAP_MM = 0.5  # a gap in the trace this long
STEP_SIDE_MM = 1.5  # a step: flat for this long on each side (a P wave's top is shorter),
STEP_SKIP_MM = 0.3  # this close to the step column left out (the tick itself),
STEP_MIN_MM = 1.0  # levels this far apart,
STEP_FLAT_MM = 0.5  # and each side within this much
STEP_FLAT_SHARE = 0.25  # and within this share of the step
TICK_MIN_MM = 2.0  # a tick: a column of ink this tall,
TICK_BESIDE_MM = 0.4  # with the columns this far beyond a pen's width either side holding at most
TICK_BESIDE_SHARE = 1 / 3  # this share of its ink, and crossing the trace by
TICK_CROSS_MM = 0.5  # this much above and below
# Lead changes must be marked in at least this share of the 9 places, and this much more often
# than the places half-way between (a control: a 6x2 page changes lead there, a strip nowhere).
MIN_MARKED = 7 / 9
MIN_MARKED_ABOVE_BETWEEN = 0.5
EDGE_PULSE_FLAT_MM = 1.5  # a trace cut by the page edge opens flat this long (within
EDGE_PULSE_FLAT_PTP_MM = 0.3  # this much) when it opens on a calibration pulse's top
MARK_CUT_MM = 1.0  # samples this close to a lead change are NaN: the mark and the jump between leads
# Text crossing a trace: the reading turns back by ZIGZAG_MM at least ZIGZAG_MIN_TURNS times, each
# within ZIGZAG_SPAN_MM of the last.
ZIGZAG_MM = 1.0
ZIGZAG_MIN_TURNS = 4
ZIGZAG_SPAN_MM = 0.5
GAP_FILL_MM = 1.0  # gaps in a trace up to this long are interpolated; longer ones stay NaN
SIGNAL_ORIGIN_SEARCH_MM = 40.0  # the strip read by ml.io.image starts this far into its row at most
MIN_ORIGIN_CORR = 0.98  # the same row read twice must agree, or the time axis is not trusted
MIN_RHYTHM_CORR = 0.9  # a rhythm strip is lead II when it matches the II column over its 2.5 s

LAYOUT_NOTE = "lead names inferred from the standard 3x4 layout"


def read_report_leads(rows, ink, *, signal_row, signal, fs, px_per_mm):
    """Return ({lead: samples in mV on ``signal``'s time axis}, notes), or (None, notes) when unsure.

    ``rows`` are the page's rows of traces as ``ml.io.image`` found them ([(baseline y, picture row
    of the trace in every column or NaN, thickness)], top to bottom), ``ink`` the trace-ink mask they
    were followed in, ``signal`` the strip read from ``rows[signal_row]`` at ``fs`` and ``px_per_mm``
    the grid scale checked for that row (None when the scale is not trusted). Every lead array is as
    long as ``signal``; sample k is the instant of ``signal[k]``; a lead holds its own 2.5 s column
    of the page and NaN elsewhere (lead II: the whole rhythm strip when one matches its column).
    """
    if px_per_mm is None or not 3 <= len(rows) <= MAX_ROWS:
        return None, _not_read(len(rows), "the paper grid's scale could not be trusted"
                               if px_per_mm is None else f"the page has {len(rows)} rows of traces")
    px_per_s = PAPER_SPEED_MM_S * px_per_mm
    traces = [np.asarray(r[1], dtype=np.float64) for r in rows]
    pulses = [_pulse(t, px_per_mm) for t in traces]
    gains = [p.gain_mm_mv for _, p in pulses if p is not None]
    # The leads start where the trace resumes after the pulse (or where it starts, without one).
    starts = [_resumes(t, first + p.end) if p is not None else float(first)
              for t, (first, p) in zip(traces, pulses)]
    with_pulse = [s for s, (_, p) in zip(starts[:3], pulses[:3]) if p is not None] or starts[:3]
    x_start = float(np.median(with_pulse))
    row_px = ROW_S * px_per_s
    for t, s in zip(traces[:3], starts[:3]):
        last = np.flatnonzero(~np.isnan(t))[-1]
        if s - x_start > ROW_START_TOLERANCE_MM * px_per_mm or \
                abs((last - x_start) / row_px - 1.0) > ROW_LENGTH_TOLERANCE:
            return None, _not_read(len(rows), "its top three rows do not each last 10 s from the same start")
    col_px = LEAD_S * px_per_s
    changes = x_start + col_px * np.arange(1, len(LEAD_ROWS[0]))
    halfway = x_start + col_px * (np.arange(len(LEAD_ROWS[0])) + 0.5)
    spacing = np.diff([r[0] for r in rows[:4]] if len(rows) > 3 else [r[0] for r in rows[:3]])
    reach = 0.5 * float(np.median(spacing))
    marks = np.array([[_mark(ink, rows[i], x, reach, px_per_mm) for x in changes] for i in range(3)],
                     dtype=float)
    between = [_mark(ink, rows[i], x, reach, px_per_mm) for i in range(3) for x in halfway]
    marked, marked_between = np.mean(~np.isnan(marks)), np.mean([m is not None for m in between])
    if marked < MIN_MARKED or marked - marked_between < MIN_MARKED_ABOVE_BETWEEN:
        return None, _not_read(len(rows), f"lead changes were not marked every {LEAD_S:g} s in its "
                                          f"top three rows ({np.sum(~np.isnan(marks))} of {marks.size} places)")
    # Each lead change is where its rows' marks put it (the same column in every row).
    found = ~np.isnan(marks).all(axis=0)
    changes[found] = np.nanmedian(marks[:, found], axis=0)

    fallback_gain = float(np.median(gains)) if gains else PAPER_GAIN_MM_MV
    n = len(signal)
    origin = _signal_origin(traces[signal_row], signal, fs, px_per_s, px_per_mm)
    if origin is None:
        return None, _not_read(len(rows), "the rhythm strip's time axis could not be matched")
    x_of = origin + np.arange(n) * px_per_s / fs
    cut = MARK_CUT_MM * px_per_mm
    edges = np.concatenate([[x_start], changes, [x_start + ROW_S * px_per_s]])
    leads, notes = {}, []
    no_pulse = [str(i + 1) for i in range(len(LEAD_ROWS)) if pulses[i][1] is None]
    if no_pulse:
        notes.append(f"No calibration pulse in row(s) {', '.join(no_pulse)}: {fallback_gain:g} mm/mV "
                     "assumed there, and each lead measured from its row's median level")
    for i, names in enumerate(LEAD_ROWS):
        mv = _row_mv(traces[i], pulses[i][1], fallback_gain, px_per_mm)
        for j, name in enumerate(names):
            hi = edges[j + 1] - (cut if j + 1 < len(names) else 0.0)
            leads[name] = _sample(mv, x_of, edges[j] + cut, hi, px_per_mm)
    rhythm = _rhythm_strip(traces[3:], pulses[3:], leads[RHYTHM_LEAD], x_of, x_start, fallback_gain,
                           px_per_s, px_per_mm)
    notes.insert(0, f"All 12 leads read ({LAYOUT_NOTE}), {LEAD_S:g} s each, on the rhythm strip's time "
                    "axis; calibration pulses and lead changes left out")
    if rhythm is not None:
        leads[RHYTHM_LEAD] = rhythm
        notes.append(f"The {ROW_S:g} s rhythm strip was identified as lead {RHYTHM_LEAD} (it matches "
                     f"the {RHYTHM_LEAD} column)")
    return {name: leads[name] for name in STANDARD_LEADS}, notes


NOT_READ_NOTE = "Only one lead was read: the page was not recognised as the standard 3x4 12-lead layout"


def _not_read(n_rows, why):
    """Return the note saying why a report's leads were not read (none for a one- or two-row page)."""
    if n_rows < len(LEAD_ROWS):
        return []
    return [f"{NOT_READ_NOTE} ({why})"]


def not_read_reason(notes):
    """Return why :func:`read_report_leads` read no leads, from the notes it returned, in the words
    the result's not-assessed list uses (``Recording.leads_unread``); "" when it said nothing."""
    said = next((n for n in notes if n.startswith(NOT_READ_NOTE)), "")
    return said[:1].lower() + said[1:]


def _pulse(trace, px_per_mm):
    """Return (first column of the trace, the calibration pulse at its start or None).

    The page's edge may cut off the pulse's rise: a trace that opens flat and raised is given back
    the start of its flat top, so that a pulse of standard width is recognised (its fall and its
    height must still be a pulse's).
    """
    cols = np.flatnonzero(~np.isnan(trace))
    first = int(cols[0])
    seg = np.interp(np.arange(cols[-1] - first + 1), cols - first, trace[cols])
    pulse = layout.find_pulse(seg, px_per_mm)
    if pulse is None:
        opening = seg[: max(2, int(round(EDGE_PULSE_FLAT_MM * px_per_mm)))]
        if np.ptp(opening) <= EDGE_PULSE_FLAT_PTP_MM * px_per_mm:
            pad = int(round(layout.PULSE_WIDTH_MM[0] * px_per_mm))
            found = layout.find_pulse(np.concatenate([np.full(pad, seg[0]), seg]), px_per_mm)
            if found is not None and found.side == "start" and found.end > pad:
                pulse = replace(found, start=max(0, found.start - pad), end=found.end - pad)
    return first, (pulse if pulse is not None and pulse.side == "start" else None)


def _resumes(trace, x):
    """Return the first column at or after ``x`` where the trace is drawn."""
    return float(x + np.argmax(~np.isnan(trace[x:])))


def _without_text(trace, px_per_mm):
    """Return ``trace`` with NaN where printed text crosses it (a lead's name touching a QRS).

    There the column reader hops between the letters and the trace: the reading turns back by a
    millimetre or more every few columns, many times over; a QRS complex turns a few times, each
    turn farther from the last.
    """
    step = np.diff(trace)
    big = np.flatnonzero(np.abs(step) >= ZIGZAG_MM * px_per_mm)
    turned = np.sign(step[big[1:]]) != np.sign(step[big[:-1]])
    turns = big[1:][turned]
    out = trace.copy()
    if turns.size == 0:
        return out
    for cluster in np.split(turns, np.flatnonzero(np.diff(turns) > ZIGZAG_SPAN_MM * px_per_mm) + 1):
        if cluster.size >= ZIGZAG_MIN_TURNS:
            out[cluster[0] - 1: cluster[-1] + 2] = np.nan
    return out


def _row_mv(trace, pulse, fallback_gain, px_per_mm):
    """Return the row's trace in mV from the foot of its calibration pulse (NaN where absent)."""
    trace = _without_text(trace, px_per_mm)
    if pulse is None:
        return (np.nanmedian(trace) - trace) / (fallback_gain * px_per_mm)
    first = int(np.flatnonzero(~np.isnan(trace))[0])
    a, b = first + pulse.start, first + pulse.end
    width = b - a + 1
    top = float(np.nanmedian(trace[a + width // 4: b + 1 - width // 4]))
    px_per_mv = pulse.gain_mm_mv * px_per_mm
    foot = top + px_per_mv  # the pulse is 1 mV high; picture rows grow downwards
    return (foot - trace) / px_per_mv


def _sample(mv, x_of, lo, hi, px_per_mm):
    """Return ``mv`` (one value per picture column) at the columns ``x_of``, NaN outside [lo, hi]."""
    out = np.full(x_of.size, np.nan)
    cols = np.flatnonzero(~np.isnan(mv))
    inside = (x_of >= lo) & (x_of <= hi)
    if cols.size < 2 or not inside.any():
        return out
    x = x_of[inside]
    out[inside] = np.interp(x, cols, mv[cols])
    # Leave long gaps (a hidden trace) empty rather than drawing a straight line across them.
    after = np.clip(np.searchsorted(cols, x), 1, cols.size - 1)
    span = cols[after] - cols[after - 1]
    outside = (x < cols[0]) | (x > cols[-1])
    out[np.flatnonzero(inside)[(span > GAP_FILL_MM * px_per_mm) | outside]] = np.nan
    return out


def _mark(ink, row, x, reach, px_per_mm) -> float | None:
    """Return the picture column of the lead-change mark near column ``x`` of ``row``, or None.

    A mark is a gap in the trace; a tick one pen-width wide through the trace; a step, the trace
    flat on both sides of one column at two levels (a tick drawn within the jump from one lead's
    level to the next); or ink beside the trace, MARK_MIN_MM tall in one column (a tick or bar
    off the trace, or the next lead's printed name just after the change). A QRS complex leans,
    is not flat and stays on its own trace, so it is none of these.
    """
    y, trace, thickness = row
    lo = max(0, int(round(x - MARK_WINDOW_MM * px_per_mm)))
    hi = min(trace.size, int(round(x + MARK_WINDOW_MM * px_per_mm)) + 1)
    top, bottom = max(0, int(y - reach)), min(ink.shape[0], int(y + reach))
    label_hi = min(trace.size, int(round(x + LABEL_AFTER_MM * px_per_mm)) + 1)
    for found in (_gap(trace, lo, hi, px_per_mm),
                  _lone_column(ink[top:bottom], top, trace, lo, hi, thickness, px_per_mm),
                  _step(trace, lo, hi, px_per_mm),
                  _ink_beside(ink, top, bottom, trace, lo, label_hi, px_per_mm)):
        if found is not None:
            return float(found)
    return None


def _gap(trace, lo, hi, px_per_mm):
    """Return the middle column of the longest gap in the trace in [lo, hi), if MARK_GAP_MM long."""
    missing = np.concatenate([[0], np.isnan(trace[lo:hi]).astype(int), [0]])
    edges = np.flatnonzero(np.diff(missing))
    if edges.size == 0:
        return None
    starts, ends = edges[::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return lo + (starts[k] + ends[k]) / 2.0 if ends[k] - starts[k] >= MARK_GAP_MM * px_per_mm else None


def _lone_column(band, top, trace, lo, hi, thickness, px_per_mm):
    """Return a column in [lo, hi) crossed by a tick, or None.

    A tick is a vertical stroke one pen-width wide, TICK_MIN_MM tall, that the columns beside it
    lack, and that reaches TICK_CROSS_MM above and below the trace just before or just after it.
    A narrow QRS complex is as upright, but rises from the trace on one side only.
    """
    counts = band.sum(axis=0)
    d = int(np.ceil(thickness)) + max(1, int(round(TICK_BESIDE_MM * px_per_mm)))
    cross = TICK_CROSS_MM * px_per_mm + thickness / 2.0
    for c in range(max(lo, d), min(hi, counts.size - d, trace.size - d)):
        if counts[c] < TICK_MIN_MM * px_per_mm or max(counts[c - d], counts[c + d]) > TICK_BESIDE_SHARE * counts[c]:
            continue
        ink_rows = top + np.flatnonzero(band[:, c])
        for level in (trace[c - d], trace[c + d]):
            if ink_rows[0] <= level - cross and ink_rows[-1] >= level + cross:
                return c
    return None


def _step(trace, lo, hi, px_per_mm):
    """Return a column in [lo, hi) where the trace steps between two flat stretches, or None."""
    side = max(2, int(round(STEP_SIDE_MM * px_per_mm)))
    skip = max(1, int(round(STEP_SKIP_MM * px_per_mm)))
    for c in range(max(lo, side + skip), min(hi, trace.size - side - skip)):
        before = trace[c - skip - side: c - skip]
        after = trace[c + skip: c + skip + side]
        if np.isnan(before).any() or np.isnan(after).any():
            continue
        rise = abs(np.mean(after) - np.mean(before))
        wobble = max(np.ptp(before), np.ptp(after))
        if rise >= STEP_MIN_MM * px_per_mm and wobble <= min(STEP_FLAT_MM * px_per_mm, STEP_FLAT_SHARE * rise):
            return c
    return None


def _ink_beside(ink, top, bottom, trace, lo, hi, px_per_mm):
    """Return the first column in [lo, hi) with MARK_MIN_MM of ink off the trace's path, or None."""
    near = max(1, int(round(TRACE_REACH_MM * px_per_mm)))
    rows = np.arange(top, bottom)[:, None]
    # The trace's path: the range it covers in each column and its neighbours (steep strokes).
    path = np.lib.stride_tricks.sliding_window_view(
        np.pad(trace, near, constant_values=np.nan), 2 * near + 1)[lo:hi]
    low = np.where(np.isnan(path), np.inf, path).min(axis=1)
    high = np.where(np.isnan(path), -np.inf, path).max(axis=1)
    on_trace = (rows >= low - near) & (rows <= high + near)
    extra = (ink[top:bottom, lo:hi] & ~on_trace).sum(axis=0)
    tall = np.flatnonzero(extra >= MARK_MIN_MM * px_per_mm)
    return lo + int(tall[0]) if tall.size else None


def _signal_origin(trace, signal, fs, px_per_s, px_per_mm):
    """Return the picture column of ``signal[0]`` in its row, found by reading the row again.

    ``ml.io.image`` keeps the row's longest stretch and starts it after the pulse and the lead
    label; matching the same pixels at every offset finds where, so the two stay aligned.
    """
    cols = np.flatnonzero(~np.isnan(trace))
    step = px_per_s / fs
    k = np.arange(signal.size)
    best, best_corr = None, MIN_ORIGIN_CORR
    for x0 in range(int(cols[0]), int(cols[0] + SIGNAL_ORIGIN_SEARCH_MM * px_per_mm) + 1):
        x = x0 + k * step
        if x[-1] > cols[-1] + 1:
            break
        corr = np.corrcoef(-np.interp(x, cols, trace[cols]), signal)[0, 1]
        if corr > best_corr:
            best, best_corr = float(x0), corr
    return best


def _rhythm_strip(traces, pulses, column, x_of, x_start, fallback_gain, px_per_s, px_per_mm):
    """Return the rhythm strip below the lead rows that is lead ``RHYTHM_LEAD`` (NaN at its pulse),
    checked against that lead's own column, or None when none matches."""
    known = ~np.isnan(column)
    for trace, (_, pulse) in zip(traces, pulses):
        mv = _row_mv(trace, pulse, fallback_gain, px_per_mm)
        strip = _sample(mv, x_of, x_start + MARK_CUT_MM * px_per_mm, x_start + ROW_S * px_per_s, px_per_mm)
        both = known & ~np.isnan(strip)
        if both.sum() > 0.8 * known.sum() and np.corrcoef(strip[both], column[both])[0, 1] >= MIN_RHYTHM_CORR:
            return strip
    return None
