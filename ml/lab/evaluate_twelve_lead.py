"""Score ml.twelve_lead against LUDB's cardiologists and write a report.

    python -m ml.lab.evaluate_twelve_lead --data ../shared/data/ludb --out ml/reports/twelve_lead.md

Each of the 200 records is read as the product reads a 12-lead file: raw leads in, R peaks
detected on lead II, :func:`ml.twelve_lead.read_twelve_lead`. Three things are scored:

1. the statements against ludb.csv's diagnoses (one row per patient): sensitivity, specificity
   and counts with Wilson 95 % intervals; then the two figures the product answers for: how many
   records with no abnormality at all read with no abnormal or urgent finding, and how many
   STEMI records read urgent (and how many read normal);
2. the global boundaries and the ST level they give, against the cardiologists' wave marks: on
   the same median beats, the marked QRS onset and end of every lead (median over the beats)
   give a reference global onset and J point (the second earliest / second latest lead's,
   :data:`REFERENCE_RANK`), and the ST level is measured there and at our J point; the rule that
   combines the leads into each global point (``ml.twelve_lead.GLOBAL_RULE``) is chosen by 5-fold
   cross-validation over patients against that reference (:func:`global_rule_cv`), and the
   points' errors are reported out-of-fold;
3. the time to read one record;
4. the leads of a printed 3x4 report: each record laid out as ``ml.io`` digitises a picture of
   one (250 Hz, every lead NaN outside its 2.5-s column, lead II the whole rhythm strip, R peaks
   detected on it), read by the same function and compared with the record's full-signal
   reading; with ``--pictures`` also through a real picture (``ml.io.render.render_report``,
   read back by ``ml.io.load``), which takes about 1.5 s a record.

Every criterion threshold of ml.twelve_lead is a published one (the anterior rules below the
J-point limits too: Smith's 4-variable formula, 18.2, and T/QRS ratio, 0.22), so for the
statements every record is held out. Two things were chosen on LUDB: the rule that combines the leads into global
boundaries (``ml.twelve_lead.GLOBAL_RULE``), by patient-grouped 5-fold CV here, with the fiducial
errors reported out-of-fold; and the delineation fractions underneath, by patient-grouped 5-fold
CV in ml.lab.evaluate_delineation. LUDB holds one record per patient.
"""

import argparse
import csv
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ml.lab import ludb
from ml import twelve_lead as tl
from ml.delineate import INTERNAL_FS
from ml.detect import detect_r_peaks
from ml.io.render import LEAD_GRID
from ml.preprocess import clean, resample

LUDB_LEADS = ludb.LEADS
MATCH_MS = 100.0  # a marked QRS peak this close to a detected R peak is the same beat
P_BEFORE_MS = 450.0  # the marked P onset belongs to the beat whose QRS follows within this
Z95 = 1.959964
# LUDB's axis categories (Russian practice): left deviation < 0, horizontal 0..29, normal
# 30..69, vertical 70..90, right deviation > 90 degrees.
AXIS_CATEGORIES = (("left axis deviation", -180.0, 0.0), ("horizontal", 0.0, 30.0),
                   ("normal", 30.0, 70.0), ("vertical", 70.0, 90.0),
                   ("right axis deviation", 90.0, 180.01))
STEMI_TEXT = re.compile(r"(^| )stemi:")  # not "supp.nstemi" (undefined ischaemia/scar/NSTEMI)
MAX_LISTED = 12  # false-positive records listed per statement  # Casale 1985: women's limit, used for a comparison where ludb.csv gives sex
# The printed report: ml.io digitises a page at this rate; lead -> its column of the 3x4 layout.
REPORT_FS = 250.0
COLUMN_S = 2.5
COLUMN = {name: j for row in LEAD_GRID for j, name in enumerate(row)}
ST_CLOSE_MV = 0.05  # a layout ST level this close to the full signal's is the same reading
AXIS_CLOSE_DEG = 15.0
# The cardiologists' per-lead marks combine into a reference global point as the second earliest
# onset / second latest end (one lead's mark may be off): fixed, so the rule it scores is not
# chosen against itself.
REFERENCE_RANK = 1
# The rules global_rule_cv chooses among (ml.twelve_lead.LeadRule): the share of the clearest
# lead a lead needs to vote, the MAD multiple beyond which a vote is set aside, the rank.
SHARES = (0.0, 0.1, 0.2, 0.3)
MAD_KS = (None, 2.0, 3.0, 4.0)
RANKS = (0, 1, 2, 3)
FOLDS = 5
# Global fiducial points against the marks: (key, name, CSE tolerance for 2 SD of the error in ms,
# Willems JL et al., Circulation 1987 / IEC 60601-2-25).
FIDUCIALS = (("p_on", "P onset", 10.2), ("p_off", "P offset", 12.7), ("qrs_on", "QRS onset", 6.5),
             ("qrs_off", "QRS offset (J)", 11.6), ("t_end", "T offset", 30.6))


def read_diagnoses(data_dir: Path) -> dict:
    """Return {record: {column: text}} from ludb.csv, both lower-case, whitespace collapsed."""
    with open(data_dir / "ludb.csv", newline="", encoding="utf-8") as fh:
        return {int(row["ID"]): {k.lower(): " ".join(v.split()).lower() for k, v in row.items()}
                for row in csv.DictReader(fh)}


def is_healthy(dx) -> bool:
    """Return whether ludb.csv lists nothing abnormal: a sinus rhythm, a normal, vertical or
    horizontal axis, and no conduction abnormality, extrasystole, hypertrophy or overload,
    pacing, ischaemia or scar, repolarisation abnormality or other state."""
    return (dx["rhythms"].startswith("sinus") and "arrhythmia" not in dx["rhythms"]
            and any(w in dx["electric axis of the heart"] for w in (": normal", ": vertical", ": horizontal"))
            and not any(dx[k] for k in ("conduction abnormalities", "extrasystolies", "hypertrophies",
                                        "cardiac pacing", "ischemia",
                                        "non-specific repolarization abnormalities", "other states")))


