"""Score the Holter-style events of ``ml.events`` against the MIT-BIH reference and write a report.

    python -m ml.lab.evaluate_events --data ../shared/data --out ml/reports/events.md

1. Rules on reference beats (all 48 records): the reference R peaks and beat labels go through
   ``ml.events.find_events`` with the band-passed MLII signal. This measures the event logic
   alone, against references it does not build itself: rhythm annotations, pauses read from the
   reference RR intervals, and runs counted from the beat labels by a separate, plain count.
2. End to end on patients the beat model never saw: our R-peak detector, our features and the
   inter-patient beat model ``ml/models/ecg_cnn_ds1_aami.keras`` (trained on DS1 + SVDB only) on
   the DS2 records only (no paced record is in DS2). The served model trained on every MIT-BIH
   record, so it is never scored here. 2b repeats it with serving's AF rule, on reference AF.
3. Thresholds: the pause (gap) and noise checks of ``ml.events`` were chosen on DS1 only; the
   sweep that chose them is rerun here and written into the report, with record-grouped
   cross-validation over ``ml.lab.dataset.DS1_FOLDS``.

Matching: a detected event and a reference episode match when their spans overlap, each widened
by :data:`MATCH_TOL_S` (the beat-matching tolerance of ANSI/AAMI EC57). Se = reference episodes
matched by at least one detection / reference episodes; +P = detections matching at least one
reference episode of any source of that kind / detections. A detection of another kind (a
couplet where the reference has a 3-beat run) does not count: run lengths are read strictly.
"""

import argparse
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml import lab
from ml import events, preprocess
from ml.lab import dataset

REPO = lab.REPO
E2E_MODEL = REPO / "ml" / "models" / "ecg_cnn_ds1_aami.keras"
# MIT-BIH beat symbols -> ml.classes codes. Bundle branch block beats keep L/R; aberrated (a),
# nodal (J) and supraventricular (S) premature beats are premature supraventricular beats (A);
# escape (e, j, n), fusion (F, f), unclassified (Q) and unspecified block (B) beats are neither
# ventricular nor premature supraventricular, so they count as N; R-on-T (r) is V.
REFERENCE_CODES = {**dict.fromkeys("NejnFfQB", "N"), "L": "L", "R": "R", **dict.fromkeys("AaJS", "A"),
                   "V": "V", "r": "V", "E": "E", "!": "VF", "/": "P"}
# The inter-patient model's AAMI outputs (N, S, V, F) -> codes; fusion is not a ventricular
# ectopic beat for runs, as in EC57's VEB runs.
AAMI_TO_CODE = {"N": "N", "S": "A", "V": "V", "F": "N"}
# MIT-BIH rhythm annotations (aux of "+") that name an event kind. AFIB/AFL belong to ml.rhythm.
RHYTHM_KIND = {"(VT": "ventricular_run", "(IVR": "ventricular_run",
               "(SVTA": "supraventricular_run", "(B": "ventricular_bigeminy",
               "(T": "ventricular_trigeminy", "(VFL": "ventricular_fibrillation",
               "(SBR": "bradycardia"}
AF_RHYTHMS = ("(AFIB", "(AFL")
MATCH_TOL_S = 0.15
RULE_SOURCE = "rule on reference beats"  # end to end: the same rule on the reference beats
# Threshold sweeps on DS1 (section 3).
DEFLECTION_GRID = (0.25, 0.3, 0.4, 0.5)  # from 0.25: a P wave must pass (ml.events)
GAP_NOISE_GRID = (0.03, 0.05, 0.08, 0.12)
NOISE_SLOPE_GRID = (0.12, 0.15, 0.2, 0.25, 0.3)
NOISE_PRECISION_MIN = 0.9  # share of flagged time inside annotated noise the choice must reach
TARGETS = {"ventricular_run": 0.85, "supraventricular_run": 0.75, "ventricular_couplet": 0.80}
TIMING_REPEATS = 20


@dataclass
class Reference:
    """One MIT-BIH record with its reference beats, rhythm episodes and noise spans."""

    record: int
    fs: float
    raw: np.ndarray  # MLII, mV
    signal: np.ndarray  # MLII band-passed (ml.preprocess.clean)
    samples: np.ndarray
    codes: np.ndarray
    rhythms: list  # (annotation, start_s, end_s)
    noisy: list  # (start_s, end_s): MLII marked noisy or unreadable

    @property
    def duration_s(self):
        return self.raw.size / self.fs


