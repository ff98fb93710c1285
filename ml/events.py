"""Holter-style events of a long recording: ectopic runs and patterns, pauses, rate episodes.

A 30-minute or 24-hour record holds thousands of beats; a reader wants the few events that
matter (a run of ventricular tachycardia, a 6-s pause), each with when, how long, how fast, and
one sentence of evidence. :func:`find_events` builds them from beat positions and beat labels
alone (any source: reference annotations or the beat model), plus the filtered signal to tell a
true pause from lost signal. Because the rules never look at how the labels were made, they can
be scored on their own against the MIT-BIH reference (``python -m ml.lab.evaluate_events``,
``ml/reports/events.md``).

Definitions (labels are the codes of ``ml.classes``; "ventricular" means ``V`` or ``E``):

* couplet, run: ANSI/AAMI EC57:2012 (testing and reporting performance results of cardiac
  rhythm algorithms), section on run detection: a couplet is exactly 2 consecutive ectopic
  beats, a run 3 or more. Ventricular runs of 30 s or longer are called sustained (the
  conventional limit between non-sustained and sustained ventricular tachycardia). The same
  rule gives supraventricular runs from consecutive ``A`` beats.
* ventricular bigeminy / trigeminy: at least :data:`PATTERN_MIN_CYCLES` consecutive cycles of one
  dominant beat (``N L R A``, or paced ``P``) then one ventricular beat / two dominant beats
  then one ventricular beat (the usual Holter convention).
* pause: an RR interval of :data:`PAUSE_S` or more whose signal is a quiet baseline (see
  below); no signal, noise, a flat line or a QRS-sized deflection in the gap make it an
  ``unreadable`` stretch instead, because a beat the detector missed is not a pause.
* bradycardia / tachycardia: the AHA/ACC/HRS recommendations for the standardization and
  interpretation of the electrocardiogram (Kligfield et al. 2007; Mason et al. 2007, part II,
  diagnostic statements; parts III-VI 2009) name sinus bradycardia and tachycardia against
  resting limits of 60 (or 50) and 100/min. Over a whole day rates in the 40s are normal in
  sleep, so a Holter episode of bradycardia is a running rate below :data:`BRADYCARDIA_BPM`
  (40/min, marked bradycardia); tachycardia is a running rate above :data:`TACHYCARDIA_BPM`
  (100/min). The running rate is the
  mean rate over :data:`RATE_WINDOW_BEATS` beats, and an episode must last
  :data:`RATE_EPISODE_MIN_S` or more. A fast stretch made mostly of beats already reported in a
  ventricular or supraventricular run or a fibrillation stretch is not reported again.
* ventricular fibrillation: consecutive ventricular flutter/fibrillation waves (``VF``), at
  least :data:`VF_MIN_WAVES` of them or lasting :data:`VF_MIN_S` or more.
* unreadable: a beat-free gap that is not a quiet baseline (above), and stretches of at least
  :data:`NOISE_MIN_BLOCKS` blocks of :data:`NOISE_BLOCK_S` whose activity between QRS complexes is
  broadband noise or a flat line. Beats inside them form no event; no rate is measured across
  them.

The thresholds of the gap and noise checks were chosen on the DS1 records of MIT-BIH only
(record-grouped folds, ``ml.lab.evaluate_events``), never on the DS2 records the report scores.

Example::

    events = find_events(r_peaks, labels, fs, signal=preprocess.clean(x, fs))
    [e.to_dict() for e in events]

See also: ``ml.detect.detect_r_peaks`` (beat positions), ``ml.store`` (beat labels and their
confidence), ``ml.rhythm`` (atrial fibrillation episodes, which are not repeated here).
"""

import re
from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("ventricular_couplet", "ventricular_run", "supraventricular_run", "ventricular_bigeminy",
         "ventricular_trigeminy", "pause", "bradycardia", "tachycardia", "ventricular_fibrillation",
         "unreadable")

VENTRICULAR = ("V", "E")
SUPRAVENTRICULAR_ECTOPIC = ("A",)
KNOWN_CODES = ("N", "L", "R", "A", "V", "P", "VF", "E")  # ml.classes.CODES

