"""Round trip of the image path: render 12-lead reports from MIT-BIH/SVDB, distort, read back, compare.

    .venv/bin/python bench/bench_image_reading.py [--data ../shared/data] [--pages 40] [--seed 0]

For each page: a 10 s segment of a record is drawn as a 3x4 + lead II rhythm-strip report (or a
single strip) on pink paper at 25 mm/s and 10 mm/mV with a calibration pulse, a header and its
double line (``ml.io.render``), then "photographed" (tilt up to 15 degrees, blur, JPEG, shadow,
~100 dpi). The reading (``ml.analysis.analyse`` on the picture) is compared with the truth:
  - heart rate within 5 bpm of the annotated beats' rate;
  - beat labels against the signal path (``ml.analysis.analyse`` on the same 10 s of signal);
  - the calibration pulse never read as a beat;
  - time per page (reading only, and the whole analysis).
Also: the non-ECG gate on ``ml.io.render.non_ecg_pictures`` and the read rate on the real scans and
photos in ``<data>/ecg-photos`` (unlabelled: how many are read, and what is said of the rest).
Renders are cached under .cache/bench_images/ (not part of the repository).
"""

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MITDB = ["100", "103", "105", "106", "112", "116", "119", "200", "201", "203", "207", "208", "209",
         "210", "213", "214", "215", "219", "221", "222", "223", "228", "231", "233"]
SVDB = ["800", "803", "805", "808", "811", "820", "824", "829", "843", "850", "853", "866", "871",
        "880", "892"]
DISTORTIONS = ["none", "tilt", "blur", "jpeg", "shadow", "low_dpi", "photo"]


def distort(kind, img, rng):
    """Return (encoded picture bytes, suffix, description) of ``img`` after one distortion."""
    from PIL import Image

    from ml.io.render import photograph

    quality = None
    if kind == "none":
        out, desc = img, "clean"
    elif kind == "tilt":
        angle = float(rng.choice([-1, 1]) * rng.uniform(2, 15))
        out, desc = photograph(img, rng, angle=angle), f"tilt {angle:+.1f} deg"
    elif kind == "blur":
        s = float(rng.uniform(0.6, 1.2))
        out, desc = photograph(img, rng, blur=s), f"blur sigma {s:.1f} px"
    elif kind == "jpeg":
        quality = int(rng.integers(35, 70))
        out, desc = img, f"JPEG q{quality}"
    elif kind == "shadow":
        out, desc = photograph(img, rng, shadow=0.45, noise=3), "shadow 45 % + noise"
    elif kind == "low_dpi":
        out, desc = photograph(img, rng, scale=100 / 150), "100 dpi"
    else:
        angle = float(rng.uniform(-8, 8))
        quality = 70
        out = photograph(img, rng, angle=angle, blur=0.7, shadow=0.3, noise=3)
        desc = f"photo: tilt {angle:+.1f}, blur, shadow, JPEG q70"
    buf = io.BytesIO()
    if quality:
        Image.fromarray(out).save(buf, format="JPEG", quality=quality)
        return buf.getvalue(), ".jpg", desc
    Image.fromarray(out).save(buf, format="PNG")
    return buf.getvalue(), ".png", desc


def segment(data, db, record, start_s, fs_hint=None):
    import wfdb

    head = wfdb.rdheader(str(data / db / record))
    fs = float(head.fs)
    a, b = int(start_s * fs), int((start_s + 10.0) * fs)
    rec = wfdb.rdrecord(str(data / db / record), sampfrom=a, sampto=b)
    ann = wfdb.rdann(str(data / db / record), "atr", sampfrom=a, sampto=b)
    beats = np.array([s - a for s, sym in zip(ann.sample, ann.symbol) if sym in "NLRAaJSVFejE/fQ!"])
    sig = rec.p_signal
    names = [n.upper() for n in rec.sig_name]
    main = names.index("MLII") if "MLII" in names else 0
    other = 1 - main if sig.shape[1] > 1 else main
    return sig[:, main], sig[:, other], fs, beats


def match(ref_t, got_t, tol=0.15):
    """Return index pairs (i_ref, i_got) matched within ``tol`` seconds, greedy by distance."""
    pairs, used = [], set()
    for i, t in enumerate(ref_t):
        if got_t.size == 0:
            break
        j = int(np.argmin(np.abs(got_t - t)))
        if abs(got_t[j] - t) <= tol and j not in used:
            pairs.append((i, j))
            used.add(j)
    return pairs


def best_shift(ref_t, got_t):
    shifts = np.arange(-0.4, 0.41, 0.01)
    scores = [len(match(ref_t, got_t + s, 0.05)) for s in shifts]
    return float(shifts[int(np.argmax(scores))])