def read_reference(mitdb, record):
    """Return the :class:`Reference` of one MIT-BIH record."""
    import wfdb

    path = str(Path(mitdb) / str(record))
    rec = wfdb.rdrecord(path)
    names = [n.upper() for n in rec.sig_name]
    channel = names.index("MLII") if "MLII" in names else 0
    x = np.nan_to_num(rec.p_signal[:, channel])
    fs = float(rec.fs)
    ann = wfdb.rdann(path, "atr")
    symbols = np.asarray(ann.symbol)
    samples = np.asarray(ann.sample)
    beat = np.isin(symbols, list(REFERENCE_CODES))
    marks = [(s, a.strip().rstrip("\x00")) for s, sym, a in zip(samples, symbols, ann.aux_note)
             if sym == "+" and a.startswith("(")]
    ends = [s for s, _ in marks[1:]] + [x.size]
    rhythms = [(name, s / fs, e / fs) for (s, name), e in zip(marks, ends)]
    # Noise annotations "~": subtype -1 = both signals unreadable, else bit k = signal k noisy.
    noisy, since = [], None
    for s, sym, sub in zip(samples, symbols, ann.subtype):
        if sym != "~":
            continue
        bad = sub == -1 or bool((int(sub) >> channel) & 1)
        if bad and since is None:
            since = s
        elif not bad and since is not None:
            noisy.append((since / fs, s / fs))
            since = None
    if since is not None:
        noisy.append((since / fs, x.size / fs))
    codes = np.array([REFERENCE_CODES[s] for s in symbols[beat]], dtype=object)
    return Reference(record, fs, x, preprocess.clean(x, fs), samples[beat], codes, rhythms, noisy)