COUPLET_BEATS = 2  # EC57
RUN_MIN_BEATS = 3  # EC57
SUSTAINED_S = 30.0  # a ventricular run this long or longer is sustained
PATTERN_MIN_CYCLES = 3  # bigeminy/trigeminy: at least 3 cycles in a row
PAUSE_S = 2.0  # RR interval (s) from which a gap is a pause
BRADYCARDIA_BPM = 40.0
TACHYCARDIA_BPM = 100.0
RATE_WINDOW_BEATS = 8  # running rate: mean rate over 8 beats (7 RR intervals)
RATE_EPISODE_MIN_S = 10.0  # a rate episode shorter than this is not reported
RUN_SHARE_MAX = 0.5  # a fast stretch with more of its beats in reported runs is that run
VF_MIN_WAVES = 2
VF_MIN_S = 1.0
RR_MIN_S = 0.24  # shorter intervals (above 250/min) are double detections, not a rate
RR_MAX_S = 3.0  # heart_rate_extremes ignores longer intervals (below 20/min): missed beats
DEFAULT_UNSURE_BELOW = 0.77  # calibrated confidence under which a beat is unsure (MODEL_CARD 5)

# Gap check: the part of a beat-free gap that lies after the T wave and before the next P wave.
GAP_AFTER_R_S = 0.45
GAP_BEFORE_R_S = 0.10
QRS_HALF_S = 0.06  # half-width of the window where a beat's QRS amplitude and slope are read
NEIGHBOUR_BEATS = 8  # beats either side of a gap that give the local QRS amplitude and slope
# Largest |deviation| in a quiet gap, as a fraction of the QRS amplitude: never below 0.25, so a
# P wave (up to 0.25 mV against a QRS of about 1 mV) passes, since blocked P waves are what an
# atrioventricular-block pause holds.
GAP_DEFLECTION_MAX = 0.3
GAP_NOISE_MAX = 0.08  # RMS slope in a quiet gap, as a fraction of the steepest QRS slope
FLAT_SLOPE_MV_S = 0.05  # median |slope| (mV/s) below which the trace is a flat line: signal lost
# Noise stretches: blocks whose RMS slope outside the QRS complexes exceeds a fraction of the
# record's QRS slope (muscle and motion artefact are broadband; P and T waves are slow).
NOISE_BLOCK_S = 2.0
NOISE_QRS_MASK_S = 0.10  # samples this close to a beat belong to its QRS and are left out
NOISE_SLOPE_MAX = 0.2
NOISE_MIN_BLOCKS = 2  # at least 4 s of noise in a row makes an unreadable stretch

# One character per beat for the pattern rules; "X" (unreadable) and "|" (a gap) break patterns.
_CHAR = {"N": "N", "L": "N", "R": "N", "A": "A", "V": "V", "E": "V", "P": "P", "VF": "F"}
_PATTERNS = (
    ("ventricular_run", re.compile("V{%d,}" % RUN_MIN_BEATS)),
    ("ventricular_couplet", re.compile("(?<!V)V{%d}(?!V)" % COUPLET_BEATS)),
    ("supraventricular_run", re.compile("A{%d,}" % RUN_MIN_BEATS)),
    ("ventricular_bigeminy", re.compile("(?:[NAP]V){%d,}(?!V)" % PATTERN_MIN_CYCLES)),
    ("ventricular_trigeminy", re.compile("(?:[NAP]{2}V){%d,}(?!V)" % PATTERN_MIN_CYCLES)),
    ("ventricular_fibrillation", re.compile("F+")),
)
_BEATS_PER_CYCLE = {"ventricular_bigeminy": 2, "ventricular_trigeminy": 3}


@dataclass(frozen=True)
class Event:
    """One event of a record (times in seconds from the record's start).

    ``value`` is the kind's figure and ``unit`` names it: the length of a pause; the duration of
    a run, pattern, fibrillation or unreadable stretch (s); the slowest running rate of a
    bradycardia, the fastest of a tachycardia (bpm); none for a couplet. ``rate_bpm`` is the mean
    rate over the event's beats.
    """

    kind: str
    start_s: float
    end_s: float
    beats: int | None = None
    rate_bpm: float | None = None
    value: float | None = None
    unit: str | None = None
    evidence: str = ""
    unsure: bool = False

    def to_dict(self) -> dict:
        """Return the event as a JSON-serialisable dict."""
        return asdict(self)