def beat_labels(x, fs, classifier):
    """Return (R peaks, labels) by the analysis' beat steps: detector, beat features, classifier."""
    from ml import classes, preprocess
    from ml.analysis import _as_eight_classes
    from ml.detect import detect_r_peaks

    peaks = np.asarray(detect_r_peaks(x, fs), dtype=np.int64)
    if peaks.size == 0:
        return peaks, []
    cleaned = preprocess.clean(np.asarray(x, dtype=np.float64), fs)
    feats = preprocess.beat_features(cleaned, fs, peaks, cleaned=True)
    probs = _as_eight_classes(classifier.predict(feats.images, feats.context), classifier)
    return peaks, [classes.CODES[i] for i in probs.argmax(axis=1)]


def analyse_status(source, classifier, fs=None):
    """Return (status, reason) of ``ml.analyse`` ("error" when the shared analysis itself fails)."""
    import ml

    try:
        res = ml.analyse(source, fs=fs, classifier=classifier, n_representatives=0)
    except Exception as exc:  # noqa: BLE001 - the analysis is shared work in progress
        return "error", f"{type(exc).__name__}: {str(exc)[:120]}"
    return res.status, res.reason


def round_trip(args, classifier):
    from PIL import Image

    from ml.io import load, render

    rng = np.random.default_rng(args.seed)
    cache = REPO / ".cache" / "bench_images"
    cache.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    cases = []
    records = [("mitdb", r) for r in MITDB] + [("svdb", r) for r in SVDB]
    for k in range(args.pages):
        db, record = records[k % len(records)]
        cases.append((db, record, float(rng.uniform(30, 1700)), DISTORTIONS[k % len(DISTORTIONS)],
                      "strip" if k % 5 == 4 else "3x4+rhythm"))
    rows = []
    for k, (db, record, start, kind, lay) in enumerate(cases):
        a, b, fs, beats = segment(data, db, record, start)
        rendered = render.render_report(render.twelve_leads(a, b), fs, layout=lay, dpi=150)
        blob, suffix, desc = distort(kind, rendered.image, np.random.default_rng(args.seed + k))
        path = cache / f"page_{k:03d}{suffix}"
        path.write_bytes(blob)
        t0 = time.perf_counter()
        try:
            rec = load(path)
            read_s = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - recorded as "not read"
            rec, read_s = None, time.perf_counter() - t0
            err = str(exc)
        t1 = time.perf_counter()
        img_status, img_reason = analyse_status(path, classifier)
        total_s = time.perf_counter() - t1
        sig_status, _ = analyse_status(a, classifier, fs=fs)
        ref_t = beats / fs
        ref_hr = 60.0 / np.mean(np.diff(ref_t)) if ref_t.size > 2 else None
        row = {"page": k, "db": db, "record": record, "start_s": round(start, 1), "layout": lay,
               "distortion": desc, "kind": kind, "read_s": round(read_s, 3), "analyse_s": round(total_s, 3),
               "read": rec is not None, "status": img_status, "reason": img_reason,
               "signal_status": sig_status, "ref_hr": ref_hr and round(ref_hr, 1)}
        if rec is not None:
            # The reading: the analysis' own beat steps (detector, features, classifier) on the strip.
            got_p, got_labels = beat_labels(rec.signal, rec.fs, classifier)
            sig_p, sig_labels = beat_labels(a, fs, classifier)
            got_t, sig_t = got_p / rec.fs, sig_p / fs
            read_hr = 60.0 / np.mean(np.diff(got_t)) if got_t.size > 2 else float("nan")
            row["read_hr"] = round(read_hr, 1)
            row["read_hr_ok"] = bool(ref_hr is not None and abs(read_hr - ref_hr) <= 5.0)
            row["pulse_removed"] = any("Calibration pulse found" in n for n in rec.notes)
            shift = best_shift(ref_t, got_t)
            row["shift_s"] = round(shift, 3)
            # A beat read in the pulse's place: earlier than any true beat could be.
            row["pulse_as_beat"] = bool(np.any(got_t + shift < -0.12))
            pairs = match(sig_t, got_t + shift)
            row["beats_signal"] = len(sig_t)
            row["beats_image"] = len(got_t)
            row["beats_matched"] = len(pairs)
            row["labels_same"] = int(sum(sig_labels[i] == got_labels[j] for i, j in pairs))
            row["labels_signal"] = "".join(sig_labels)
            row["labels_image"] = "".join(got_labels)
        else:
            row["read_hr_ok"] = False
        if rec is None:
            row["load_error"] = err[:200]
        rows.append(row)
        print(json.dumps(row), flush=True)
        if k == 0:
            Image.open(path).convert("RGB").save(cache / "example_page.png")
    return rows