def report_layout(raw, fs, *, band_pass=False):
    """Return (leads, R peaks) of ``raw`` (lead -> mV at ``fs``) laid out as a digitised 3x4 report.

    Every lead resampled to :data:`REPORT_FS` and NaN outside its 2.5-s column; lead II whole (the
    rhythm strip), the R peaks detected on it. ``band_pass``: each column is band-passed on its
    own (``ml.preprocess.clean`` over 2.5 s) before the reader sees it, to measure what a
    high-pass over so short a piece does to the ST level.
    """
    page = {}
    for name, x in raw.items():
        y = resample(x, fs, REPORT_FS)
        if name != tl.RHYTHM_LEAD:
            a, b = (int(round(COLUMN_S * k * REPORT_FS)) for k in (COLUMN[name], COLUMN[name] + 1))
            piece = clean(y[a:b], REPORT_FS) if band_pass else y[a:b]
            y = np.full(y.size, np.nan)
            y[a:b] = piece
        page[name] = y
    return page, detect_r_peaks(clean(page[tl.RHYTHM_LEAD], REPORT_FS), REPORT_FS)


def read_picture(raw, fs, folder: Path, patient=tl.UNKNOWN):
    """Return (the reading of ``raw`` drawn as a 3x4 report and read back from the picture, or
    None; whether ``ml.io.load`` gave the picture's leads)."""
    from PIL import Image

    from ml.io import load
    from ml.io.render import render_report

    from ml.errors import ECGInputError

    path = folder / "report.png"
    Image.fromarray(render_report(raw, fs).image).save(path)
    try:
        rec = load(path)
    except ECGInputError:  # the picture reader refused the page (it says why to the user)
        return None, False
    if not rec.leads:
        return None, False
    peaks = detect_r_peaks(clean(rec.signal, rec.fs), rec.fs)
    return tl.read_twelve_lead(rec.leads, rec.fs, r_peaks=peaks, patient=patient), True


def marked_fiducials(ann_by_lead, peaks, fs) -> dict:
    """Return the cardiologists' global fiducials (ms from R, by the module's rank rule) and
    per-lead QRS onsets and ends, over the beats ``peaks`` (input samples)."""
    per = {}
    for lead, (samples, symbols) in ann_by_lead.items():
        on, off, p_on, p_off, t_end = [], [], [], [], []
        qrs = [i for i, s in enumerate(symbols) if s == "N"]
        for k, i in enumerate(qrs):
            near = np.abs(peaks - samples[i]) <= MATCH_MS * fs / 1000.0
            if not near.any():
                continue
            r = peaks[np.argmax(near)]
            if i > 0 and symbols[i - 1] == "(":
                on.append(samples[i - 1] - r)
            if i + 1 < len(symbols) and symbols[i + 1] == ")":
                off.append(samples[i + 1] - r)
            nxt = samples[qrs[k + 1]] if k + 1 < len(qrs) else np.inf
            for j, s in enumerate(symbols):
                if s == "p" and j > 0 and symbols[j - 1] == "(" and 0 < samples[i] - samples[j] < P_BEFORE_MS * fs / 1000:
                    p_on.append(samples[j - 1] - r)
                    if j + 1 < len(symbols) and symbols[j + 1] == ")":
                        p_off.append(samples[j + 1] - r)
                if s == "t" and j + 1 < len(symbols) and symbols[j + 1] == ")" and samples[i] < samples[j] < nxt:
                    t_end.append(samples[j + 1] - r)
                    break
        to_ms = 1000.0 / fs
        per[lead] = {k: float(np.median(v)) * to_ms if v else None
                     for k, v in (("qrs_on", on), ("qrs_off", off), ("p_on", p_on), ("p_off", p_off),
                                  ("t_end", t_end))}

    def rank(key, latest):
        values = sorted((v[key] for v in per.values() if v[key] is not None), reverse=latest)
        return values[min(REFERENCE_RANK, len(values) - 1)] if values else None

    def p_rank(key, latest):
        return rank(key, latest) if sum(v[key] is not None for v in per.values()) >= tl.MIN_P_LEADS else None

    return {"qrs_on": rank("qrs_on", False), "qrs_off": rank("qrs_off", True),
            "t_end": rank("t_end", True), "p_on": p_rank("p_on", False), "p_off": p_rank("p_off", True),
            "leads": per}