def _validated(r_peaks, labels, fs, confidence):
    """Return (r_peaks int64, labels str array, confidence float array or None), sorted in time."""
    peaks = np.asarray(r_peaks, dtype=np.int64).reshape(-1)
    codes = np.asarray(labels, dtype=object).reshape(-1)
    if codes.size != peaks.size:
        raise ValueError(f"{peaks.size} R peaks but {codes.size} labels")
    unknown = set(codes.tolist()) - set(KNOWN_CODES)
    if unknown:
        raise ValueError(f"unknown beat codes {sorted(map(str, unknown))}; expected {KNOWN_CODES}")
    if not fs or fs <= 0:
        raise ValueError("fs must be a positive sampling rate in Hz")
    conf = None
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64).reshape(-1)
        if conf.size != peaks.size:
            raise ValueError(f"{peaks.size} R peaks but {conf.size} confidences")
    order = np.argsort(peaks, kind="stable")
    return peaks[order], codes[order], None if conf is None else conf[order]


def _qrs_measures(x, fs, peaks):
    """Return (peak-to-peak amplitude, steepest |slope| per sample) of each beat's QRS window."""
    half = max(1, int(round(QRS_HALF_S * fs)))
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, x.size - 1)
    seg = x[idx]
    return np.ptp(seg, axis=1), np.max(np.abs(np.diff(seg, axis=1)), axis=1)


def _gap_verdict(x, fs, a, b, amp, slope, *, deflection_max=GAP_DEFLECTION_MAX,
                 noise_max=GAP_NOISE_MAX):
    """Return None when the samples ``a`` .. ``b`` between two beats are a quiet baseline, else
    the reason they are not (compared with the local QRS ``amp`` and ``slope``). The keyword
    thresholds are there for the lab's sweep (``ml.lab.evaluate_events``)."""
    w = x[min(x.size, a + int(GAP_AFTER_R_S * fs)): max(0, b - int(GAP_BEFORE_R_S * fs))]
    if w.size < 2:
        return "the signal does not cover it"
    d = np.abs(np.diff(w))
    if np.median(d) * fs < FLAT_SLOPE_MV_S:
        return "the trace is a flat line (signal lost)"
    if np.max(np.abs(w - np.median(w))) > deflection_max * amp:
        return "it holds QRS-sized deflections (beats not detected, or artefact)"
    if np.sqrt(np.mean(d * d)) > noise_max * slope:
        return "it holds broadband noise"
    return None


