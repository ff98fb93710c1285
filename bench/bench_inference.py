"""Inference benchmark: the batched, compiled predictor beside a naive per-beat ``model.predict()``.

    python bench/bench_inference.py [--data ../shared/data] [--record 208] [--naive-beats 200]

Prints, side by side, in one run on this machine:
- model throughput (beats/s) of ``ml.store.Classifier.predict`` (one traced ``tf.function`` per
  batch) and of ``model.predict()`` called once per beat (the naive baseline);
- the time from a whole 30-minute MIT-BIH record file to per-beat labels (``ml.analysis.analyse``:
  load, clean, detect, quality, features, classify; no representative images), with the stage
  times, and the same with the naive predictor (its classify stage extrapolated from the timed
  naive beats: calling it ~3,000 times would take minutes);
- peak memory: the process's peak resident set size (includes TensorFlow) and the peak of
  Python/numpy allocations (tracemalloc) during the whole-record run.
Writes the same text to bench/RESULTS.md. Targets: >= 1,000 beats/s, <= 1.5 s per record with its
clinical reading (rhythm, events, intervals, the assessment: timed as stages too).
"""

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from ml import preprocess, store  # noqa: E402


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("ECG_DATA_DIR", str(REPO.parent / "shared" / "data")))
    p.add_argument("--record", default="208", help="MIT-BIH record (208: ~3,000 beats, the busiest)")
    p.add_argument("--naive-beats", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    args = p.parse_args(argv)

    from ml.analysis import analyse
    from ml.detect import detect_r_peaks
    from ml.io import load
    from ml.quality import assess

    header = Path(args.data) / "mitdb" / f"{args.record}.hea"
    # TensorFlow's import is paid once per worker whatever the model; the model's own load is
    # what a smaller model file changes, so the two are timed apart.
    t = time.perf_counter()
    import keras  # noqa: F401
    import tensorflow  # noqa: F401
    import_tf_s = time.perf_counter() - t
    t = time.perf_counter()
    clf = store.get_classifier()
    load_model_s = time.perf_counter() - t

    # Stage timings of the serving path on the whole record (warm-up first: tracing, caches).
    analyse(header, classifier=clf, n_representatives=0)
    tracemalloc.start()
    t = time.perf_counter()
    res = analyse(header, classifier=clf, n_representatives=0)
    whole_s = time.perf_counter() - t
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    whole_s = min(whole_s, _best_of(lambda: analyse(header, classifier=clf, n_representatives=0),
                                    args.repeats - 1) if args.repeats > 1 else whole_s)
    n_beats = len(res.labels)

    stages = {}
    t = time.perf_counter(); rec = load(header); stages["load (WFDB)"] = time.perf_counter() - t
    t = time.perf_counter(); cleaned = preprocess.clean(rec.signal, rec.fs); stages["clean"] = time.perf_counter() - t
    t = time.perf_counter(); peaks = detect_r_peaks(rec.signal, rec.fs); stages["detect R peaks"] = time.perf_counter() - t
    t = time.perf_counter(); assess(rec.signal, rec.fs, peaks); stages["quality"] = time.perf_counter() - t
    t = time.perf_counter()
    feats = preprocess.beat_features(cleaned, rec.fs, peaks, cleaned=True)
    stages["features (images + RR)"] = time.perf_counter() - t
    images, context = feats.images, feats.context
    batched_s = _best_of(lambda: clf.predict(images, context), args.repeats)
    stages["classify (batched)"] = batched_s
    # The clinical reading on top of the labels: rhythm, events, intervals, the assessment.
    from ml import assessment, delineate, events, rhythm

    labels = list(res.labels)
    t = time.perf_counter(); verdict = rhythm.analyse_rhythm(cleaned, rec.fs, peaks); stages["rhythm"] = time.perf_counter() - t
    t = time.perf_counter(); found = events.find_events(peaks, labels[:len(peaks)], rec.fs, signal=cleaned)
    stages["events"] = time.perf_counter() - t
    t = time.perf_counter(); intervals = delineate.measure_intervals(cleaned, rec.fs, peaks, labels=labels[:len(peaks)])
    stages["intervals"] = time.perf_counter() - t
    t = time.perf_counter()
    assessment.assess(kind="signal", n_leads=rec.n_leads, duration_s=len(cleaned) / rec.fs, counts=res.counts,
                      heart_rate=res.heart_rate_bpm, rhythm=verdict, events=found, intervals=intervals)
    stages["assessment"] = time.perf_counter() - t

    # Naive baseline: one model.predict() per beat.
    model = clf.model
    k = min(args.naive_beats, len(images))
    model.predict({"image": images[:1], "context": context[:1]}, verbose=0)  # warm-up
    t = time.perf_counter()
    for i in range(k):
        model.predict({"image": images[i:i + 1], "context": context[i:i + 1]}, verbose=0)
    naive_per_beat = (time.perf_counter() - t) / k
    naive_rate = 1.0 / naive_per_beat
    batched_rate = len(images) / batched_s
    feat_rate = len(images) / (stages["features (images + RR)"] + batched_s)
    naive_record_s = whole_s - batched_s + naive_per_beat * len(images)

    # Agreement check: the two predictors give the same labels.
    naive_probs = model.predict({"image": images[:k], "context": context[:k]}, verbose=0)
    agree = float(np.mean(naive_probs.argmax(1) == clf.predict(images[:k], context[:k]).argmax(1)))

    # A single-beat plot: digitiser + the image-beat model (loaded once, like the signal model).
    image = Path(args.data) / "ecg-images" / "train" / "Normal" / "fig_10008.png"
    image_lines = []
    if image.is_file():
        t = time.perf_counter()
        image_clf = store.get_image_classifier()
        image_load_s = time.perf_counter() - t
        analyse(image, image_classifier=image_clf)  # warm-up: tracing, saliency graph
        plain_s = _best_of(lambda: analyse(image, image_classifier=image_clf, n_representatives=0),
                           args.repeats)
        full_s = _best_of(lambda: analyse(image, image_classifier=image_clf), args.repeats)
        image_lines = [
            f"Single-beat image ({image.parent.name}/{image.name}, 192x128 PNG) -> label with the "
            f"image-beat model {image_clf.version}: {plain_s * 1000:.0f} ms; with the spectral and "
            f"saliency images as the worker makes them: {full_s * 1000:.0f} ms. Image model load "
            f"(checksum + Keras): {image_load_s:.2f} s, once per worker process.",
            "",
        ]

    lines = [
        "# Inference benchmark",
        "",
        f"`python bench/bench_inference.py --record {args.record}` — {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (shared, other "
        f"jobs running), Python {platform.python_version()}, model {clf.version}. Best of "
        f"{args.repeats} runs where repeated.",
        "",
        f"Record {args.record}: {rec.duration_s / 60:.1f} min at {rec.fs:g} Hz, {n_beats} detected beats.",
        "",
        "| measure | batched compiled predictor | naive per-beat `model.predict()` | ratio |",
        "|---|---:|---:|---:|",
        f"| model throughput, beats/s | {batched_rate:,.0f} | {naive_rate:,.1f} "
        f"(timed on {k} beats) | {batched_rate / naive_rate:,.0f}x |",
        f"| whole record file -> per-beat labels, s | {whole_s:.2f} | {naive_record_s:.1f} "
        f"(extrapolated) | {naive_record_s / whole_s:,.0f}x |",
        "",
        f"End-to-end beats/s (features + classify, batched): {feat_rate:,.0f}. "
        f"Label agreement between the two predictors on {k} beats: {agree * 100:.1f} %.",
        "",
        "Stage times on the whole record (single run):",
        "",
        "| stage | s |",
        "|---|---:|",
        *[f"| {name} | {sec:.3f} |" for name, sec in stages.items()],
        "",
        f"Model load (checksum + Keras): {load_model_s:.2f} s, once per worker process, after "
        f"importing TensorFlow and Keras ({import_tf_s:.2f} s, also once per worker process).",
        "",
        *image_lines,
        f"Peak memory: process peak RSS {_peak_rss_mib():,.0f} MiB (TensorFlow included); "
        f"peak Python/numpy allocations during one whole-record analysis {py_peak / 2**20:,.1f} MiB "
        "(tracemalloc; TensorFlow's own buffers are not traced).",
        "",
        f"Targets: >= 1,000 beats/s — {'met' if batched_rate >= 1000 else 'MISSED'}; "
        f"<= 1.5 s per 30-min record, clinical reading included (issue 18) — "
        f"{'met' if whole_s <= 1.5 else 'MISSED'}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