def _code_runs(codes, members):
    """Return (first, last) index pairs of the maximal runs of consecutive codes in ``members``."""
    inside = np.isin(codes, members).astype(np.int8)
    edges = np.diff(np.concatenate(([0], inside, [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def reference_events(ref):
    """Return {kind: {source: [(start_s, end_s), ...]}} of the reference episodes of ``ref``.

    Runs are counted from the beat labels the EC57 way (consecutive ectopic beats, whatever the
    rate or the gaps between them), independently of ``ml.events``.
    """
    t = ref.samples / ref.fs
    out = {kind: {} for kind in events.KINDS}

    def spans(pairs):
        return [(float(t[a]), float(t[b])) for a, b in pairs]

    v_runs = _code_runs(ref.codes, events.VENTRICULAR)
    a_runs = _code_runs(ref.codes, events.SUPRAVENTRICULAR_ECTOPIC)
    out["ventricular_couplet"]["EC57, beat labels"] = spans(
        [(a, b) for a, b in v_runs if b - a + 1 == events.COUPLET_BEATS])
    out["ventricular_run"]["EC57, beat labels"] = spans(
        [(a, b) for a, b in v_runs if b - a + 1 >= events.RUN_MIN_BEATS])
    out["supraventricular_run"]["EC57, beat labels"] = spans(
        [(a, b) for a, b in a_runs if b - a + 1 >= events.RUN_MIN_BEATS])
    for name, start, end in ref.rhythms:
        if name in RHYTHM_KIND:
            out[RHYTHM_KIND[name]].setdefault(f"rhythm `{name}`", []).append((start, end))
    long_rr = np.flatnonzero(np.diff(t) >= events.PAUSE_S)
    out["pause"]["reference RR >= 2 s"] = [(float(t[i]), float(t[i + 1])) for i in long_rr]
    out["unreadable"]["MLII noise annotations"] = list(ref.noisy)
    return out


def _overlapping(a, b, tol=MATCH_TOL_S):
    """Return, per span of ``a``, whether it overlaps any span of ``b`` (each widened by tol)."""
    if not a or not b:
        return np.zeros(len(a), dtype=bool)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return ((a[:, None, 0] - tol <= b[None, :, 1] + tol)
            & (b[None, :, 0] - tol <= a[:, None, 1] + tol)).any(axis=1)


def score_record(found, refs):
    """Return {kind: {"n_det", "tp_det", "sources": {source: (n_ref, tp_ref)}}} for one record."""
    out = {}
    for kind in events.KINDS:
        det = [(e.start_s, e.end_s) for e in found if e.kind == kind]
        sources = refs.get(kind, {})
        union = [s for spans in sources.values() for s in spans]
        out[kind] = {"n_det": len(det), "tp_det": int(_overlapping(det, union).sum()),
                     "has_ref": bool(sources),
                     "sources": {src: (len(sp), int(_overlapping(sp, det).sum()))
                                 for src, sp in sources.items()}}
    # Couplets and runs together ("salvos" of 2 or more): shows how many misses are a run
    # found one beat short or long, not missed.
    salvo = ("ventricular_couplet", "ventricular_run")
    det = [(e.start_s, e.end_s) for e in found if e.kind in salvo]
    ref = [x for kind in salvo for x in refs.get(kind, {}).get("EC57, beat labels", [])]
    out["ventricular_salvo"] = {"n_det": len(det), "tp_det": int(_overlapping(det, ref).sum()),
                                "has_ref": True, "sources": {"EC57, beat labels": (
                                    len(ref), int(_overlapping(ref, det).sum()))}}
    return out


def total(scores, records=None):
    """Return the per-kind sums of :func:`score_record` results ({record: score}) over records."""
    out = {}
    for rec, score in scores.items():
        if records is not None and rec not in records:
            continue
        for kind, s in score.items():
            t = out.setdefault(kind, {"n_det": 0, "tp_det": 0, "has_ref": False, "sources": {}})
            t["n_det"] += s["n_det"]
            t["tp_det"] += s["tp_det"]
            t["has_ref"] |= s["has_ref"]
            for src, (n, tp) in s["sources"].items():
                n0, tp0 = t["sources"].get(src, (0, 0))
                t["sources"][src] = (n0 + n, tp0 + tp)
    return out


# ----------------------------------------------------------------------------- protocols
def rules_on_reference(ref):
    """Return the events of ``ref``'s reference beats and labels (protocol 1)."""
    return events.find_events(ref.samples, ref.codes, ref.fs, signal=ref.signal,
                              duration_s=ref.duration_s)


def end_to_end(ref, classifier):
    """Return (events, R peaks, codes, confidence) of ``ref`` from our detector and the
    inter-patient model."""
    from ml.detect import detect_r_peaks

    peaks = detect_r_peaks(ref.raw, ref.fs)
    feats = preprocess.beat_features(ref.raw, ref.fs, peaks)
    probs = classifier.predict(feats.images, feats.context)
    codes = np.array([AAMI_TO_CODE[dataset.AAMI_CLASSES[i]] for i in probs.argmax(axis=1)],
                     dtype=object)
    conf = probs.max(axis=1)
    found = events.find_events(peaks, codes, ref.fs, signal=ref.signal, confidence=conf,
                               duration_s=ref.duration_s)
    return found, peaks, codes, conf


def with_af_rule(ref, peaks, codes, conf):
    """Return the events after serving's AF rule (``ml.rhythm.normal_shaped_in_af``: an ``A``
    call of the record's usual QRS shape inside atrial fibrillation/flutter is conducted AF,
    ``N``), with the AF episodes taken from the reference rhythm annotations (section 2b)."""
    from ml import rhythm

    af = {"episodes": [{"start_s": a, "end_s": b} for name, a, b in ref.rhythms
                       if name in AF_RHYTHMS]}
    fixed = np.where((codes == "A") & rhythm.normal_shaped_in_af(ref.signal, ref.fs, peaks, af),
                     "N", codes).astype(object)
    return events.find_events(peaks, fixed, ref.fs, signal=ref.signal, confidence=conf,
                              duration_s=ref.duration_s)


def beat_counts(ref, peaks, codes, members):
    """Return (reference beats in ``members``, of them detected with a code in ``members``,
    detections with such a code, of them on a reference beat in ``members``); a detection and
    a reference beat pair up when they are at most MATCH_TOL_S apart (nearest reference beat)."""
    ref_t, det_t = ref.samples / ref.fs, peaks / ref.fs
    if det_t.size == 0:
        return int(np.isin(ref.codes, members).sum()), 0, 0, 0
    j = np.clip(np.searchsorted(det_t, ref_t), 1, det_t.size - 1)
    nearest = np.where(np.abs(det_t[j - 1] - ref_t) <= np.abs(det_t[j] - ref_t), j - 1, j)
    paired = np.abs(det_t[nearest] - ref_t) <= MATCH_TOL_S
    ref_in = np.isin(ref.codes, members)
    det_in = np.isin(codes, members)
    hit = ref_in & paired & det_in[nearest]
    return int(ref_in.sum()), int(hit.sum()), int(det_in.sum()), int(hit.sum())


def time_find_events(ref, repeats=TIMING_REPEATS):
    """Return the median seconds ``find_events`` takes on ``ref`` (reference beats, signal)."""
    rules_on_reference(ref)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rules_on_reference(ref)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# ----------------------------------------------------------------------------- DS1 sweeps (3)
def gap_candidates(ref, peaks):
    """Return, per detected RR >= PAUSE_S of ``ref``, (is a reference pause, {(D, H): quiet})."""
    t = peaks / ref.fs
    true_pauses = reference_events(ref)["pause"]["reference RR >= 2 s"]
    amp, slope = events._qrs_measures(ref.signal, ref.fs, peaks)  # the lab sweeps private checks
    out = []
    for i in np.flatnonzero(np.diff(t) >= events.PAUSE_S):
        near = slice(max(0, i - events.NEIGHBOUR_BEATS), i + events.NEIGHBOUR_BEATS + 2)
        a_ref, s_ref = float(np.median(amp[near])), float(np.median(slope[near]))
        is_true = bool(_overlapping([(t[i], t[i + 1])], true_pauses)[0])
        quiet = {(d, h): events._gap_verdict(ref.signal, ref.fs, int(peaks[i]), int(peaks[i + 1]),
                                             a_ref, s_ref, deflection_max=d, noise_max=h) is None
                 for d in DEFLECTION_GRID for h in GAP_NOISE_GRID}
        out.append((ref.record, is_true, quiet))
    return out


def _f1_counts(cands, key):
    tp = sum(1 for _, y, q in cands if y and q[key])
    fp = sum(1 for _, y, q in cands if not y and q[key])
    fn = sum(1 for _, y, q in cands if y and not q[key])
    return tp, fp, fn


def _f1(tp, fp, fn):
    return 2 * tp / max(1, 2 * tp + fp + fn)


def _best(cands):
    """Return the (deflection, noise) limits with the best F1; ties go to fewer false pauses."""
    keys = [(d, h) for d in DEFLECTION_GRID for h in GAP_NOISE_GRID]
    return max(keys, key=lambda k: (_f1(*_f1_counts(cands, k)), -_f1_counts(cands, k)[1]))


def sweep_gaps(cands):
    """Return the gap-threshold sweep: choice on all DS1, grouped-CV counts, the grid table."""
    chosen = _best(cands)
    cv = [0, 0, 0]
    per_fold = []
    for fold in dataset.DS1_FOLDS:
        train = [c for c in cands if c[0] not in fold]
        test = [c for c in cands if c[0] in fold]
        k = _best(train)
        counts = _f1_counts(test, k)
        per_fold.append((fold, k, counts))
        cv = [a + b for a, b in zip(cv, counts)]
    grid = {k: _f1_counts(cands, k) for k in [(d, h) for d in DEFLECTION_GRID for h in GAP_NOISE_GRID]}
    return {"chosen": chosen, "cv": cv, "per_fold": per_fold, "grid": grid, "n": len(cands),
            "n_true": sum(1 for c in cands if c[1])}


def sweep_noise(refs):
    """Return, per noise threshold, (flagged s, flagged s inside annotated MLII noise) on DS1
    with the reference beats (fibrillation waves exempt, as in find_events)."""
    out = {}
    for thr in NOISE_SLOPE_GRID:
        flagged = inside = 0.0
        for ref in refs:
            _, slope = events._qrs_measures(ref.signal, ref.fs, ref.samples)
            for a, b in events._noise_blocks(ref.signal, ref.fs, ref.samples, ref.codes, slope,
                                             slope_max=thr):
                a, b = a / ref.fs, b / ref.fs
                flagged += b - a
                inside += sum(max(0.0, min(b, nb) - max(a, na)) for na, nb in ref.noisy)
        out[thr] = (flagged, inside)
    return out


def chosen_noise_threshold(sweep):
    """Return the smallest threshold whose flagged time lies mostly in annotated noise."""
    ok = [thr for thr, (flagged, inside) in sweep.items()
          if flagged > 0 and inside / flagged >= NOISE_PRECISION_MIN]
    return min(ok) if ok else max(sweep)


# ----------------------------------------------------------------------------- report
def _ratio(num, den):
    return f"{num / den:.3f}" if den else "n/a"


def _group(record):
    if record in dataset.PACED:
        return "paced"
    return "DS1" if record in dataset.DS1 else "DS2"


KIND_TITLES = {
    "ventricular_couplet": "ventricular couplet", "ventricular_run": "ventricular run",
    "supraventricular_run": "supraventricular run", "ventricular_bigeminy": "ventricular bigeminy",
    "ventricular_trigeminy": "ventricular trigeminy", "pause": "pause",
    "bradycardia": "bradycardia", "tachycardia": "tachycardia",
    "ventricular_fibrillation": "ventricular fibrillation", "unreadable": "unreadable",
}
RECORD_KINDS = ("ventricular_couplet", "ventricular_run", "supraventricular_run",
                "ventricular_bigeminy", "ventricular_trigeminy", "ventricular_fibrillation", "pause")


def kind_table(tot):
    """Return the markdown table of one protocol: per kind and reference source."""
    lines = ["| event | reference | n reference | Se | n detected | +P (vs any source) |",
             "|---|---|---|---|---|---|"]
    for kind in events.KINDS:
        s = tot.get(kind)
        if s is None:
            continue
        plus_p = _ratio(s["tp_det"], s["n_det"]) if s["has_ref"] else "no reference"
        sources = s["sources"] or {"(none)": (0, 0)}
        for j, (src, (n, tp)) in enumerate(sources.items()):
            lines.append(f"| {KIND_TITLES[kind] if j == 0 else ''} | {src} | {n} | {_ratio(tp, n)} | "
                         + (f"{s['n_det']} | {plus_p} |" if j == 0 else " | |"))
    return "\n".join(lines)


def group_table(scores, groups):
    """Return the markdown table of Se (first source) / +P per kind for record groups."""
    head = "| event | " + " | ".join(f"{g}: Se | {g}: +P" for g, _ in groups) + " |"
    lines = [head, "|---" * (1 + 2 * len(groups)) + "|"]
    for kind in RECORD_KINDS:
        cells = []
        for _, recs in groups:
            s = total(scores, recs).get(kind)
            if s is None or not s["sources"]:
                cells += ["n/a", "n/a"]
                continue
            n, tp = next(iter(s["sources"].values()))
            cells += [f"{_ratio(tp, n)} ({tp}/{n})", f"{_ratio(s['tp_det'], s['n_det'])} "
                                                     f"({s['tp_det']}/{s['n_det']})"]
        lines.append(f"| {KIND_TITLES[kind]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def record_table(scores):
    """Return the per-record markdown table (records with reference events of RECORD_KINDS)."""
    head = "| record | group | " + " | ".join(KIND_TITLES[k] for k in RECORD_KINDS) + " |"
    lines = [head, "|---" * (2 + len(RECORD_KINDS)) + "|"]
    for rec in sorted(scores):
        score = scores[rec]
        if not any(n for k in RECORD_KINDS for n, _ in score[k]["sources"].values()):
            continue
        cells = []
        for kind in RECORD_KINDS:
            s = score[kind]
            n = sum(v[0] for v in s["sources"].values())
            tp = sum(v[1] for v in s["sources"].values())
            cells.append("" if not n and not s["n_det"] else f"{tp}/{n} · {s['tp_det']}/{s['n_det']}")
        lines.append(f"| {rec} | {_group(rec)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pause_story(found, ref):
    pauses = [e for e in found if e.kind == "pause"]
    ref_pauses = reference_events(ref)["pause"]["reference RR >= 2 s"]
    hit = _overlapping(ref_pauses, [(e.start_s, e.end_s) for e in pauses])
    unread = [e for e in found if e.kind == "unreadable"]
    missed_noisy = sum(1 for (a, b), h in zip(ref_pauses, hit)
                       if not h and _overlapping([(a, b)], ref.noisy)[0])
    longest_ref = max((b - a for a, b in ref_pauses), default=0.0)
    longest = max((e.value for e in pauses), default=0.0)
    return (f"{int(hit.sum())} of {len(ref_pauses)} reference pauses found ({len(pauses)} pauses "
            f"reported); longest reference pause {longest_ref:.2f} s, longest reported "
            f"{longest:.2f} s; {len(unread)} unreadable stretches reported, and "
            f"{missed_noisy} of the missed pauses lie inside MLII noise annotations.")


def _target_lines(tot, *, verdicts=True):
    """Return the lines comparing ``tot``'s run and couplet figures with TARGETS."""
    lines = []
    for kind, target in TARGETS.items():
        s = tot[kind]
        n, tp = s["sources"].get("EC57, beat labels", (0, 0))
        se = tp / n if n else float("nan")
        pp = s["tp_det"] / s["n_det"] if s["n_det"] else float("nan")
        checks = [("Se", se)] + ([] if kind == "ventricular_couplet" else [("+P", pp)])
        verdict = " and ".join(f"{name} {v:.3f} {'>=' if v >= target else '<'} {target:.2f}"
                               for name, v in checks)
        met = all(v >= target for _, v in checks)
        if not verdicts:
            verdict = f"Se {se:.3f}, +P {pp:.3f}"
        lines.append(f"- {KIND_TITLES[kind]}: {verdict}"
                     + (f": **{'met' if met else 'not met'}**" if verdicts else "")
                     + f" (n reference {n}, n detected {s['n_det']}).")
    s = tot["ventricular_salvo"]
    n, tp = s["sources"]["EC57, beat labels"]
    lines.append(f"- (not a target) couplets and runs taken together as ventricular salvos of 2 or "
                 f"more beats: Se {_ratio(tp, n)} ({tp}/{n}), +P {_ratio(s['tp_det'], s['n_det'])} "
                 f"({s['tp_det']}/{s['n_det']}).")
    return "\n".join(lines)


def _definitions_table():
    """Return the markdown table of the rules of ``ml.events`` with their sources."""
    e = events
    rows = (
        ("ventricular couplet", f"exactly {e.COUPLET_BEATS} consecutive ventricular beats",
         "ANSI/AAMI EC57:2012, run definitions"),
        ("ventricular run", f"{e.RUN_MIN_BEATS} or more consecutive ventricular beats; "
         f'"sustained" in the evidence from {e.SUSTAINED_S:.0f} s',
         "EC57; 30 s: the conventional limit of sustained ventricular tachycardia"),
        ("supraventricular run", f"{e.RUN_MIN_BEATS} or more consecutive `A` beats", "EC57"),
        ("ventricular bigeminy / trigeminy", f"at least {e.PATTERN_MIN_CYCLES} cycles in a row of "
         "(dominant, ventricular) / (dominant, dominant, ventricular); dominant = N, L, R, A or P",
         "Holter convention"),
        ("pause", f"RR >= {e.PAUSE_S} s over a quiet baseline (value: its length)",
         "Holter convention"),
        ("bradycardia / tachycardia", f"{e.RATE_WINDOW_BEATS}-beat running rate < "
         f"{e.BRADYCARDIA_BPM:.0f} / > {e.TACHYCARDIA_BPM:.0f} per min for >= "
         f"{e.RATE_EPISODE_MIN_S:.0f} s; a fast stretch with more than {e.RUN_SHARE_MAX:.0%} of "
         "its beats in reported runs or fibrillation is that run, not reported again",
         "AHA/ACC/HRS recommendations for the standardization and interpretation of the ECG "
         "(resting limits 60 (50) and 100/min); 40/min: marked bradycardia, since rates in the "
         "40s are normal in sleep"),
        ("ventricular fibrillation", f"consecutive `VF` waves, >= {e.VF_MIN_WAVES} or lasting "
         f">= {e.VF_MIN_S:.0f} s", "-"),
        ("unreadable", f"a beat-free gap >= {e.PAUSE_S} s that is not a quiet baseline (a flat "
         f"line, a deflection > {e.GAP_DEFLECTION_MAX} x the local QRS amplitude, or an RMS slope "
         f"> {e.GAP_NOISE_MAX} x the local QRS slope); >= {e.NOISE_MIN_BLOCKS} blocks of "
         f"{e.NOISE_BLOCK_S:.0f} s whose RMS slope outside the QRS complexes exceeds "
         f"{e.NOISE_SLOPE_MAX} x the record's QRS slope, or that are flat", "noise is not an event"),
    )
    return "\n".join(["| event | rule | source |", "|---|---|---|"]
                     + [f"| {k} | {rule} | {src} |" for k, rule, src in rows])


def render(r):
    """Return the markdown report from the results dict ``r`` of :func:`main`."""
    gaps, noise = r["gaps"], r["noise"]
    d, h = gaps["chosen"]
    tp, fp, fn = gaps["cv"]
    noise_rows = "\n".join(
        f"| {thr} | {f:.0f} | {_ratio(i, f)} |" for thr, (f, i) in noise["sweep"].items())
    grid_rows = "\n".join(f"| {k[0]} | {k[1]} | {c[0]} | {c[1]} | {c[2]} | {_f1(*c):.3f} |"
                          for k, c in gaps["grid"].items())
    folds = "; ".join(f"fold {i + 1} ({', '.join(map(str, f))}): chose {k}, TP {c[0]} FP {c[1]} FN {c[2]}"
                      for i, (f, k, c) in enumerate(gaps["per_fold"]))
    p1, p2 = r["p1"], r["p2"]
    rhythms = ", ".join(f"`{k}` -> {v}" for k, v in RHYTHM_KIND.items())
    t232, t203 = r["timing"]["232"], r["timing"]["203"]
    vb, ab = r["beats"]["V"], r["beats"]["A"]
    groups = (("DS1", dataset.DS1), ("DS2", dataset.DS2), ("paced", dataset.PACED))
    return f"""# Holter-style events

Generated by `{r['command']}`; do not edit by hand. Code: `ml/events.py` (rules),
`ml/lab/evaluate_events.py` (this report). {r['minutes']} min on {r['machine']}.

## Definitions and sources

Labels are the 8 codes of `ml.classes`; ventricular = `V` or `E`.

{_definitions_table()}

Beats inside an unreadable stretch form no event and no rate; a pause or unreadable gap ends
every run and pattern. Without a signal no gap can be confirmed, so every gap >= 2 s is
`unreadable`. Events built on a beat whose confidence is below the unsure threshold (0.77,
ml/MODEL_CARD.md section 5) are marked `unsure` and their evidence says so.

Reference beat labels (MIT-BIH symbol -> code): N, e, j, n, F, f, Q, B -> N; L -> L; R -> R;
A, a, J, S -> A; V, r -> V; E -> E; ! -> VF; / -> P. Rhythm annotations used:
{rhythms} (`(AFIB`/`(AFL` belong to `ml.rhythm`, reported in ml/reports/rhythm.md). Pauses: reference RR
>= 2 s. Matching: spans overlap, each widened by {MATCH_TOL_S} s. Se per reference source; +P
against the union of that kind's sources. EC57 runs are counted from the beat labels by a plain
count of consecutive ectopic beats, separate from `ml.events`.

## 1. Rules on reference beats (all 48 records)

Reference R peaks and labels through `find_events` with the band-passed MLII signal. Couplets
and runs against the EC57 count of the same labels differ only where the rules break a run at a
pause, an unreadable stretch or a gap: that is what those rows measure. The rhythm-annotation
rows are independent of our rules.

{kind_table(total(p1))}

`unreadable` has a low Se by design: annotators labelled beats through most annotated noise,
and only strong noise or lost signal is unreadable; its +P is the figure that matters.
Tachycardia has no MIT-BIH annotation (no sinus tachycardia label): it is scored end to end
against the same rule on the reference beats (section 2). `(SBR` marks sinus rhythm below
60/min; our bradycardia is below 40/min, so its Se there is low by definition.

By record group (Se against the first source of the kind, +P):

{group_table(p1, groups)}

Per record (reference episodes matched / reference episodes · detections matching / detections;
all sources of the kind together):

{record_table(p1)}

**Record 232 (pauses):** {r['story_232_p1']}

**Record 203 (ventricular tachycardia):** {r['story_203']}

## 2. End to end on DS2 (patients the beat model never saw)

Our R-peak detector (`ml.detect`), features (`ml.preprocess`) and the inter-patient beat model
`ml/models/ecg_cnn_ds1_aami.keras` (sha256 {r['model_sha']}..., trained on DS1 + SVDB; outputs N,
S, V, F mapped to N, A, V, N), on the {len(dataset.DS2)} DS2 records (no paced record in DS2).
This model has no VF, E or paced output, so ventricular fibrillation cannot be found end to end
here (and DS2 holds no `(VFL`). Bradycardia and tachycardia are scored against the same rule run
on the reference beats (section 1). {r['unsure_note']}

{kind_table(total(p2))}

**Targets** (Se against the EC57 count of the reference labels, +P against any source):

{_target_lines(total(p2))}

Only the events not marked unsure (every beat's top probability >= 0.77). This model's
probabilities are not calibrated and nearly every ectopic event holds one beat below 0.77, so
the flag separates little here; the few events it leaves are right:

{_target_lines(total(r['p2_sure']), verdicts=False)}

Where the misses come from: a run is found only when every one of its beats is detected and
labelled right, so run Se is roughly the beat Se raised to the run length. On the same DS2 beats
(our detector, pairs within {MATCH_TOL_S} s), ventricular beats (V, E): Se {_ratio(vb[1], vb[0])}
({vb[1]}/{vb[0]}), +P {_ratio(vb[3], vb[2])} ({vb[3]}/{vb[2]}); premature supraventricular beats:
Se {_ratio(ab[1], ab[0])} ({ab[1]}/{ab[0]}), +P {_ratio(ab[3], ab[2])} ({ab[3]}/{ab[2]}).
{r['af_false_sv']} of the false supraventricular runs lie inside reference atrial fibrillation or
flutter, where irregular conducted beats look premature (section 2b).

Per record:

{record_table(p2)}

### 2b. The same, with serving's AF rule on reference AF episodes

Serving relabels an `A` call of the record's usual QRS shape inside atrial fibrillation or flutter
as `N` (`ml.rhythm.normal_shaped_in_af`). The shipped AF model saw DS2's rhythm annotations, so
here the AF episodes are the reference `(AFIB`/`(AFL` episodes instead: an upper bound for that
step, whose own out-of-fold AF-time Se/Sp is in ml/reports/rhythm.md.

{kind_table(total(r['p2_af']))}

{_target_lines(total(r['p2_af']))}

**Record 232 end to end:** {r['story_232_p2']}

## 3. Threshold choice on DS1 only

The pause check and the noise check are the only tuned thresholds; both were chosen on the 22 DS1
records, never on DS2. Gap check: every detected RR >= 2 s on DS1 (our detector), labelled a true
pause when it overlaps a reference RR >= 2 s; {gaps['n']} gaps, {gaps['n_true']} true. The choice
maximises F1 of "quiet gap" = pause. Chosen on all DS1: deflection {d}, noise {h} (in
`ml/events.py`: {events.GAP_DEFLECTION_MAX}, {events.GAP_NOISE_MAX}). Record-grouped
cross-validation over `ml.lab.dataset.DS1_FOLDS` (choose on 3 folds, count on the 4th): TP {tp}, FP
{fp}, FN {fn}, F1 {_f1(tp, fp, fn):.3f}. {folds}.

| deflection max | noise max | TP | FP | FN | F1 |
|---|---|---|---|---|---|
{grid_rows}

Noise stretches: DS1 reference beats, flagged seconds and the share inside MLII noise
annotations per threshold; the choice is the smallest threshold with a share >= {NOISE_PRECISION_MIN}:
{noise['chosen']} (in `ml/events.py`: {events.NOISE_SLOPE_MAX}).

| RMS slope / QRS slope | flagged s | share in annotated noise |
|---|---|---|
{noise_rows}

## Speed

`find_events` on a 30-minute record (650,000 samples at 360 Hz, reference beats, signal given),
median of {TIMING_REPEATS} calls on {r['machine']}: record 232 ({t232[1]} beats, {t232[2]} RR
intervals >= 2 s to check) **{t232[0] * 1000:.1f} ms**; record 203 ({t203[1]} beats)
**{t203[0] * 1000:.1f} ms**.

## Limits

- Few episodes: DS2 holds {r['n_ds2_vt']} `(VT` episodes and few runs; one record can move a figure by
  several points. The rhythm annotations mark episodes, not every run, so +P against them alone
  would be unfair; +P counts any source.
- A detector that misses low-amplitude beats in a clean-looking stretch makes a gap that looks
  quiet: the gap check cannot tell it from a pause (DS1 examples in the sweep's false positives).
- Pauses inside noise become `unreadable`, by design: Se for pauses is lower where the reference
  annotators read beats through noise.
- False ventricular runs and couplets end to end are beat-label errors: in atrial flutter or
  fibrillation, in noise, and runs found a beat short (a couplet inside `(VT`). The noise-stretch
  check only flags strong broadband noise or a flat line, not the moderate noise the beat model
  misreads.
- End-to-end confidence is the uncalibrated top probability of the inter-patient model; it only
  sets `unsure`, which is not scored.
- Trigeminy +P on the reference beats is low in record 208, where long N-F-V cycles (a fusion
  beat, counted as N, then a ventricular beat) are annotated as normal rhythm, not `(T`.
- Bradycardia below 40/min is rarer than MIT-BIH's `(SBR` (below 60/min); tachycardia has no
  independent reference in MIT-BIH.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "ml" / "reports" / "events.md")
    args = ap.parse_args(argv)
    started = time.time()
    mitdb = args.data / "mitdb"
    refs = {}
    p1 = {}
    found_p1 = {}
    for rec in dataset.ALL_RECORDS:
        ref = read_reference(mitdb, rec)
        refs[rec] = ref
        found_p1[rec] = rules_on_reference(ref)
        p1[rec] = score_record(found_p1[rec], reference_events(ref))
        print(f"rules {rec}: {len(found_p1[rec])} events", flush=True)

    from ml import store
    from ml.detect import detect_r_peaks

    classifier = store.load_classifier(E2E_MODEL)
    p2, p2_af, p2_sure, found_p2, n_unsure = {}, {}, {}, {}, 0
    beats = {"V": np.zeros(4, dtype=int), "A": np.zeros(4, dtype=int)}
    af_false_sv = 0
    for rec in dataset.DS2:
        ref = refs[rec]
        found, peaks, codes, conf = end_to_end(ref, classifier)
        beats["V"] += beat_counts(ref, peaks, codes, events.VENTRICULAR)
        beats["A"] += beat_counts(ref, peaks, codes, events.SUPRAVENTRICULAR_ECTOPIC)
        found_p2[rec] = found
        rule = {"bradycardia": {RULE_SOURCE: []}, "tachycardia": {RULE_SOURCE: []}}
        for e in found_p1[rec]:
            if e.kind in rule:
                rule[e.kind][RULE_SOURCE].append((e.start_s, e.end_s))
        refs_p2 = {**reference_events(ref), **rule}
        p2[rec] = score_record(found, refs_p2)
        p2_af[rec] = score_record(with_af_rule(ref, peaks, codes, conf), refs_p2)
        p2_sure[rec] = score_record([e for e in found if not e.unsure], refs_p2)
        n_unsure += sum(e.unsure for e in found)
        sv = [(e.start_s, e.end_s) for e in found if e.kind == "supraventricular_run"]
        sv_refs = [x for spans in refs_p2["supraventricular_run"].values() for x in spans]
        af = [(a, b) for name, a, b in ref.rhythms if name in AF_RHYTHMS]
        af_false_sv += int((~_overlapping(sv, sv_refs) & _overlapping(sv, af, tol=0.0)).sum())
        print(f"end to end {rec}: {len(found)} events", flush=True)

    cands = []
    for rec in dataset.DS1:
        cands += gap_candidates(refs[rec], detect_r_peaks(refs[rec].raw, refs[rec].fs))
    noise_sweep = sweep_noise([refs[rec] for rec in dataset.DS1])

    ref203 = reference_events(refs[203])
    vt = ref203["ventricular_run"]
    runs_203 = [(e.start_s, e.end_s) for e in found_p1[203] if e.kind == "ventricular_run"]
    vt_hit = _overlapping(vt.get("rhythm `(VT`", []), runs_203)
    ec_hit = _overlapping(vt["EC57, beat labels"], runs_203)
    story_203 = (f"{int(vt_hit.sum())} of {len(vt.get('rhythm `(VT`', []))} `(VT` episodes and "
                 f"{int(ec_hit.sum())} of {len(vt['EC57, beat labels'])} EC57 ventricular runs found "
                 f"by the rules on the reference beats ({len(runs_203)} runs reported). 203 is a DS1 "
                 "record: the inter-patient model trained on it, so it has no end-to-end figure.")
    result = {
        "command": "python -m ml.lab.evaluate_events --data ../shared/data --out ml/reports/events.md",
        "machine": f"{platform.machine()} ({os.cpu_count()} CPUs, shared), Python "
                   f"{platform.python_version()}",
        "p1": p1, "p2": p2, "p2_af": p2_af, "p2_sure": p2_sure,
        "gaps": sweep_gaps(cands),
        "noise": {"sweep": noise_sweep, "chosen": chosen_noise_threshold(noise_sweep)},
        "story_232_p1": _pause_story(found_p1[232], refs[232]),
        "story_232_p2": _pause_story(found_p2[232], refs[232]),
        "story_203": story_203,
        "timing": {str(rec): (time_find_events(refs[rec]), int(refs[rec].samples.size),
                              int(np.sum(np.diff(refs[rec].samples) >= events.PAUSE_S * refs[rec].fs)))
                   for rec in (232, 203)},
        "model_sha": classifier.version,
        "unsure_note": f"{n_unsure} of {sum(len(f) for f in found_p2.values())} end-to-end events "
                       "are marked unsure (top probability < 0.77).",
        "beats": {k: v.tolist() for k, v in beats.items()},
        "af_false_sv": af_false_sv,
        "n_ds2_vt": sum(p2[rec]["ventricular_run"]["sources"].get("rhythm `(VT`", (0, 0))[0]
                        for rec in p2),
    }
    result["minutes"] = round((time.time() - started) / 60, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(result))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