def _noise_blocks(x, fs, peaks, codes, qrs_slope, *, slope_max=NOISE_SLOPE_MAX):
    """Return (start, end) sample spans of at least NOISE_MIN_BLOCKS noisy or flat blocks in a
    row. Blocks holding fibrillation waves are left alone: their activity is the finding."""
    size = int(round(NOISE_BLOCK_S * fs))
    n_blocks = x.size // size
    if n_blocks == 0:
        return []
    mask_half = int(round(NOISE_QRS_MASK_S * fs))
    edges = np.zeros(x.size + 1, dtype=np.int64)
    np.add.at(edges, np.clip(peaks - mask_half, 0, x.size), 1)
    np.add.at(edges, np.clip(peaks + mask_half, 0, x.size), -1)
    outside_qrs = np.cumsum(edges[:-1]) <= 0
    d = np.abs(np.diff(x, append=x[-1]))
    keep = outside_qrs[: n_blocks * size].reshape(n_blocks, size)
    d = d[: n_blocks * size].reshape(n_blocks, size)
    counts = keep.sum(axis=1)
    rms = np.sqrt(np.sum(np.where(keep, d * d, 0.0), axis=1) / np.maximum(counts, 1))
    ref = float(np.median(qrs_slope)) if qrs_slope.size else float(np.max(d))
    noisy = (rms > slope_max * ref) & (counts > 0)
    flat = np.median(d, axis=1) * fs < FLAT_SLOPE_MV_S
    vf_blocks = np.zeros(n_blocks, dtype=bool)
    vf_blocks[np.minimum(peaks[codes == "VF"] // size, n_blocks - 1)] = True
    bad = (noisy | flat) & ~vf_blocks
    spans, i = [], 0
    while i < n_blocks:
        if not bad[i]:
            i += 1
            continue
        j = i
        while j < n_blocks and bad[j]:
            j += 1
        if j - i >= NOISE_MIN_BLOCKS:
            spans.append((i * size, j * size))
        i = j
    return spans


def _running_rate(t, window_beats):
    """Return the mean rate (bpm) of every window of ``window_beats`` consecutive beats at times
    ``t`` (s); window ``j`` spans beats ``j`` .. ``j + window_beats - 1``."""
    k = window_beats - 1
    span = t[k:] - t[:-k]
    return 60.0 * k / np.where(span > 0, span, np.nan)


def _windows_clear(bad_rr, window_beats):
    """Return, per window of ``window_beats`` beats, whether none of its intervals is bad."""
    k = window_beats - 1
    csum = np.concatenate(([0], np.cumsum(bad_rr)))
    return (csum[k:] - csum[:-k]) == 0


def _fmt_s(seconds):
    return f"{seconds:.1f} s"


def _unsure_note(conf, first, last, unsure_below):
    """Return (unsure, evidence suffix) for the beats ``first`` .. ``last`` (inclusive)."""
    if conf is None:
        return False, ""
    n_low = int(np.sum(conf[first:last + 1] < unsure_below))
    if n_low == 0:
        return False, ""
    n = last - first + 1
    return True, f"; the beat classifier was unsure of {n_low} of these {n} beats"


def _pattern_event(kind, t, first, last, conf, unsure_below):
    """Return the Event of a pattern match over beats ``first`` .. ``last`` (inclusive)."""
    n = last - first + 1
    start, end = float(t[first]), float(t[last])
    duration = end - start
    rate = 60.0 * (n - 1) / duration if n > 1 and duration > 0 else None
    at = f" at {rate:.0f}/min" if rate else ""
    if kind == "ventricular_couplet":
        text = f"2 consecutive ventricular beats{at}"
    elif kind == "ventricular_run":
        text = f"{n} consecutive ventricular beats{at} over {_fmt_s(duration)}"
        if duration >= SUSTAINED_S:
            text += f", sustained ({SUSTAINED_S:.0f} s or longer)"
        if rate is not None and rate <= TACHYCARDIA_BPM:
            text += ", at an idioventricular rate (100/min or slower)"
    elif kind == "supraventricular_run":
        text = f"{n} consecutive premature supraventricular beats{at} over {_fmt_s(duration)}"
    elif kind in _BEATS_PER_CYCLE:
        cycles = n // _BEATS_PER_CYCLE[kind]
        every = "every second" if kind == "ventricular_bigeminy" else "every third"
        text = (f"{cycles} cycles in a row with {every} beat ventricular, "
                f"{n} beats over {_fmt_s(duration)}")
    else:  # ventricular_fibrillation
        text = f"{n} ventricular flutter/fibrillation waves over {_fmt_s(duration)}"
        if rate:
            text += f" at {rate:.0f}/min"
    unsure, note = _unsure_note(conf, first, last, unsure_below)
    value = None if kind == "ventricular_couplet" else round(duration, 2)
    return Event(kind, round(start, 3), round(end, 3), beats=n,
                 rate_bpm=None if rate is None else round(rate, 1), value=value,
                 unit=None if value is None else "s", evidence=text + note + ".", unsure=unsure)


def _pattern_events(chars, t, conf, unsure_below):
    """Return the events of the beat-pattern rules and the beat indices they cover."""
    text = "".join(chars)
    beat_of = np.cumsum([c != "|" for c in text]) - 1  # string position -> beat index
    events, covered = [], np.zeros(len(t), dtype=bool)
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            first, last = int(beat_of[m.start()]), int(beat_of[m.end() - 1])
            if kind == "ventricular_fibrillation":
                nxt = float(t[last + 1]) if last + 1 < len(t) else float(t[last])
                if last - first + 1 < VF_MIN_WAVES and nxt - float(t[first]) < VF_MIN_S:
                    continue
            events.append(_pattern_event(kind, t, first, last, conf, unsure_below))
            if kind in ("ventricular_run", "supraventricular_run", "ventricular_fibrillation"):
                covered[first:last + 1] = True
    return events, covered


def _rate_events(t, bad_rr, covered):
    """Return the bradycardia and tachycardia episodes (see the module docstring)."""
    if len(t) < RATE_WINDOW_BEATS:
        return []
    k = RATE_WINDOW_BEATS - 1
    rate = _running_rate(t, RATE_WINDOW_BEATS)
    clear = _windows_clear(bad_rr, RATE_WINDOW_BEATS)
    events = []
    for kind, limit in (("bradycardia", BRADYCARDIA_BPM), ("tachycardia", TACHYCARDIA_BPM)):
        beyond = clear & ((rate < limit) if kind == "bradycardia" else (rate > limit))
        idx = np.flatnonzero(beyond)
        if idx.size == 0:
            continue
        splits = np.flatnonzero(np.diff(idx) > 1) + 1
        for group in np.split(idx, splits):
            first, last = int(group[0]), int(group[-1]) + k
            # The windows at the edges reach into the normal rate: trim those intervals.
            inst = 60.0 / np.diff(t[first:last + 1])
            past = inst < limit if kind == "bradycardia" else inst > limit
            first, last = first + int(np.argmax(past)), last - int(np.argmax(past[::-1]))
            start, end = float(t[first]), float(t[last])
            if end - start < RATE_EPISODE_MIN_S:
                continue
            n = last - first + 1
            if kind == "tachycardia" and covered[first:last + 1].mean() > RUN_SHARE_MAX:
                continue
            extreme = float(rate[group].min() if kind == "bradycardia" else rate[group].max())
            mean_rate = 60.0 * (n - 1) / (end - start)
            word = "below" if kind == "bradycardia" else "above"
            which = "slowest" if kind == "bradycardia" else "fastest"
            text = (f"Running heart rate ({RATE_WINDOW_BEATS}-beat mean) {word} {limit:.0f}/min "
                    f"for {_fmt_s(end - start)}, {which} {extreme:.0f}/min.")
            events.append(Event(kind, round(start, 3), round(end, 3), beats=n,
                                rate_bpm=round(mean_rate, 1), value=round(extreme, 1),
                                unit="bpm", evidence=text))
    return events


def _merge_spans(spans):
    """Return the (start, end) spans with overlapping or touching ones merged, sorted."""
    merged = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def find_events(r_peaks, labels, fs, *, signal=None, confidence=None,
                unsure_below=DEFAULT_UNSURE_BELOW, duration_s=None) -> list[Event]:
    """Return the events of a record, sorted by start time.

    ``r_peaks`` are the sample indices of the beats, ``labels`` one code of ``ml.classes`` per
    beat, ``fs`` the sampling rate (Hz). ``signal`` is the band-passed signal in mV
    (``ml.preprocess.clean``); without it no gap can be confirmed as a pause, so every gap of
    :data:`PAUSE_S` or more is reported as ``unreadable``. ``confidence`` is each beat's top
    calibrated probability: events built on beats below ``unsure_below`` are marked unsure.
    ``duration_s`` is the record's length (default: the signal's, else the last beat): beat-free
    stretches at its start and end are checked like gaps between beats.
    """
    peaks, codes, conf = _validated(r_peaks, labels, fs, confidence)
    fs = float(fs)
    x = None if signal is None else np.asarray(signal, dtype=np.float64).reshape(-1)
    if duration_s is None:
        duration_s = x.size / fs if x is not None else (peaks[-1] / fs if peaks.size else 0.0)
    t = peaks / fs
    n = peaks.size
    events: list[Event] = []
    unreadable: list[tuple[float, float, str]] = []  # (start s, end s, why)

    if x is not None and n:
        amp, slope = _qrs_measures(x, fs, peaks)
        for a, b in _noise_blocks(x, fs, peaks, codes, slope):
            unreadable.append((a / fs, b / fs, "noise or a flat line between the beats"))
    else:
        amp = slope = np.zeros(n)

    # Beat-free stretches: gaps between beats and, when the signal shows them, the record's
    # start and end (quiet there is no pause: no beat closes it; a flat line or noise is unreadable).
    rr = np.diff(t)
    gaps = [(int(i), float(t[i]), float(t[i + 1])) for i in np.flatnonzero(rr >= PAUSE_S)]
    if x is not None:
        edges = [(0.0, float(t[0]) if n else float(duration_s))]
        if n:
            edges.append((float(t[-1]), float(duration_s)))
        gaps += [(None, a, b) for a, b in edges if b - a >= PAUSE_S]
    bad_gap = np.zeros(max(n - 1, 0), dtype=bool)
    for i, start, end in gaps:
        if x is None:
            why = "no signal was given to check whether it is a pause"
        else:
            near = slice(0, n) if i is None else slice(max(0, i - NEIGHBOUR_BEATS),
                                                        i + NEIGHBOUR_BEATS + 2)
            local_amp = float(np.median(amp[near])) if n else np.inf
            local_slope = float(np.median(slope[near])) if n else np.inf
            why = _gap_verdict(x, fs, int(round(start * fs)), int(round(end * fs)),
                               local_amp, local_slope)
        if why is None and i is not None:
            events.append(Event("pause", round(start, 3), round(end, 3), value=round(end - start, 2),
                                unit="s", evidence=f"No beat for {end - start:.2f} s, over a "
                                                   "quiet baseline without QRS complexes."))
        elif why is not None:
            unreadable.append((start, end, why))
            if i is not None:
                bad_gap[i] = True

    spans = _merge_spans([(a, b) for a, b, _ in unreadable])
    reasons = {(a, b): why for a, b, why in unreadable}
    in_unreadable = np.zeros(n, dtype=bool)
    for a, b in spans:
        in_unreadable |= (t > a) & (t < b)
        text = reasons.get((a, b), "noise, a flat line or beats that could not be detected")
        events.append(Event("unreadable", round(a, 3), round(b, 3), value=round(b - a, 2), unit="s",
                            evidence=f"Unreadable from {a:.1f} s to {b:.1f} s: {text}."))

    chars = [_CHAR[c] if not bad else "X" for c, bad in zip(codes, in_unreadable)]
    # A pause or an unreadable gap ends every pattern: beats on either side are not consecutive.
    chars = [c + ("|" if i < n - 1 and rr[i] >= PAUSE_S else "") for i, c in enumerate(chars)]
    pattern_events, covered = _pattern_events(chars, t, conf, unsure_below)
    events += pattern_events

    # No rate across a double detection, an unreadable stretch or fibrillation waves.
    not_beat = in_unreadable | (codes == "VF")
    bad_rr = (rr < RR_MIN_S) | bad_gap | not_beat[:-1] | not_beat[1:]
    events += _rate_events(t, bad_rr, covered)
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(events, key=lambda e: (e.start_s, order[e.kind]))


def heart_rate_extremes(r_peaks, fs, *, labels=None, window_beats=RATE_WINDOW_BEATS) -> dict | None:
    """Return {"min": {"bpm", "time_s"}, "max": {"bpm", "time_s"}} over a running window of beats,
    ignoring implausible intervals and noise; None when too few beats.

    The running rate is the mean rate over ``window_beats`` consecutive beats; a window holding
    an interval shorter than :data:`RR_MIN_S` or longer than :data:`RR_MAX_S` (a doubled or a
    missed beat), or a fibrillation wave (``labels`` ``VF``: not a beat), is left out. ``time_s``
    is the middle of the window.
    """
    peaks = np.sort(np.asarray(r_peaks, dtype=np.int64).reshape(-1))
    if window_beats < 2 or peaks.size < window_beats:
        return None
    t = peaks / float(fs)
    rr = np.diff(t)
    bad_rr = (rr < RR_MIN_S) | (rr > RR_MAX_S)
    if labels is not None:
        vf = np.asarray(labels, dtype=object).reshape(-1)[np.argsort(np.asarray(r_peaks).reshape(-1),
                                                                      kind="stable")] == "VF"
        bad_rr = bad_rr | vf[:-1] | vf[1:]
    rate = _running_rate(t, window_beats)
    ok = np.flatnonzero(_windows_clear(bad_rr, window_beats) & np.isfinite(rate))
    if ok.size == 0:
        return None
    k = window_beats - 1

    def at(j):
        return {"bpm": round(float(rate[j]), 1), "time_s": round(float(t[j] + t[j + k]) / 2, 3)}

    return {"min": at(ok[np.argmin(rate[ok])]), "max": at(ok[np.argmax(rate[ok])])}