def gate(args, classifier):
    from PIL import Image

    from ml.io import load, render

    cache = REPO / ".cache" / "bench_images" / "not_ecg"
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for name, img in render.non_ecg_pictures(np.random.default_rng(args.seed)):
        path = cache / f"{name}.png"
        Image.fromarray(img).save(path)
        try:
            load(path)
            status, reason = "read", ""
        except Exception as exc:  # noqa: BLE001 - refused: never labelled
            status, reason = "refused", str(exc)
        if status == "read":
            status, reason = analyse_status(path, classifier)
        out.append({"name": name, "status": status, "reason": (reason or "")[:160]})
    return out


def real_photos(args):
    from ml.io import load
    from ml.detect import detect_r_peaks

    folder = Path(args.data) / "ecg-photos" / "images"
    out = []
    for path in sorted(p for p in folder.iterdir() if p.name.startswith("ecg0")):
        t0 = time.perf_counter()
        try:
            rec = load(path)
            peaks = detect_r_peaks(rec.signal, rec.fs)
            hr = 60.0 / np.mean(np.diff(peaks)) * rec.fs if peaks.size > 2 else None
            out.append({"file": path.name, "read": True, "lead": rec.lead, "hr": hr and round(hr, 1),
                        "s": round(time.perf_counter() - t0, 2)})
        except Exception as exc:  # noqa: BLE001
            out.append({"file": path.name, "read": False, "reason": str(exc)[:160],
                        "s": round(time.perf_counter() - t0, 2)})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--pages", type=int, default=42)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=str(REPO / ".cache" / "bench_images" / "results.json"))
    args = ap.parse_args()
    from ml.store import get_classifier

    classifier = get_classifier()
    rt = round_trip(args, classifier)
    gt = gate(args, classifier)
    rp = real_photos(args)
    Path(args.json).write_text(json.dumps({"round_trip": rt, "gate": gt, "real": rp}, indent=1))

    n = len(rt)
    rd = [r for r in rt if r["read"]]
    print("\n== Rendered round trip ==")
    print(f"pages: {n}; read by ml.io.load (gate passed): {len(rd)} ({len(rd) / n:.0%}); "
          f"rejected: {[r['page'] for r in rt if not r['read']]}")
    print(f"heart rate of the strip read within 5 bpm of the annotated beats: "
          f"{sum(r['read_hr_ok'] for r in rt)}/{n} ({sum(r['read_hr_ok'] for r in rt) / n:.1%})")
    sig = sum(r.get("beats_signal", 0) for r in rd)
    same = sum(r.get("labels_same", 0) for r in rd)
    matched = sum(r.get("beats_matched", 0) for r in rd)
    print(f"beats matched to the signal path (150 ms): {matched}/{sig}; same label: {same}/{sig} "
          f"({same / max(sig, 1):.1%}); extra beats on the picture: "
          f"{sum(r.get('beats_image', 0) - r.get('beats_matched', 0) for r in rd)}")
    print(f"calibration pulse found and cut: {sum(r.get('pulse_removed', False) for r in rd)}/{len(rd)}; "
          f"pulse read as a beat: {sum(r.get('pulse_as_beat', False) for r in rd)}")
    for kind in DISTORTIONS:
        sub = [r for r in rt if r["kind"] == kind]
        if sub:
            print(f"  {kind:8s} pages {len(sub):3d}  HR ok {sum(r['read_hr_ok'] for r in sub) / len(sub):.0%}  "
                  f"labels same {sum(r.get('labels_same', 0) for r in sub) / max(1, sum(r.get('beats_signal', 0) for r in sub)):.0%}")
    wrong = [r["page"] for r in rt if r["status"] != "ok" and r["signal_status"] == "ok"]
    print(f"ml.analyse: labelled {sum(r['status'] == 'ok' for r in rt)}/{n}; inconclusive on the picture "
          f"but not on the signal: {wrong}; errors: {sum(r['status'] == 'error' for r in rt)}")
    full = [r["read_s"] for r in rt if r["layout"] == "3x4+rhythm"]
    print(f"time to read a full 3x4+rhythm page: median {np.median(full):.2f} s, max {np.max(full):.2f} s; "
          f"whole analysis median {np.median([r['analyse_s'] for r in rt]):.2f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("\n== Non-ECG gate ==")
    rejected = sum(g["status"] not in ("ok", "error") for g in gt)
    print(f"not labelled: {rejected}/{len(gt)} ({rejected / len(gt):.0%})")
    for g in gt:
        if g["status"] == "ok":
            print("  LABELLED:", g["name"])
    print("\n== Real scans and photos (unlabelled) ==")
    read = [r for r in rp if r["read"]]
    print(f"read: {len(read)}/{len(rp)} ({len(read) / len(rp):.0%}); median time "
          f"{np.median([r['s'] for r in rp]):.2f} s")


if __name__ == "__main__":
    main()