def wilson(k, n):
    """Return the Wilson 95 % interval of k successes in n, as percentages."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / (1 + Z95 ** 2 / n)
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def rate(k, n):
    if n == 0:
        return "-"
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.0f} % ({k}/{n}; {lo:.0f}-{hi:.0f})"


def evaluate(data_dir: Path, *, pictures=False) -> dict:
    """Read every record and return the raw material of the report."""
    import wfdb

    diagnoses = read_diagnoses(data_dir)
    records = []
    folder = Path(tempfile.mkdtemp(prefix="twelve_lead_"))
    for record in sorted(diagnoses):
        path = str(data_dir / "data" / str(record))
        raw, fs = ludb.read_leads(data_dir, record)  # true mV (LUDB's header gains are not)
        dx = diagnoses[record]
        # Sex and age as the product reads them from the record's header (the same as ludb.csv).
        patient = tl.Patient("F" if dx["sex"].startswith("f") else "M" if dx["sex"].startswith("m") else None,
                             float(dx["age"]) if dx["age"].replace(".", "", 1).isdigit() else None)
        start = time.perf_counter()
        reading = tl.read_twelve_lead(raw, fs, patient=patient)
        seconds = time.perf_counter() - start
        # The same median beats, for the wave-mark comparison.
        x = tl.clean_leads(raw, fs)
        med = tl.median_beats(x, fs, detect_r_peaks(x["II"], fs))
        anns = {}
        for name, lead in LUDB_LEADS.items():
            ann = wfdb.rdann(path, name)
            anns[lead] = (np.asarray(ann.sample), list(ann.symbol))
        marked = marked_fiducials(anns, med.peaks, fs)
        fid = tl.global_fiducials(med)
        points = {k: (None if fid[k] is None else (fid[k] - med.r_index) * 1000.0 / INTERNAL_FS, marked[k])
                  for k, _, _ in FIDUCIALS}
        to_ms = 1000.0 / INTERNAL_FS
        # Ours in ms from R, with what combine_leads weighs them by.
        per_lead = {lead: {k: (None if f[k] is None else (f[k] - med.r_index) * to_ms) for k, _, _ in FIDUCIALS}
                    | {k: f[k] for k in ("p_wave", "p_amp", "qrs_slope", "t_amp")}
                    for lead, f in fid["leads"].items()}
        st = {}
        if marked["qrs_on"] is not None and marked["qrs_off"] is not None and fid["qrs_on"] is not None:
            ref = {"qrs_on": med.r_index + int(round(marked["qrs_on"] * INTERNAL_FS / 1000)),
                   "qrs_off": med.r_index + int(round(marked["qrs_off"] * INTERNAL_FS / 1000)),
                   "t_end": None}
            for lead, beat in med.beats.items():
                ours = tl.lead_amplitudes(beat, fid)
                theirs = tl.lead_amplitudes(beat, ref)
                st[lead] = (ours["st_j_mv"], theirs["st_j_mv"], ours["st_j60_mv"], theirs["st_j60_mv"])
        records.append({"record": record, "dx": diagnoses[record], "reading": reading,
                        "seconds": seconds, "marked": marked, "st": st,
                        "einthoven": ludb.einthoven_gain(x), "patient": patient, "points": points,
                        "per_lead_points": (per_lead, marked["leads"]),
                        "blind": tl.read_twelve_lead(raw, fs)})
        page, peaks = report_layout(raw, fs)
        start = time.perf_counter()
        records[-1]["layout"] = tl.read_twelve_lead(page, REPORT_FS, r_peaks=peaks, patient=patient)
        records[-1]["layout_seconds"] = time.perf_counter() - start
        page, peaks = report_layout(raw, fs, band_pass=True)
        records[-1]["layout_band_passed"] = tl.read_twelve_lead(page, REPORT_FS, r_peaks=peaks, patient=patient)
        if pictures:
            records[-1]["picture"], records[-1]["picture_leads"] = read_picture(raw, fs, folder, patient)
    return {"records": records}


def _rule_errors(rows, key, rule):
    """Return our global ``key`` by ``rule`` minus the marks' (ms), over the records with both."""
    out = []
    for r in rows:
        ours, marks = r["per_lead_points"]
        o = tl.combine_leads(ours, key, rule, fs=1000.0)  # per-lead points in ms: 1 "sample" = 1 ms
        m = r["marked"][key]
        if o is not None and m is not None:
            out.append(o - m)
    return np.array(out, dtype=np.float64)


def _sd(d):
    return float(d.std()) if d.size else np.inf


RULES = [tl.LeadRule(share, k, rank) for share in SHARES for k in MAD_KS for rank in RANKS]


def global_rule_cv(rows) -> dict:
    """Return, per global point, the rule (``ml.twelve_lead.LeadRule``) with the least SD of the
    error against the marks (what the CSE tolerances judge) chosen on :data:`FOLDS` - 1 folds of patients (one LUDB record each)
    and scored on the fold left out: {key: {"chosen": [per fold], "on_all": rule, "oof": errors,
    "rank_only": out-of-fold errors when only the rank is chosen (no lead set aside)}}."""
    rows = [r for r in rows if r.get("per_lead_points")]
    fold = np.random.default_rng(0).permutation(len(rows)) % FOLDS
    rank_only = [rule for rule in RULES if rule.share == 0.0 and rule.k is None]
    out = {}
    for key, _, _ in FIDUCIALS:
        result = {"chosen": [], "oof": [], "rank_only": []}
        for k in range(FOLDS):
            train = [r for r, f in zip(rows, fold) if f != k]
            test = [r for r, f in zip(rows, fold) if f == k]
            for name, rules in (("oof", RULES), ("rank_only", rank_only)):
                best = min(rules, key=lambda rule: _sd(_rule_errors(train, key, rule)))
                result[name].append(_rule_errors(test, key, best))
                if name == "oof":
                    result["chosen"].append(best)
        result["oof"] = np.concatenate(result["oof"])
        result["rank_only"] = np.concatenate(result["rank_only"])
        result["on_all"] = min(RULES, key=lambda rule: _sd(_rule_errors(rows, key, rule)))
        out[key] = result
    return out


def _rule_text(rule):
    return f"{rule.share:g}/{'-' if rule.k is None else f'{rule.k:g}'}/{rule.rank}"


