"""Fit the served model's confidence on patients it never saw: temperature scaling and the
"unsure" threshold.

    python -m ml.lab.calibrate --fit .cache/runs/svdb-half --cv .cache/runs/gcv/A-svdb-focal --cross .cache/runs/mitdb-to-svdb --install

Inputs are held-out probabilities only, never DS2:

* ``--fit``: the served recipe trained on all MIT-BIH + half of the SVDB patients and scored on
  the other half (``ml.lab.train --protocol svdb-half``): the served classes and training mix, on
  31 patients it never saw. The temperature T minimises the negative log-likelihood of
  softmax(log p / T) on all of them; the expected calibration error (ECE) is reported
  cross-fitted (T fitted on half of those records, measured on the other half, both ways);
* ``--cv`` (the grouped cross-validation's out-of-fold beats, 4 AAMI classes) and ``--cross``
  (the 8-class recipe trained on MIT-BIH only, scored on all SVDB): checks of the same T on
  other held-out patients.

The "unsure" threshold is chosen on the cross-fitted calibrated held-out beats: the top
probability below which a beat is flagged that best separates wrong beats from right ones (the
largest F1 of "flagged" as a detector of "wrong"). ``--install`` writes T and the threshold into
``ml/models/ecg_cnn.json`` (``ml.store`` applies T when it loads the model), and the figures
into ``ml/reports/calibration.json`` and ``ml/reports/reliability.png``.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ml import lab
from ml.lab import metrics

REPORTS = lab.REPORTS
SERVED_META = lab.MODELS_DIR / "ecg_cnn.json"
THRESHOLDS = np.round(np.arange(0.40, 0.96, 0.01), 2)


def _load(path):
    with np.load(path) as z:
        return z["probs"].astype(np.float64), z["y"], z["record"]


def unsure_threshold(probs, y):
    """Return (threshold, facts) maximising the F1 of "top probability < t" as a detector of wrong
    beats, with the share of beats flagged, the error rate among them and the errors caught."""
    top = probs.max(axis=1)
    wrong = probs.argmax(axis=1) != y
    best = None
    for t in THRESHOLDS:
        flag = top < t
        tp = np.sum(flag & wrong)
        f1 = 2 * tp / max(flag.sum() + wrong.sum(), 1)
        facts = {"threshold": float(t), "f1": float(f1), "flagged_share": float(flag.mean()),
                 "error_rate_flagged": float(wrong[flag].mean()) if flag.any() else None,
                 "error_rate_kept": float(wrong[~flag].mean()) if (~flag).any() else None,
                 "errors_caught": float(tp / max(wrong.sum(), 1))}
        if best is None or f1 > best[1]["f1"]:
            best = (float(t), facts)
    return best


def _crossfit(probs, y, record):
    """Return (probabilities with T fitted on the other half of the records, the two Ts): the
    records, sorted, are dealt alternately into two halves; each half is scaled by the T fitted
    on the other, so no beat's T was fitted on its own patient."""
    recs = np.unique(record)
    halves = [np.isin(record, recs[0::2]), np.isin(record, recs[1::2])]
    out = np.zeros_like(probs)
    temps = []
    for fit, score in ((halves[0], halves[1]), (halves[1], halves[0])):
        t = metrics.fit_temperature(probs[fit], y[fit])
        temps.append(t)
        out[score] = metrics.apply_temperature(probs[score], t)
    return out, temps


def calibrate(fit_dir, cv_dir=None, cross_dir=None):
    """Return the calibration facts (see the module docstring)."""
    probs, y, record = _load(Path(fit_dir) / "test_probs.npz")
    temperature = metrics.fit_temperature(probs, y)
    crossfit, half_t = _crossfit(probs, y, record)
    before = metrics.calibration(probs, y)
    after = metrics.calibration(crossfit, y)
    threshold, unsure = unsure_threshold(crossfit, y)
    facts = {
        "fit_run": str(fit_dir), "temperature": temperature, "half_temperatures": half_t,
        "n_fit_beats": int(len(y)), "n_fit_records": int(len(np.unique(record))),
        "fit": {"ece_before": before["ece"], "ece_after_crossfit": after["ece"],
                "nll_before": metrics.nll(probs, y), "nll_after_crossfit": metrics.nll(crossfit, y),
                "mean_confidence_before": float(probs.max(axis=1).mean()),
                "mean_confidence_after": float(crossfit.max(axis=1).mean()),
                "accuracy": float(np.mean(probs.argmax(axis=1) == y))},
        "low_confidence": threshold, "unsure": unsure,
        "curves": {"SVDB half, raw": before, "SVDB half, T (cross-fitted)": after},
    }
    for key, run, name in (("cv", cv_dir, "oof_probs.npz"), ("cross", cross_dir, "test_probs.npz")):
        if not run:
            continue
        p, yy, _ = _load(Path(run) / name)
        scaled = metrics.apply_temperature(p, temperature)
        b, a = metrics.calibration(p, yy), metrics.calibration(scaled, yy)
        flag = scaled.max(axis=1) < threshold
        wrong = p.argmax(axis=1) != yy
        facts[key] = {"run": str(run), "n": int(len(yy)), "ece_before": b["ece"],
                      "ece_after": a["ece"], "accuracy": float(np.mean(~wrong)),
                      "flagged_share": float(flag.mean()),
                      "error_rate_flagged": float(wrong[flag].mean()) if flag.any() else None,
                      "errors_caught": float((flag & wrong).sum() / max(wrong.sum(), 1))}
        label = "grouped CV (4 classes)" if key == "cv" else "MIT-BIH -> SVDB"
        facts["curves"][f"{label}, raw"] = b
        facts["curves"][f"{label}, T"] = a
    return facts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fit", required=True, help="svdb-half run folder (test_probs.npz): T is "
                   "fitted on its held-out SVDB patients")
    p.add_argument("--cv", help="grouped-cv run folder (oof_probs.npz): a check")
    p.add_argument("--cross", help="mitdb-to-svdb run folder (test_probs.npz): a check")
    p.add_argument("--install", action="store_true",
                   help="write the temperature and threshold into ml/models/ecg_cnn.json")
    args = p.parse_args(argv)
    facts = calibrate(args.fit, args.cv, args.cross)
    REPORTS.mkdir(exist_ok=True)
    metrics.plot_reliability(facts["curves"], REPORTS / "reliability.png",
                             "Reliability on patients the model never saw")
    (REPORTS / "calibration.json").write_text(json.dumps(facts, indent=1) + "\n")
    if args.install:
        meta = json.loads(SERVED_META.read_text())
        meta["temperature"] = round(facts["temperature"], 4)
        meta["low_confidence"] = facts["low_confidence"]
        meta["calibrated_on"] = facts["fit_run"]
        SERVED_META.write_text(json.dumps(meta, indent=1) + "\n")
    fit = facts["fit"]
    print(f"T = {facts['temperature']:.3f}; held-out SVDB half ECE {fit['ece_before']:.4f} -> "
          f"{fit['ece_after_crossfit']:.4f} (cross-fitted); unsure below {facts['low_confidence']}; "
          + "; ".join(f"{k} ECE {facts[k]['ece_before']:.4f} -> {facts[k]['ece_after']:.4f}"
                      for k in ("cv", "cross") if k in facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
