"""Phone photos of paper ECGs (issue 20): today's reader against the page-flattening reader, one run.

    .venv/bin/python bench/bench_photos.py [--data ../shared/data] [--photos 30] [--scans 10]
        [--baseline-commit 1b4153d] [--out bench/RESULTS-photos.md] [--sets rendered,real,not_ecg]

Pictures (written under .cache/bench_photos/, not part of the repository):
  - rendered 12-lead reports (3x4 + lead II rhythm strip, ``ml.io.render.render_report``) of 10 s
    of MIT-BIH / SVDB records, "photographed" by ``ml.io.render.photograph_page``: lying on a
    table, tilted up to 6 degrees, corners moved up to 7 % (perspective), the paper bent, lit
    unevenly with a phone's shadow and a warm cast, blurred, noisy, JPEG, 2 to 12 megapixels;
  - the same kind of reports "scanned": flat, turned up to 2 degrees, JPEG;
  - the 52 real scans and photos of ``<data>/ecg-photos/images`` (unlabelled; their heart rates
    counted by eye in ``bench/ecg_photos_reference.csv``, see :func:`real_reference`);
  - pictures that are not ECGs: ``ml.io.render.non_ecg_pictures`` (640 x 480) and
    ``ml.io.render.small_non_ecg_pictures`` (plot-sized, the gate's blind spot before).
Each picture is read by ``ml.io.load`` twice, in two worker processes: one importing the code of
``--baseline-commit`` (a ``git worktree`` under /tmp, made if missing), one this checkout. Read =
``load`` returned a strip (it passed the heartbeat gate); heart rate = ``ml.detect`` on the strip,
against the annotated beats' rate (rendered reports) or the by-eye count (real pictures); time = ``load`` alone, per picture.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_image_reading import MITDB, SVDB, segment  # noqa: E402 - the same records and 10-s segments
CACHE = REPO / ".cache" / "bench_photos"
SETS = ("rendered", "real", "not_ecg")


def make_rendered(args):
    """Write the rendered photos and scans; return their cases (path, kind, reference HR, params)."""
    from PIL import Image

    from ml.io import render

    rng = np.random.default_rng(args.seed)
    data = Path(args.data)
    records = [("mitdb", r) for r in MITDB] + [("svdb", r) for r in SVDB]
    out = []
    n = args.photos + args.scans
    sizes = ["2MP", "5MP", "8MP", "12MP"]
    for k in range(n):
        db, record = records[(k * 7) % len(records)]
        start = float(rng.uniform(30, 1700))
        a, b, fs, beats = segment(data, db, record, start)
        ref_hr = 60.0 / np.mean(np.diff(beats / fs)) if beats.size > 2 else None
        dpi = float(rng.choice([150, 200, 300]))
        rendered = render.render_report(render.twelve_leads(a, b), fs, dpi=dpi)
        r = np.random.default_rng(args.seed + 1000 + k)
        if k < args.photos:
            p = dict(megapixels=sizes[k % len(sizes)], fill=float(r.uniform(0.72, 0.9)),
                     tilt=float(r.uniform(-6, 6)), corners=float(r.uniform(0.0, 0.07)),
                     bend=float(r.uniform(0.0, 0.05)), light=float(r.uniform(0.0, 0.5)),
                     shadow=float(r.uniform(0.0, 0.45)), blur=float(r.uniform(0.4, 1.4)),
                     noise=float(r.uniform(2, 5)), cast=float(r.uniform(0.0, 0.3)))
            img, _ = render.photograph_page(rendered.image, r, **p)
            quality = int(r.integers(70, 93))
            kind = "photo"
        else:
            angle = float(r.uniform(-2, 2))
            img = render.photograph(rendered.image, r, angle=angle, noise=2)
            p = {"angle": round(angle, 1), "dpi": dpi}
            quality = 90
            kind = "scan"
        path = CACHE / f"{kind}_{k:03d}.jpg"
        Image.fromarray(img).save(path, quality=quality)
        p = {key: (round(v, 3) if isinstance(v, float) else v) for key, v in p.items()}
        p["jpeg"] = quality
        out.append({"path": str(path), "kind": kind, "record": f"{db}/{record}", "start_s": round(start, 1),
                    "ref_hr": None if ref_hr is None else round(float(ref_hr), 1), "params": p,
                    "size": list(img.shape[1::-1])})
        print(f"rendered {k + 1}/{n} {kind} {p}", flush=True)
    return out


def make_non_ecg(args):
    from PIL import Image

    from ml.io import render

    rng = np.random.default_rng(args.seed)
    out = []
    folder = CACHE / "not_ecg"
    folder.mkdir(parents=True, exist_ok=True)
    pics = render.non_ecg_pictures(rng) + render.small_non_ecg_pictures(np.random.default_rng(args.seed + 1))
    for name, img in pics:
        path = folder / f"{name}.png"
        Image.fromarray(img).save(path)
        h, w = img.shape[:2]
        out.append({"path": str(path), "kind": "not_ecg", "name": name, "small": w <= 400 and h <= 300})
    return out


REFERENCE = REPO / "bench" / "ecg_photos_reference.csv"


def real_reference():
    """Return {file name: heart rate counted by eye} of the real pictures (``REFERENCE``).

    Counted on each picture, not read by the reader: the QRS complexes of one full row, the
    distance from the first to the last against the row's 10 s (the lead-change marks, 2.5 s
    apart, where printed); about +-3 % (the strip's ends are judged by eye). Pictures the reader
    refuses have no count.
    """
    import csv

    with REFERENCE.open() as fh:
        return {r["file"]: float(r["heart_rate_bpm"]) for r in csv.DictReader(fh) if r["heart_rate_bpm"]}


def worker(tree):
    """Read every path given on stdin with ``ml.io.load`` of ``tree``; print one JSON line each."""
    sys.path.insert(0, tree)
    for mod in [m for m in sys.modules if m == "ml" or m.startswith("ml.")]:
        del sys.modules[mod]
    from ml.detect import detect_r_peaks
    from ml.io import load

    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        t0 = time.perf_counter()
        try:
            rec = load(path)
            s = time.perf_counter() - t0
            peaks = detect_r_peaks(rec.signal, rec.fs)
            hr = float(60.0 / np.mean(np.diff(peaks)) * rec.fs) if len(peaks) > 2 else None
            pic = getattr(rec, "picture", None)
            row = {"path": path, "read": True, "hr": hr and round(hr, 1), "s": round(s, 3),
                   "kind": rec.kind, "scale_known": rec.scale_known,
                   "corners": pic.corners if pic is not None else None,
                   "trace_points": len(pic.trace or []) if pic is not None else None}
        except Exception as exc:  # noqa: BLE001 - recorded as "not read", with the reason
            row = {"path": path, "read": False, "reason": f"{type(exc).__name__}: {str(exc)[:400]}",
                   "advice": getattr(exc, "advice", None), "s": round(time.perf_counter() - t0, 3)}
        print(json.dumps(row), flush=True)


def run_reader(tree, paths):
    env = dict(os.environ, PYTHONPATH=tree)
    proc = subprocess.run([sys.executable, __file__, "--worker", tree], input="\n".join(paths),
                          capture_output=True, text=True, cwd=tree, env=env)
    rows = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            rows[r["path"]] = r
    if len(rows) < len(paths):
        sys.stderr.write(proc.stderr[-3000:])
    return rows


def ensure_baseline(commit):
    tree = Path("/tmp") / f"ecg_baseline_{commit[:10]}"
    if not (tree / "ml" / "io" / "image.py").is_file():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO, check=True)
    return str(tree)


def summarise(cases, res):
    def pct(a, b):
        return f"{a}/{b} ({a / b:.0%})" if b else "-"

    lines = []
    for kind, label in (("photo", "Rendered reports, phone photos"), ("scan", "Rendered reports, scanned")):
        sub = [c for c in cases if c["kind"] == kind]
        if not sub:
            continue
        read = sum(res[c["path"]]["read"] for c in sub)
        ok = sum(1 for c in sub if res[c["path"]]["read"] and c["ref_hr"] and res[c["path"]]["hr"]
                 and abs(res[c["path"]]["hr"] - c["ref_hr"]) <= 5.0)
        errs = [abs(res[c["path"]]["hr"] - c["ref_hr"]) for c in sub
                if res[c["path"]]["read"] and c["ref_hr"] and res[c["path"]]["hr"]]
        times = [res[c["path"]]["s"] for c in sub]
        lines.append((label, pct(read, len(sub)), pct(ok, len(sub)),
                      f"{np.median(errs):.1f}" if errs else "-", f"{np.median(times):.2f} / {np.max(times):.2f}"))
    big = [c for c in cases if c["kind"] == "photo" and c["params"].get("megapixels") == "12MP"]
    if big:
        times = [res[c["path"]]["s"] for c in big]
        lines.append(("  of which 12 MP photos", pct(sum(res[c["path"]]["read"] for c in big), len(big)), "", "",
                      f"{np.median(times):.2f} / {np.max(times):.2f}"))
    real = [c for c in cases if c["kind"] == "real"]
    if real:
        times = [res[c["path"]]["s"] for c in real]
        errs = [abs(res[c["path"]]["hr"] - c["ref_hr"]) for c in real
                if res[c["path"]]["read"] and c.get("ref_hr") and res[c["path"]]["hr"]]
        ok = sum(e <= 5.0 for e in errs)
        lines.append(("Real scans and photos (ecg-photos, 52; rate against the by-eye count)",
                      pct(sum(res[c["path"]]["read"] for c in real), len(real)), pct(ok, len(real)),
                      f"{np.median(errs):.1f}" if errs else "-", f"{np.median(times):.2f} / {np.max(times):.2f}"))
    for small, label in ((False, "Not ECGs, 640 x 480 (refused)"), (True, "Not ECGs, plot-sized <= 400 x 300 (refused)")):
        sub = [c for c in cases if c["kind"] == "not_ecg" and c["small"] == small]
        if sub:
            refused = sum(not res[c["path"]]["read"] for c in sub)
            lines.append((label, pct(refused, len(sub)), "", "", ""))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("ECG_DATA_DIR", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--photos", type=int, default=30)
    ap.add_argument("--scans", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--baseline-commit", default="1b4153d")
    ap.add_argument("--out", default=None,
                    help="the report to write (default bench/RESULTS-photos.md when every set is run; "
                         "with fewer sets the report is only printed)")
    ap.add_argument("--sets", default=",".join(SETS),
                    help="comma-separated sets to read: rendered (photos and scans), real (ecg-photos), "
                         "not_ecg; fewer sets for a quicker look while iterating")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite --out from the last run's .cache/bench_photos/results.json")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    sets = [x for x in args.sets.split(",") if x]
    if set(sets) - set(SETS):
        ap.error(f"--sets takes {', '.join(SETS)}")
    if args.out is None and set(sets) == set(SETS):
        args.out = str(REPO / "bench" / "RESULTS-photos.md")
    if args.report_only:
        saved = json.loads((CACHE / "results.json").read_text())
        report(args, saved["cases"], saved["baseline"], saved["new"], saved["run"])
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    cases = make_rendered(args) if "rendered" in sets else []
    if "real" in sets:
        real_dir = Path(args.data) / "ecg-photos" / "images"
        ref = real_reference()
        cases += [{"path": str(p), "kind": "real", "name": p.name, "ref_hr": ref.get(p.name)}
                  for p in sorted(real_dir.iterdir()) if p.name.startswith("ecg0")]
    if "not_ecg" in sets:
        cases += make_non_ecg(args)
    paths = [c["path"] for c in cases]
    base_tree = ensure_baseline(args.baseline_commit)
    print(f"reading {len(paths)} pictures with {args.baseline_commit} ...", flush=True)
    base = run_reader(base_tree, paths)
    print("reading with this checkout ...", flush=True)
    new = run_reader(str(REPO), paths)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip()
    run = (f"checkout {head} plus the working tree; {os.cpu_count()} CPUs, load average "
           f"{os.getloadavg()[0]:.1f}; {time.time() - t_start:.0f} s in all")
    saved = "results.json" if set(sets) == set(SETS) else f"results-{'-'.join(sets)}.json"
    (CACHE / saved).write_text(json.dumps({"cases": cases, "baseline": base, "new": new,
                                                    "run": run}, indent=1))
    report(args, cases, base, new, run)


def report(args, cases, base, new, run):
    sb, sn = summarise(cases, base), summarise(cases, new)
    real_fail = [c for c in cases if c["kind"] == "real" and not new[c["path"]]["read"]]
    advised = [c for c in real_fail if new[c["path"]].get("advice")]
    md = ["# Phone photos of paper ECGs (issue 20): today's reader vs page flattening", "",
          f"Command: `.venv/bin/python bench/bench_photos.py --photos {args.photos} --scans {args.scans} "
          f"--seed {args.seed} --baseline-commit {args.baseline_commit}"
          + (f" --sets {args.sets}" if args.sets != ",".join(SETS) else "")
          + (f" --out {args.out}" if args.out else "") + "` (one run, both columns; "
          f"{run}).", "",
          "Read = `ml.io.load` returned a strip that passed the heartbeat gate; HR ok = heart rate of "
          "the strip within 5 bpm of the annotated beats (real pictures: of the rate counted by eye, "
          "`bench/ecg_photos_reference.csv`); time = `load` alone, median / max seconds "
          "per picture (decoding included).", "",
          "| set | read: today | read: new | HR within 5 bpm: today | new | median abs HR error (bpm): today | new | s per picture today | new |",
          "|---|---|---|---|---|---|---|---|---|"]
    for (label, r0, h0, e0, t0), (_, r1, h1, e1, t1) in zip(sb, sn):
        md.append(f"| {label} | {r0} | {r1} | {h0} | {h1} | {e0} | {e1} | {t0} | {t1} |")
    md += ["", "Non-ECG rows count pictures refused (never read as an ECG).", "",
           "## Real pictures (ecg-photos): what is said of the ones not read (new reader)", "",
           f"Not read: {len(real_fail)}; of these {len(advised)} end with advice on how to take the "
           "photo again (`RetakePhotoError.advice`); the others give the reading's reason only.", ""]
    for c in cases:
        if c["kind"] == "real":
            r, r0 = new[c["path"]], base[c["path"]]
            was = "read" if r0["read"] else "not read"
            ref = f"; counted by eye {c['ref_hr']:g}" if c.get("ref_hr") else ""
            if r["read"]:
                off = c.get("ref_hr") and r["hr"] and abs(r["hr"] - c["ref_hr"]) > 5.0
                md.append(f"- {c['name']}: read, {r['hr']} bpm{' **(off by more than 5)**' if off else ''} "
                          f"(today: {was}" + (f", {r0['hr']} bpm" if r0["read"] else "") + f"{ref})")
            else:
                md.append(f"- {c['name']}: NOT READ (today: {was}): {r['reason'][:300]}")
    md += ["", "## Non-ECG pictures read (either reader)", ""]
    for c in cases:
        if c["kind"] == "not_ecg" and (base[c["path"]]["read"] or new[c["path"]]["read"]):
            md.append(f"- {c['name']}: today {'READ' if base[c['path']]['read'] else 'refused'}, "
                      f"new {'READ' if new[c['path']]['read'] else 'refused'}")
    md += ["", "## Rendered photos not read or off by more than 5 bpm (new reader)", ""]
    for c in cases:
        if c["kind"] in ("photo", "scan"):
            r = new[c["path"]]
            bad = not r["read"] or (c["ref_hr"] and (r["hr"] is None or abs(r["hr"] - c["ref_hr"]) > 5))
            if bad:
                what = f"read {r['hr']} bpm" if r["read"] else r["reason"][:200]
                md.append(f"- {Path(c['path']).name} ({c['record']} at {c['start_s']} s, ref {c['ref_hr']} bpm, "
                          f"{c['params']}): {what}")
    if args.out:
        Path(args.out).write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