def global_rule_section(cv) -> list[str]:
    """Return the report section on the global rule's cross-validation."""
    lines = ["## Global rule: which leads each global point is taken from", "",
             "A rule (`ml.twelve_lead.LeadRule`, written share/k/rank): a lead votes when its QRS slope "
             "(P or T height) is at least `share` of the clearest lead's; a vote more than k robust SDs "
             "(1.4826 MAD, at least 4 ms) from the votes' median is set aside (-: none); the rank-th "
             "earliest onset / latest end of the rest (from 0) is the global point. Among "
             f"{len(RULES)} rules (share {list(SHARES)}, k {[k if k is not None else '-' for k in MAD_KS]}, "
             f"rank {list(RANKS)}) the one with the least SD of the error against the marks (what the CSE "
             "tolerances judge; the least RMS error, bias included, did worse out-of-fold for every point) is chosen on "
             f"{FOLDS - 1} folds of patients and scored on the fifth (seed 0); 'all' is the choice on "
             "every record, which ml.twelve_lead.GLOBAL_RULE must hold. 'Rank only' chooses the rank "
             "alone the same way (the rule before leads were set aside). Out-of-fold errors, ms.", "",
             "| point | chosen per fold | chosen on all | served | out-of-fold mean | SD | 2 SD | CSE 2 SD limit "
             "| within the limit | rank only: mean | SD | records |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, name, limit in FIDUCIALS:
        c = cv[key]
        d, base = c["oof"], c["rank_only"]
        served = tl.GLOBAL_RULE[key]
        lines.append(f"| {name} | {', '.join(map(_rule_text, c['chosen']))} | {_rule_text(c['on_all'])} | "
                     f"{_rule_text(served)}{'' if served == c['on_all'] else ' (differs)'} | {d.mean():+.1f} | "
                     f"{d.std():.1f} | {2 * d.std():.1f} | {limit} | {100 * np.mean(np.abs(d) <= limit):.0f} % | "
                     f"{base.mean():+.1f} | {base.std():.1f} | {d.size} |")
    return lines + [""]


def _stemi(dx):
    return bool(STEMI_TEXT.search(dx["ischemia"]))


def _has(dx, column, phrase):
    """Return whether ``phrase`` starts a word in ``dx[column]`` ("complete left bundle" is not
    "incomplete left bundle"; "i degree" is not "iii degree")."""
    return re.search(r"(^| )" + re.escape(phrase), dx[column]) is not None


# --- statements --------------------------------------------------------------------------------
def _codes(reading, severities=("info", "abnormal", "urgent")):
    return set() if reading is None else {f.code for f in reading.findings if f.severity in severities}


def _axis(reading):
    return None if reading is None else reading.measurements.get("axis_deg")


def _axis_category(axis):
    for name, lo, hi in AXIS_CATEGORIES:
        if lo <= axis < hi:
            return name
    return "right axis deviation"


def _urgent_st(reading, displays=None):
    """Return whether ``reading`` has an urgent ST-elevation finding (of ``displays`` only, if given)."""
    return reading is not None and any(f.severity == "urgent" and f.code == tl.STEMI[0]
                                       and (displays is None or f.display in displays) for f in reading.findings)


J_POINT_ONLY = (tl.STEMI[1], tl.STEMI_WIDE_QRS[1])  # the criteria before the anterior rules below the limits

STATEMENTS = (
    # (name, LUDB says so, the reading says so)
    ("STEMI, any wall (urgent ST-elevation finding)",
     lambda dx: _stemi(dx),
     lambda r: _urgent_st(r)),
    ("STEMI flagged (any abnormal or urgent finding)",
     lambda dx: _stemi(dx),
     lambda r: bool(_flagged(r))),
    ("STEMI by the J-point limits and Sgarbossa alone (without Smith's formula and T/QRS ratio)",
     lambda dx: _stemi(dx),
     lambda r: _urgent_st(r, J_POINT_ONLY)),
    ("Scar (Q waves, Fourth UDMI)", lambda dx: "scar formation" in dx["ischemia"],
     lambda r: tl.Q_WAVES[0] in _codes(r)),
    ("Left axis deviation (LUDB: < 0 deg) vs ours < -30 deg", lambda dx: "left axis" in dx["electric axis of the heart"],
     lambda r: _axis(r) is not None and -90 <= _axis(r) < tl.LEFT_AXIS_DEG),
    ("Left axis deviation (LUDB: < 0 deg) vs ours < 0 deg", lambda dx: "left axis" in dx["electric axis of the heart"],
     lambda r: _axis(r) is not None and -90 <= _axis(r) < 0),
    ("Right axis deviation (> 90 deg)", lambda dx: "right axis" in dx["electric axis of the heart"],
     lambda r: _axis(r) is not None and (_axis(r) > tl.RIGHT_AXIS_DEG or _axis(r) < -90)),
    ("Complete LBBB", lambda dx: _has(dx, "conduction abnormalities", "complete left bundle"),
     lambda r: tl.COMPLETE_LBBB[0] in _codes(r)),
    ("Complete RBBB", lambda dx: _has(dx, "conduction abnormalities", "complete right bundle"),
     lambda r: tl.COMPLETE_RBBB[0] in _codes(r)),
    ("Incomplete RBBB", lambda dx: "incomplete right bundle" in dx["conduction abnormalities"],
     lambda r: tl.INCOMPLETE_RBBB[0] in _codes(r)),
    ("Left anterior fascicular block (hemiblock)", lambda dx: "left anterior hemiblock" in dx["conduction abnormalities"],
     lambda r: tl.LAFB[0] in _codes(r)),
    ("Non-specific intraventricular conduction delay (ours >= 120 ms)",
     lambda dx: "intravintricular" in dx["conduction abnormalities"],
     lambda r: tl.IVCD[0] in _codes(r, ("abnormal",))),
    ("Non-specific intraventricular conduction delay (ours > 110 ms, AHA)",
     lambda dx: "intravintricular" in dx["conduction abnormalities"],
     lambda r: tl.IVCD[0] in _codes(r)),
    ("LVH (voltage: Sokolow-Lyon or Cornell 2.8 mV)", lambda dx: "left ventricular hypertrophy" in dx["hypertrophies"],
     lambda r: tl.LVH[0] in _codes(r)),
    ("First-degree AV block (global PR > 200 ms)", lambda dx: _has(dx, "conduction abnormalities", "i degree av block"),
     lambda r: r is not None and (r.measurements.get("pr_ms") or 0) > 200),
)


def _anterior_section(rows) -> list[str]:
    """Return the lines on the anterior rules below the J-point limits (Smith's formula, T/QRS)."""
    names = (tl.SUBTLE_LAD[1], tl.QS_ST_ACUTE[1], tl.QS_ST_AGE_UNDETERMINED[1])
    lines = ["Anterior rules below the Fourth UDMI's J-point limits (published thresholds: Smith's 4-variable "
             f"formula >= {tl.SMITH_THRESHOLD}, Driver 2017; T/QRS ratio > {tl.T_QRS_RATIO}, Smith 2005; "
             "ml/twelve_lead.py), with the header's sex and age:", "",
             "| finding | severity | STEMI records | other records (ludb.csv: ischaemia; repolarisation) |",
             "|---|---|---|---|"]
    for name in names:
        for severity in ("urgent", "abnormal"):
            hit = [r for r in rows if r["reading"] is not None
                   and any(f.display == name and f.severity == severity for f in r["reading"].findings)]
            if not hit:
                continue
            other = [f"{r['record']} ({r['dx']['ischemia'] or '-'}; "
                     f"{r['dx']['non-specific repolarization abnormalities'] or '-'})" for r in hit if not _stemi(r["dx"])]
            lines.append(f"| {name} | {severity} | {', '.join(str(r['record']) for r in hit if _stemi(r['dx'])) or '-'} "
                         f"| {'; '.join(other) or '-'} |")
    return lines + [""]


def _area_axis(per_lead):
    """Return the axis by least squares on the six limb leads' net QRS areas (a comparison)."""
    angles = np.deg2rad([tl.LEAD_ANGLE_DEG[n] for n in tl.LIMB_LEADS])
    basis = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    (hx, hy), *_ = np.linalg.lstsq(basis, [per_lead[n]["net_area"] for n in tl.LIMB_LEADS], rcond=None)
    return float(np.degrees(np.arctan2(hy, hx)))


def _confusion(rows, truth, said, key="reading"):
    tp = sum(1 for r in rows if truth(r["dx"]) and said(r[key]))
    fn = sum(1 for r in rows if truth(r["dx"]) and not said(r[key]))
    fp = sum(1 for r in rows if not truth(r["dx"]) and said(r[key]))
    tn = sum(1 for r in rows if not truth(r["dx"]) and not said(r[key]))
    return tp, fn, fp, tn


def _statement_table(rows, key="reading"):
    """Return the markdown lines of the statements' table for the readings under ``key``."""
    lines = ["| statement | LUDB yes | sensitivity | specificity | TP | FN | FP | TN | false positives (* paced) |",
             "|---|---:|---|---|---:|---:|---:|---:|---|"]
    for name, truth, said in STATEMENTS:
        tp, fn, fp, tn = _confusion(rows, truth, said, key)
        wrong = [f"{r['record']}{'*' if r['dx']['cardiac pacing'] else ''}" for r in rows
                 if not truth(r["dx"]) and said(r[key])]
        shown = ", ".join(wrong[:MAX_LISTED]) + (f" and {len(wrong) - MAX_LISTED} more" if len(wrong) > MAX_LISTED else "")
        lines.append(f"| {name} | {tp + fn} | {rate(tp, tp + fn)} | {rate(tn, tn + fp)} | {tp} | {fn} | {fp} | {tn} | {shown} |")
    return lines


def _flagged(reading):
    return [f for f in (reading.findings if reading else []) if f.severity in ("abnormal", "urgent")]


def _diff_stats(ours, ref):
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    d = ours - ref
    d = d[np.isfinite(d)]
    if not d.size:
        return "-", "-", "-", "-"
    return f"{d.mean():+.1f}", f"{d.std():.1f}", f"{np.abs(d).mean():.1f}", str(d.size)


def write_report(result, out: Path, command: str, total_s: float):
    rows = result["records"]
    read = [r for r in rows if r["reading"] is not None]
    lines = ["# 12-lead reading (ml.twelve_lead) against LUDB's cardiologists", "",
             f"Command (from the repository root): `{command}`; {total_s:.0f} s in all on "
             f"{platform.machine()}, Python {platform.python_version()}.", "",
             "Data: the Lobachevsky University Database, 200 records (one per patient), 12 leads, 10 s "
             "at 500 Hz, read raw as a 12-lead file is (R peaks detected on lead II). Reference: "
             "ludb.csv's diagnoses (statements) and the cardiologists' wave marks in every lead "
             "(boundaries, ST). **No criterion was tuned on LUDB**: every threshold is a published one "
             "(sources in ml/twelve_lead.py), so every figure is on records the rules never saw (one "
             "exception: the axis method, see below); the rule that combines the leads into global "
             "boundaries was chosen by patient-grouped 5-fold CV (its errors below are out-of-fold), "
             "the delineation fractions underneath likewise (ml/reports/delineation.md). With 200 "
             "patients, and 4 to 16 of each condition, the "
             "intervals are wide: read the counts, not the percentages. Brackets: Wilson 95 % "
             "intervals.", ""]
    times = np.array([r["seconds"] for r in rows]) * 1000.0
    lines += [f"Read: {len(read)} of {len(rows)} records (a record is not read with too few clean "
              f"beats or leads). Time to read one record (10 s, 12 leads, raw in): median {np.median(times):.0f} ms, "
              f"95th percentile {np.percentile(times, 95):.0f} ms, max {times.max():.0f} ms.", ""]

    # The two product figures.
    healthy = [r for r in rows if is_healthy(r["dx"])]
    normal = [r for r in healthy if r["reading"] is not None and not _flagged(r["reading"])]
    stemi = [r for r in rows if _stemi(r["dx"])]
    urgent = [r for r in stemi if r["reading"] is not None and any(f.severity == "urgent" for f in r["reading"].findings)]
    as_normal = [r for r in stemi if r["reading"] is not None and not _flagged(r["reading"])]
    lines += ["## What the product answers for", "",
              "Each record is read with the sex and age its header states (the product reads them "
              "from a WFDB or EDF+ header, else from the patient's profile; they set the ST limits in V2-V3, the Cornell limit and "
              "the age under which voltage alone is not flagged). The same records read with sex "
              "and age unknown, as a picture or CSV file of a patient with no sex or date of birth in "
              "the profile is read, are in the section after the statements; the printed-report "
              "sections read the pages with the header's sex and age, as the profile would give them.", "",
              "- **Healthy records read normal** (no abnormal or urgent finding): "
              f"{rate(len(normal), len(healthy))}. Healthy = ludb.csv lists a sinus rhythm (not sinus "
              "arrhythmia), a normal, vertical or horizontal axis, and nothing under conduction, "
              "extrasystoles, hypertrophies (LUDB's 102 left atrial and 108 LV hypertrophies exclude "
              "most records), pacing, ischaemia, non-specific repolarisation or other states.",
              f"- **STEMI records read urgent**: {rate(len(urgent), len(stemi))}; read with no abnormal "
              f"finding at all: {len(as_normal)} of {len(stemi)} "
              f"({', '.join(str(r['record']) for r in as_normal) or '-'}). Their ST elevation at J "
              "(listed below) is mostly under the Fourth UDMI's limits: LUDB's cardiologists called "
              "STEMI from more than the J-point level (the ST segment merging into the T wave, QS "
              "complexes, T inversion, the clinical picture). Below those limits the anterior wall is "
              "read by Smith's 4-variable formula (no Q waves) and Smith's T/QRS ratio (over QS waves), "
              "published thresholds, not tuned here; most of LUDB's STEMI records have QS waves with "
              "T inversion, which no published rule dates as acute (read abnormal). Records read urgent without a STEMI in "
              "ludb.csv: "
              f"{', '.join(str(r['record']) + ' (' + r['dx']['rhythms'] + ')' for r in rows if r['reading'] and not _stemi(r['dx']) and any(f.severity == 'urgent' for f in r['reading'].findings)) or 'none'}.",
              ""]
    causes = {}
    for r in healthy:
        for f in _flagged(r["reading"]):
            causes.setdefault(f.display, []).append(r["record"])
    if causes:
        lines += ["Findings that made a healthy record abnormal (records):", ""]
        lines += [f"- {k}: {len(v)} ({', '.join(map(str, v))})" for k, v in
                  sorted(causes.items(), key=lambda kv: -len(kv[1]))]
        lines.append("")
    lines += ["STEMI records, one by one (ludb.csv: walls; the reading's abnormal and urgent findings):", ""]
    for r in stemi:
        found = "; ".join(f"{f.display} [{f.severity}] {', '.join(f.leads)}" for f in _flagged(r["reading"])) or "none"
        top = ""
        if r["reading"] is not None:
            pl = r["reading"].per_lead
            top = ", ".join(f"{n} {pl[n]['st_j_mv']:+.2f}" for n in ("V1", "V2", "V3", "V4", "V5", "V6", "I", "aVL") if n in pl)
        lines.append(f"- {r['record']}: {r['dx']['ischemia']} | conduction: {r['dx']['conduction abnormalities'] or '-'} "
                     f"| read: {found} | ST at J (mV): {top}")
    lines.append("")
    lines += _anterior_section(rows)

    lines += ["## Statements", ""] + _statement_table(rows) + [""]
    blind_healthy = sum(1 for r in healthy if r["blind"] is not None and not _flagged(r["blind"]))
    blind_urgent = sum(1 for r in stemi if r["blind"] is not None
                       and any(f.severity == "urgent" for f in r["blind"].findings))
    blind_flagged = sum(1 for r in stemi if _flagged(r["blind"]))
    lines += ["## Sex and age unknown", "",
              "The same records read without sex and age (neither the file nor the profile states them): the lowest ST "
              "limit in V2-V3 (1.5 mm), the men's Cornell limit, voltage flagged at any age.", "",
              f"- Healthy records read normal: {rate(blind_healthy, len(healthy))}; STEMI records read "
              f"urgent: {rate(blind_urgent, len(stemi))}; STEMI records flagged (abnormal or urgent): "
              f"{rate(blind_flagged, len(stemi))}.", ""]
    lines += _statement_table(rows, "blind") + [""]
    axes = [(r, _axis(r["reading"])) for r in read if _axis(r["reading"]) is not None]
    cats = [c for c, _, _ in AXIS_CATEGORIES]
    lines += ["Axis category (ours mapped onto LUDB's categories) against ludb.csv:", "",
              "| ludb.csv \\ ours | " + " | ".join(cats) + " |", "|---|" + "---:|" * len(cats)]
    for truth_cat in cats:
        hits = [_axis_category(a) for r, a in axes if truth_cat in r["dx"]["electric axis of the heart"]]
        lines.append(f"| {truth_cat} | " + " | ".join(str(hits.count(c)) for c in cats) + " |")
    agree = sum(1 for r, a in axes if _axis_category(a) in r["dx"]["electric axis of the heart"])
    known = sum(1 for r, a in axes if r["dx"]["electric axis of the heart"])
    by_area = sum(1 for r in read if r["dx"]["electric axis of the heart"]
                  and _axis_category(_area_axis(r["reading"].per_lead)) in r["dx"]["electric axis of the heart"])
    lines += ["", f"Same category: {rate(agree, known)}. The axis is read from the net QRS amplitudes "
              "of I and aVF, as on paper. That choice was made by comparing methods on all 200 records "
              "(then read through LUDB's header gains, see LUDB's voltages), not cross-validated; read "
              f"in true mV, least squares on the six limb leads' net QRS areas puts {by_area} of "
              f"{known} in LUDB's category.", ""]
    er = [r for r in rows if "early repolarization" in r["dx"]["other states"]]
    paced = [r for r in rows if r["dx"]["cardiac pacing"]]
    lines += [f"Early repolarisation (9 records): {sum(_urgent_st(r['reading']) for r in er)} "
              "read as STEMI (urgent ST elevation).",
              f"Paced (ludb.csv lists pacing, {len(paced)} records; read without beat labels): "
              f"{sum(1 for r in paced if r['reading'] and (r['reading'].measurements.get('qrs_ms') or 0) >= tl.QRS_COMPLETE_MS)} "
              f"with QRS >= 120 ms (ST read by the modified Sgarbossa criteria only), "
              f"{sum(1 for r in paced if any(f.severity == 'urgent' for f in (r['reading'].findings if r['reading'] else [])))} urgent.", ""]

    # Fiducial points.
    cv = global_rule_cv(rows)
    rules = ", ".join(f"{name} {_rule_text(tl.GLOBAL_RULE[key])}" for key, name, _ in FIDUCIALS)
    lines += ["## Global fiducial points against the marks (delineation)", "",
              "Ours: the global point on the median beats, combined over the 12 leads by "
              "`ml.twelve_lead.GLOBAL_RULE` (share/k/rank, next section: " + rules + "; a P wave needs "
              "to be found in 3 leads). Marked: the cardiologists' per-lead marks (median over the "
              "beats), combined as the second earliest onset / second latest end. Found: records "
              "where both exist, over records marked. Error in ms; the CSE tolerance is for 2 SD. "
              "**Out-of-fold**: each record's point by the rule chosen on the other four folds of "
              "patients; 'within the limit': the share of records whose error is within the CSE "
              "2-SD figure. The last two columns: the served rule on every record (in-sample, for "
              "reference).", "",
              "| point | found / marked | mean error | SD | 2 SD | CSE 2 SD limit | 2 SD within | "
              "within the limit | served, in-sample: mean | 2 SD |",
              "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for key, name, limit in FIDUCIALS:
        marked = sum(1 for r in rows if r.get("per_lead_points") and r["marked"][key] is not None)
        d = cv[key]["oof"]
        served = np.array([o - m for o, m in (r["points"][key] for r in rows if r.get("points"))
                           if o is not None and m is not None])
        if not d.size:
            continue
        lines.append(f"| {name} | {d.size} / {marked} | {d.mean():+.1f} | {d.std():.1f} | {2 * d.std():.1f} | "
                     f"{limit} | {'yes' if 2 * d.std() <= limit else 'no'} | "
                     f"{100 * np.mean(np.abs(d) <= limit):.0f} % | {served.mean():+.1f} | {2 * served.std():.1f} |")
    lines.append("")
    lines += global_rule_section(cv)

    # Boundaries.
    lines += ["## Global intervals against the marks", "",
              "Ours: global boundaries on the median beats (the rules above). Marked: the "
              "cardiologists' per-lead marks (median over the beats), combined as the second earliest "
              "onset / second latest end. ms; IEC 60601-2-25 asks for a mean difference within 10 (PR), 6 (QRS), "
              "12 (QT) ms and SD within 10, 10, 30 ms on the CSE set.", "",
              "| interval | mean diff | SD | mean abs. | records |", "|---|---:|---:|---:|---:|"]
    for name, key, a, b in (("PR", "pr_ms", "p_on", "qrs_on"), ("QRS", "qrs_ms", "qrs_on", "qrs_off"),
                            ("QT", "qt_ms", "qrs_on", "t_end")):
        ours, ref = [], []
        for r in read:
            m = r["marked"]
            if m[a] is None or m[b] is None:
                continue
            ours.append(r["reading"].measurements.get(key, np.nan))
            ref.append(m[b] - m[a])
        lines.append(f"| {name} | " + " | ".join(_diff_stats(ours, ref)) + " |")
    lines.append("")

    # ST.
    pairs = np.array([v for r in rows for v in r["st"].values()])
    lines += ["## ST level: our J point against the cardiologists'", "",
              "The same median beat of each lead, measured at our global J point and at the J point "
              "the marks give (with the PR-segment baseline before each's QRS onset); "
              f"{len(pairs)} record-leads. mV.", "",
              "| point | mean diff | SD | mean abs. | within 0.05 mV | within 0.1 mV |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, i in (("J", 0), ("J+60 ms", 2)):
        d = pairs[:, i] - pairs[:, i + 1]
        lines.append(f"| {name} | {d.mean():+.3f} | {d.std():.3f} | {np.abs(d).mean():.3f} | "
                     f"{100 * np.mean(np.abs(d) <= 0.05):.0f} % | {100 * np.mean(np.abs(d) <= 0.1):.0f} % |")
    ours_up, ref_up = pairs[:, 0] >= tl.ST_ELEVATION_MV, pairs[:, 1] >= tl.ST_ELEVATION_MV
    ours_dn, ref_dn = pairs[:, 0] <= tl.ST_DEPRESSION_MV, pairs[:, 1] <= tl.ST_DEPRESSION_MV
    lines += ["", f"Lead-level ST elevation >= 0.1 mV at J: both {int((ours_up & ref_up).sum())}, ours only "
              f"{int((ours_up & ~ref_up).sum())}, marks only {int((~ours_up & ref_up).sum())}. ST depression "
              f"<= -0.05 mV at J: both {int((ours_dn & ref_dn).sum())}, ours only {int((ours_dn & ~ref_dn).sum())}, "
              f"marks only {int((~ours_dn & ref_dn).sum())}.", ""]

    # Calibration.
    gains = np.array([r["einthoven"] for r in rows])
    lines += ["## LUDB's voltages", "",
              "Voltage criteria (ST in mm, Sokolow-Lyon, Cornell, low voltage) need leads in true mV. "
              "LUDB's header gains are not a calibration: every lead's gain equals its own "
              "peak-to-peak range in ADC units, so a reader that applies them (wfdb's physical "
              "signal) scales each lead to 1 mV peak to peak, and Einthoven's law (III = II - I) then "
              "holds in 46 of 200 records (`python -m ml.lab.ludb ../shared/data/ludb`). Every figure "
              "here reads the ADC values at 1 uV per unit (ml/lab/ludb.py): the least-squares gain of "
              f"III on II - I is then median {np.median(gains):.2f} (IQR {np.percentile(gains, 25):.2f}-"
              f"{np.percentile(gains, 75):.2f}), {int(np.sum(np.abs(gains - 1) <= 0.1))} of "
              f"{len(gains)} records within 10 % of 1. The unit itself is inferred (lead II's R wave "
              "median 0.86 mV; Sokolow-Lyon median 2.4 mV with LVH, 2.2 mV without), not documented. "
              "The product refuses to read voltages when the limb leads disagree "
              "(`ml.twelve_lead.limb_leads_agree`): a LUDB file uploaded as it is gets its intervals "
              "and blocks read and its ST and voltage statements listed as not assessed.", ""]
    lines += _report_section(rows, "layout", "The leads of a printed 3x4 report against the full signal", (
        "Each record laid out as ml.io digitises a picture of a standard report: resampled to 250 Hz, "
        "every lead NaN outside its 2.5-s column (I, aVR, V1, V4 / II, aVL, V2, V5 / III, aVF, V3, V6), "
        "lead II whole as the 10-s rhythm strip, R peaks detected on it; read by the same "
        "`read_twelve_lead` (each column's median beats built with lead II over the 2-4 beats inside "
        "it, aligned on the rhythm strip's lead-II median beat) and compared with the full-signal "
        "reading above (all leads, 10 s, 500 Hz). The raw leads are masked, baseline wander included. "
        "A column is left out (its leads missing, with why) when it holds fewer than 2 beats whose "
        "QRS lies inside it (at slow rates) or when its lead-II median beat is not like the rhythm "
        "strip's (other beats). The third ST row measures the choice of filter for a 2.5-s piece: "
        "the reader detrends and low-passes it; there each column was first band-passed on its own "
        "as a file is. Where the two readings differ, the cause is mostly the few beats: a median "
        "of 2-3 beats keeps an artefact or a baseline swing that 10 s of beats outvote."))
    if any("picture" in r for r in rows):
        lines += _report_section(rows, "picture", "Through a picture: rendered, then read back", (
            "Each record drawn as a 3x4 report with a lead II rhythm strip (`ml.io.render.render_report`, "
            "150 dpi, pink grid, raw leads), read back by `ml.io.load` (its `Recording.leads`, "
            "calibration pulses and lead changes cut out) and by `read_twelve_lead` with the R peaks "
            "detected on the digitised rhythm strip; compared with the full-signal reading."))
    out.write_text("\n".join(lines), encoding="utf-8")


def _report_section(rows, key, title, intro):
    """Return the markdown lines comparing the readings under ``key`` with the full-signal ones."""
    both = [r for r in rows if r[key] is not None and r["reading"] is not None]
    unread = [str(r["record"]) for r in rows if r[key] is None]
    no_leads = [str(r["record"]) for r in rows if r.get(f"{key}_leads") is False]
    lines = [f"## {title}", "", intro, "",
             f"Read: {len(rows) - len(unread)} of {len(rows)} records (not read: {', '.join(unread) or 'none'}"
             + (f"; of these, ml.io refused the picture or gave no leads for {', '.join(no_leads)}" if no_leads else "") + ")."]
    for label, words in ((f"a column with fewer than {tl.MIN_PANEL_BEATS} beats whose QRS lies inside it",
                          "fewer than"), ("a column whose beats are not like the rhythm strip's", "not like")):
        hit = [str(r["record"]) for r in both if any(words in n.why for n in r[key].not_assessed)]
        lines[-1] += f" Read with leads missing, {label}: {len(hit)} ({', '.join(hit) or '-'})."
    if key == "layout":
        times = np.array([r["layout_seconds"] for r in rows]) * 1000.0
        lines[-1] += f" Time to read one page: median {np.median(times):.0f} ms, max {times.max():.0f} ms."
    lines += ["", "Per-lead ST level, this reading minus the full-signal one (record-leads read both ways), mV:", "",
              "| point | mean diff | SD | mean abs. | within 0.05 mV | within 0.1 mV | record-leads |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    variants = [("J", key, "st_j_mv"), ("J+60 ms", key, "st_j60_mv")]
    if key == "layout":
        variants.append(("J+60 ms, each column band-passed (0.5-40 Hz) over its 2.5 s first",
                         "layout_band_passed", "st_j60_mv"))
    for name, k, field in variants:
        d = np.array([r[k].per_lead[n][field] - r["reading"].per_lead[n][field] for r in rows
                      if r[k] is not None and r["reading"] is not None
                      for n in r[k].per_lead if n in r["reading"].per_lead])
        lines.append(f"| {name} | {d.mean():+.3f} | {d.std():.3f} | {np.abs(d).mean():.3f} | "
                     f"{100 * np.mean(np.abs(d) <= ST_CLOSE_MV):.1f} % | "
                     f"{100 * np.mean(np.abs(d) <= 0.1):.1f} % | {d.size} |")
    lines += ["", "Global measurements, this reading minus the full-signal one:", "",
              "| measurement | mean diff | SD | mean abs. | records |", "|---|---:|---:|---:|---:|"]
    for name, m in (("PR (ms)", "pr_ms"), ("QRS (ms)", "qrs_ms"), ("QT (ms)", "qt_ms"), ("QTc (ms)", "qtc_ms")):
        lines.append(f"| {name} | " + " | ".join(_diff_stats(
            [r[key].measurements.get(m, np.nan) for r in both],
            [r["reading"].measurements.get(m, np.nan) for r in both])) + " |")
    axes = np.array([(r[key].measurements["axis_deg"] - r["reading"].measurements["axis_deg"] + 180) % 360 - 180
                     for r in both if "axis_deg" in r[key].measurements and "axis_deg" in r["reading"].measurements])
    lines.append(f"| axis (deg) | {axes.mean():+.1f} | {axes.std():.1f} | {np.abs(axes).mean():.1f} | {axes.size} |")
    lines += ["", f"Axis within {AXIS_CLOSE_DEG:.0f} deg of the full signal's: "
              f"{rate(int(np.sum(np.abs(axes) <= AXIS_CLOSE_DEG)), axes.size)}.", "",
              f"Findings (every severity), on the {len(both)} records read both ways:", "",
              "| finding (code) | full signal | this reading | both | full only | this only |",
              "|---|---:|---:|---:|---:|---:|"]
    names = {}  # one row per statement: several share a code (ST elevation: STEMI, Smith, LVH)
    for r in both:
        for f in r["reading"].findings + r[key].findings:
            names.setdefault(f.display, f.code)
    for display, code in names.items():
        full = {r["record"] for r in both if any(f.display == display for f in r["reading"].findings)}
        ours = {r["record"] for r in both if any(f.display == display for f in r[key].findings)}
        only = sorted(ours - full)
        lines.append(f"| {display} ({code}) | {len(full)} | {len(ours)} | {len(full & ours)} | "
                     f"{len(full - ours)} | {len(only)} |")
    same = sum(_codes(r["reading"]) == _codes(r[key]) for r in both)
    flagged = ("abnormal", "urgent")
    same_flagged = sum(_codes(r["reading"], flagged) == _codes(r[key], flagged) for r in both)
    level = sum(_level(r["reading"]) == _level(r[key]) for r in both)
    lines += ["", f"Same findings (codes) as the full signal: {rate(same, len(both))}; same abnormal and urgent "
              f"findings: {rate(same_flagged, len(both))}; same worst severity (none / info / abnormal / "
              f"urgent): {rate(level, len(both))}.", ""]
    healthy = [r for r in rows if is_healthy(r["dx"])]
    normal = [r for r in healthy if r[key] is not None and not _flagged(r[key])]
    stemi = [r for r in rows if _stemi(r["dx"])]
    urgent = [r for r in stemi if r[key] is not None and any(f.severity == "urgent" for f in r[key].findings)]
    lines += [f"- **Healthy records read normal** (no abnormal or urgent finding): {rate(len(normal), len(healthy))} "
              f"(full signal: {sum(1 for r in healthy if r['reading'] is not None and not _flagged(r['reading']))}).",
              f"- **STEMI records read urgent**: {rate(len(urgent), len(stemi))}.", "",
              "Statements against ludb.csv, read this way:", ""]
    return lines + _statement_table(rows, key) + [""]


def _level(reading):
    order = ("info", "abnormal", "urgent")
    return max((order.index(f.severity) for f in reading.findings if f.severity in order), default=-1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the LUDB folder (holds ludb.csv and data/)")
    parser.add_argument("--out", type=Path, default=Path("ml/reports/twelve_lead.md"))
    parser.add_argument("--pictures", action="store_true",
                        help="also read each record through a rendered picture (about 5 min more)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = evaluate(args.data, pictures=args.pictures)
    command = "python -m ml.lab.evaluate_twelve_lead " + " ".join(argv if argv is not None else sys.argv[1:])
    write_report(result, args.out, command, time.perf_counter() - start)
    print(args.out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
