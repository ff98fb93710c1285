"""Analyse one uploaded ECG: load, find beats, check quality, classify every beat, read it.

``analyse()`` is what the Celery worker calls. It either returns an :class:`AnalysisResult`
(status ``"ok"`` or ``"inconclusive"`` with a plain-language reason) or raises an
:class:`ml.errors.ECGInputError` subclass for files it cannot read at all. It never gives a
confident label to something that is not a usable ECG. Its ``assessment`` (``ml.assessment``)
is the clinical reading every surface shows: computed here, once.
"""

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ml import classes, preprocess
from ml.errors import (
    ECGInputError,
    EmptyInputError,
    MissingFileError,
    SamplingRateError,
    TooShortError,
    UnsupportedFormatError,
)

LOW_CONFIDENCE = 0.77  # calibrated top probability below this: unsure (ml/MODEL_CARD.md, section 5)
# A small, not-wide image is in the single-beat plot format (e.g. 192x128) even when its trace has
# several peaks (ventricular flutter/fibrillation waves): no rhythm strip fits in it legibly.
PLOT_MAX_SIZE = (400, 300)
PLOT_MAX_ASPECT = 2.0
MAX_TRACE_POINTS = 5000
MIN_BEATS = 3
# Unreadable files are raised; unusable content (flat line, noise, no trace) becomes inconclusive.
_RAISED = (EmptyInputError, MissingFileError, UnsupportedFormatError, SamplingRateError)


@dataclass
class Representative:
    """One example beat of a predicted class, with its spectral image and saliency overlay."""

    beat_index: int
    label: str
    probability: float
    spectral_png: bytes = field(repr=False)
    saliency_png: bytes = field(repr=False)

    def to_dict(self):
        return {"beat_index": self.beat_index, "label": self.label,
                "probability": self.probability}


@dataclass
class AnalysisResult:
    """The outcome of :func:`analyse`. ``to_dict()`` is compact and JSON-serialisable."""

    status: str  # "ok" | "inconclusive"
    reason: str | None = None
    fs: float | None = None
    duration_s: float | None = None
    lead: str | None = None
    kind: str | None = None
    r_peaks: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    probabilities: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    heart_rate_bpm: dict | None = None
    confidence: float | None = None
    low_confidence_beats: int = 0
    quality: dict | None = None
    rhythm: dict | None = None  # ml.rhythm verdict: {"label", "probability", "episodes", ...}
    # The clinical reading (ml.assessment, JSON form): level, findings, measurements, not_assessed.
    assessment: dict | None = None
    events: list = field(default_factory=list)  # ml.events.Event.to_dict() of each event
    intervals: dict | None = None  # ml.delineate.Intervals.to_dict(), with its fiducials
    twelve_lead: dict | None = None  # ml.twelve_lead.TwelveLeadReading.to_dict() of a 12-lead input
    # Where the trace was read in an uploaded picture (ml.io.image.PictureReading.to_dict(): its
    # size, the page's corners, the trace's pixel path): the result page draws it over the picture.
    picture: dict | None = None
    n_leads: int = 1
    model_version: str | None = None
    trace: dict | None = None
    notes: list = field(default_factory=list)
    representatives: list = field(default_factory=list)
    # The whole filtered signal at ``fs`` (float32, mV): the page's trace viewer draws from it.
    signal: object = field(default=None, repr=False)
    # Every lead of a multi-lead input, filtered like ``signal`` ({name: float32 array}, NaN
    # where a picture has no trace), in ``lead_names`` order: the viewer stacks them.
    leads: object = field(default=None, repr=False)
    lead_names: list = field(default_factory=list)

    def to_dict(self):
        data = asdict(replace(self, signal=None, leads=None, representatives=[]))
        data.pop("signal")
        data.pop("leads")
        data["representatives"] = [r.to_dict() for r in self.representatives]
        return data


# The viewer stacks every lead of a multi-lead input up to this many samples in all (12 leads of
# 10 minutes at 500 Hz); longer multi-lead records show the analysed lead only.
MAX_STACKED_SAMPLES = 12 * 500 * 600
# From this length on, a recording's beat images are built in a second thread while its rhythm is
# read (the two are independent, and numpy's filters and transforms release the GIL): a whole
# 30-minute record's analysis, median of 4, 0.71 -> 0.68 s and 0.63 -> 0.54 s in two alternated
# sets on this 2-core host. Shorter ones gain less than the hand-over costs.
OVERLAP_FROM_S = 120.0
_overlap_pool = None  # (process id, executor): a forked child starts its own, as ml.store's cache


def _in_background(fn, *args, **kwargs):
    """Return a future of ``fn(*args, **kwargs)`` run in this process's one helper thread, started
    on first use. An executor inherited through a fork has no thread behind it (its work would
    wait forever), so a child makes a new one."""
    global _overlap_pool
    import os

    if _overlap_pool is None or _overlap_pool[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _overlap_pool = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecg-beats"))
    return _overlap_pool[1].submit(fn, *args, **kwargs)


def _cleaned_lead(x, fs):
    """Return one lead filtered for display (float32 mV), NaN kept where the input has no trace."""
    x = np.asarray(x, dtype=np.float64)
    missing = ~np.isfinite(x)
    if missing.all():
        return np.full(x.shape, np.nan, dtype=np.float32)
    out = preprocess.clean(np.where(missing, 0.0, x), fs).astype(np.float32)
    out[missing] = np.nan
    return out


def _rhythm(cleaned, fs, r_peaks, q):
    """Return the rhythm verdict (``ml.rhythm``); a strip the quality gate rejects as noise is
    ``noisy``; a flat line or too few beats has none."""
    from ml import rhythm

    if q.verdict == "unusable":
        noise = "flat_fraction" in q.metrics and q.metrics["flat_fraction"] <= 0.5
        return rhythm.noisy_verdict("; ".join(q.reasons)) if noise else None
    return rhythm.analyse_rhythm(cleaned, fs, r_peaks, quality_metrics=q.metrics)


def _af_conducted_as_normal(labels_idx, cleaned, fs, r_peaks, verdict, notes):
    """Return ``labels_idx`` with premature-atrial calls of normal shape inside AF set to normal:
    in atrial fibrillation every beat comes irregularly, so an early beat is not premature."""
    from ml import rhythm

    a = classes.CODES.index("A")
    mask = (labels_idx == a) & rhythm.normal_shaped_in_af(cleaned, fs, r_peaks, verdict)
    if mask.any():
        labels_idx = np.where(mask, classes.CODES.index("N"), labels_idx)
        notes.append(f"{int(mask.sum())} irregular beat(s) of normal shape inside atrial "
                     "fibrillation are counted as normal beats, not premature atrial contractions.")
    return labels_idx


def _inconclusive(reason, **known):
    from ml.assessment import inconclusive

    return AnalysisResult(
        status="inconclusive", reason=reason,
        assessment=inconclusive(reason).to_dict(), **known,
    )


def _trace(x, fs):
    step = max(1, int(np.ceil(len(x) / MAX_TRACE_POINTS)))
    values = np.round(x[::step], 3)
    return {"fs": round(fs / step, 4), "step": step, "unit": "mV (filtered)",
            "values": values.tolist()}


# Beat-to-beat intervals outside these bounds (above 250 or below 20 bpm) are detection artefacts
# (a missed or a doubled beat), not heart rates: they are left out of the figures.
RR_PLAUSIBLE_S = (0.24, 3.0)


def _heart_rate(r_peaks, fs):
    """Return the heart rate over plausible beat-to-beat intervals: mean, median, and the range
    ``low``-``high`` holding 90 % of beats (5th-95th percentile); ``min``/``max`` are the extremes."""
    rr = np.diff(r_peaks) / fs
    rr = rr[(rr >= RR_PLAUSIBLE_S[0]) & (rr <= RR_PLAUSIBLE_S[1])]
    if len(rr) == 0:
        return None
    inst = 60.0 / rr
    low, high = np.percentile(inst, [5, 95])
    return {"mean": round(float(60.0 / rr.mean()), 1), "median": round(float(np.median(inst)), 1),
            "low": round(float(low), 1), "high": round(float(high), 1),
            "min": round(float(inst.min()), 1), "max": round(float(inst.max()), 1)}


def _pick_representatives(probs, labels_idx, limit):
    """Return the most confident beat index of each predicted class, most frequent class first."""
    picks = []
    for c in np.argsort(-np.bincount(labels_idx, minlength=probs.shape[1]), kind="stable"):
        members = np.flatnonzero(labels_idx == c)
        if len(members) == 0 or len(picks) >= limit:
            continue
        picks.append(int(members[np.argmax(probs[members, c])]))
    return picks


def _representatives(classifier, images, context, probs, labels_idx, limit):
    from ml import saliency

    reps = []
    model = getattr(classifier, "model", None)
    output_codes = list(getattr(classifier, "codes", None) or classes.CODES)
    for i in _pick_representatives(probs, labels_idx, limit):
        c = int(labels_idx[i])
        image = images[i]
        spectral = saliency.spectral_png(image)
        if model is not None:
            # Saliency of the model's own output column for this class.
            sal = saliency.saliency_map(model, image, context[i],
                                        output_codes.index(classes.CODES[c]))
            overlay = saliency.overlay_png(image, sal)
        else:  # a stand-in classifier without gradients (tests)
            overlay = spectral
        reps.append(Representative(i, classes.CODES[c], round(float(probs[i, c]), 3),
                                   spectral, overlay))
    return reps


def _as_eight_classes(probs, classifier):
    """Return ``probs`` with one column per code of ``ml.classes`` (0 for classes it lacks)."""
    codes = getattr(classifier, "codes", None)
    probs = np.asarray(probs, dtype=np.float64)
    if codes is None or tuple(codes) == classes.CODES:
        return probs
    full = np.zeros((len(probs), len(classes.CODES)))
    full[:, [classes.CODES.index(c) for c in codes]] = probs
    return full


def _is_small_plot(source):
    """Return True when ``source`` is an image file of the single-beat plot size and shape."""
    from PIL import Image

    try:
        with Image.open(source) as img:
            width, height = img.size
    except Exception:  # not an image file: not a plot
        return False
    return (width <= PLOT_MAX_SIZE[0] and height <= PLOT_MAX_SIZE[1]
            and width <= PLOT_MAX_ASPECT * height)


# What the 12-lead reading does without the patient's sex or age (ml.twelve_lead.Patient).
UNKNOWN_PATIENT = {
    "sex": "The patient's sex is not known: the 12-lead reading used the lowest ST-elevation limit for "
           "V2-V3 (women's, 1.5 mm) and the men's voltage limit; a date of birth and sex in the profile "
           "make them exact",
    "age": "The patient's age is not known: a man's ST-elevation limit for V2-V3 was the 40-and-over one "
           "(2 mm), and high QRS voltage was judged as in an adult over 35",
}


def _patient_notes(rec, sex, age):
    """Fill ``rec.sex`` and ``rec.age`` from the profile where the header is silent; return the
    notes that say where each came from."""
    notes = []
    for name, given in (("sex", sex), ("age", age)):
        if getattr(rec, name) is not None:
            notes.append(f"The patient's {name} taken from the file's header")
        elif given is not None:
            setattr(rec, name, given)
            notes.append(f"The patient's {name} taken from the profile")
        else:
            notes.append(UNKNOWN_PATIENT[name])
    return notes


def _read(cleaned, rec, kind, r_peaks, codes, top, counts, heart_rate, known):
    """Return the clinical reading of the classified beats: events, intervals, the assessment."""
    from ml import assessment, delineate, events

    twelve, unread = None, rec.leads_unread
    if kind == "image-beat":
        found, intervals = [], None
    else:
        found = events.find_events(r_peaks, codes, rec.fs, signal=cleaned, confidence=top,
                                   unsure_below=LOW_CONFIDENCE, duration_s=known["duration_s"])
        intervals = delineate.measure_intervals(cleaned, rec.fs, r_peaks, labels=codes, lead=rec.lead)
        if rec.leads:
            from ml.twelve_lead import NOT_READ, Patient, read_twelve_lead

            # Raw leads: the 12-lead reading filters them itself, keeping the ST segment.
            twelve = read_twelve_lead(rec.leads, rec.fs, r_peaks=r_peaks, labels=codes,
                                      patient=Patient(rec.sex, rec.age))
            unread = unread or ("" if twelve is not None else NOT_READ)
    reading = assessment.assess(
        kind=kind, n_leads=rec.n_leads, lead=rec.lead, duration_s=known["duration_s"],
        counts={c: n for c, n in counts.items() if n}, heart_rate=heart_rate,
        rhythm=known.get("rhythm"), events=found, intervals=intervals,
        has_grid=rec.scale_known,
        single_beat_label=codes[0] if kind == "image-beat" and codes else None,
        twelve_lead=twelve, leads_unread=unread,
    )
    if rec.partial:  # a truncated file read in part: the end of the recording was never seen
        missing_s = rec.declared_s - rec.duration_s
        reading.not_assessed.append(assessment.NotAssessed(
            f"The last {missing_s:.0f} s of the recording",
            f"{rec.partial} (the file ends before the length its header declares)", "input"))
    reading = reading.to_dict()
    return {"assessment": reading, "conclusion": assessment.conclusion(reading),
            "events": [e.to_dict() for e in found],
            "intervals": intervals.to_dict() if intervals is not None else None,
            "twelve_lead": twelve.to_dict() if twelve is not None else None}


def analyse(source, *, fs=None, lead=None, filename=None, classifier=None,
            image_classifier=None, n_representatives=len(classes.CODES), progress=None,
            sex=None, age=None, corners=None):
    """Return the :class:`AnalysisResult` for the ECG in ``source`` (path or numpy array).

    ``classifier`` is an object with ``predict(images, context) -> (n, 8) probabilities`` and a
    ``version``; by default the shipped model (``ml.store.get_classifier()``). It labels signals
    and rhythm strips. A single-beat plot (kind ``"image-beat"``) is labelled by
    ``image_classifier`` instead, by default the shipped image-beat model
    (``ml.store.get_image_classifier()``: the classes its ``.json`` records, today every code but
    E); its inputs come from ``ml.preprocess.image_beat_features`` of the digitised trace.
    Raise an :class:`ECGInputError` subclass for a file that cannot be read at all (empty,
    unsupported format, incomplete WFDB record, no usable sampling rate).
    ``progress``, when given, is called with each stage's name as it starts (the result page
    shows them). ``sex`` ("F"/"M") and ``age`` (years), from the patient's profile, are used
    where the file's own header does not state them (the 12-lead criteria depend on them).
    ``corners``: a picture's page corners marked by the person uploading (``ml.io.load``).
    """
    from ml.io import load

    step = progress or (lambda stage: None)  # told "reading", "finding_beats", "classifying"
    step("reading")
    try:
        rec = load(source, fs=fs, lead=lead, filename=filename, corners=corners)
    except _RAISED:
        raise
    except ECGInputError as exc:  # readable, but not a usable ECG: say so, do not label
        return _inconclusive(str(exc))

    x = np.asarray(rec.signal, dtype=np.float64)
    kind = rec.kind
    notes = list(rec.notes)
    if rec.leads:
        notes += _patient_notes(rec, sex, age)
    if kind == "image-strip" and not rec.scale_known and _is_small_plot(source):
        kind = "image-beat"
        notes.append("The image has the size and shape of a single-beat plot, so its trace was "
                     "read as one beat (several peaks, as in flutter/fibrillation waves), not as "
                     "a rhythm strip.")
    known = {"fs": float(rec.fs), "duration_s": round(len(x) / rec.fs, 3), "lead": rec.lead,
             "kind": kind, "notes": notes, "n_leads": rec.n_leads}
    if rec.picture is not None:  # set by ml.io.image on a picture
        known["picture"] = rec.picture.to_dict()
    step("finding_beats")
    cleaned = preprocess.clean(x, rec.fs)
    known["trace"] = _trace(cleaned, rec.fs)
    known["signal"] = cleaned.astype(np.float32)
    if rec.leads and len(rec.leads) > 1 and len(x) * len(rec.leads) <= MAX_STACKED_SAMPLES:
        known["leads"] = {name: _cleaned_lead(lead_x, rec.fs) for name, lead_x in rec.leads.items()}
        known["lead_names"] = list(rec.leads)
    single_beat = kind == "image-beat"

    from ml.quality import assess

    if single_beat:
        # The whole array is one beat: its R peak is the largest deflection from the baseline.
        r_peaks = np.array([int(np.argmax(np.abs(x - np.median(x))))])
        known["notes"].append("Single-beat image: classified by the single-beat image model "
                              "(trained on plots of this kind), without rhythm context; no heart "
                              "rate.")
    else:
        from ml.detect import detect_r_peaks

        r_peaks = np.asarray(detect_r_peaks(x, rec.fs), dtype=np.int64)
    q = assess(x, rec.fs, r_peaks, kind=kind)
    known["quality"] = q.to_dict()
    beat_images = None  # a long record's beat features, built while its rhythm is read
    if (not single_beat and q.verdict != "unusable" and len(r_peaks) >= MIN_BEATS
            and len(x) >= OVERLAP_FROM_S * rec.fs):
        beat_images = _in_background(preprocess.beat_features, cleaned, rec.fs, r_peaks, cleaned=True)
    if not single_beat:
        known["rhythm"] = _rhythm(cleaned, rec.fs, r_peaks, q)
    if q.verdict == "unusable":
        reasons = "; ".join(q.reasons) or "the signal quality is too low"
        return _inconclusive(f"The recording is not usable for beat analysis: {reasons}",
                             r_peaks=r_peaks.tolist(), **known)
    if not single_beat and len(r_peaks) < MIN_BEATS:
        msg = str(TooShortError(
            f"Only {len(r_peaks)} heartbeat(s) were found; at least {MIN_BEATS} are needed "
            "to classify beats with their rhythm. Upload a longer recording."
        ))
        return _inconclusive(msg, r_peaks=r_peaks.tolist(), **known)
    if (known.get("rhythm") or {}).get("label") == "noisy":
        return _inconclusive("The recording is too noisy to read its rhythm or label its beats. "
                             "Record again sitting still, with good contact.",
                             r_peaks=r_peaks.tolist(), **known)
    if q.verdict == "poor":
        known["notes"].append("Signal quality is poor: " + "; ".join(q.reasons)
                              + " Treat the labels with extra caution.")

    step("classifying")
    if single_beat:
        if image_classifier is None:
            from ml.store import get_image_classifier

            image_classifier = get_image_classifier()
        classifier = image_classifier
        lacks = [classes.BY_CODE[c].name.lower() for c in classes.CODES
                 if c not in (getattr(classifier, "codes", None) or classes.CODES)]
        if lacks:
            known["notes"].append("The single-beat image model never names a "
                                  + " or ".join(lacks) + ": it was not trained on such beats.")
        # The raw digitised trace, as the image model was trained on it (ml.lab.image_dataset).
        image, trace_context = preprocess.image_beat_features(x)
        images, context = image[None], trace_context[None]
    else:
        if classifier is None:
            from ml.store import get_classifier

            classifier = get_classifier()
        feats = (beat_images.result() if beat_images is not None
                 else preprocess.beat_features(cleaned, rec.fs, r_peaks, cleaned=True))
        images, context = feats.images, feats.context
    probs = _as_eight_classes(classifier.predict(images, context), classifier)
    labels_idx = probs.argmax(axis=1)
    if known.get("rhythm"):
        labels_idx = _af_conducted_as_normal(labels_idx, cleaned, rec.fs, r_peaks,
                                             known["rhythm"], known["notes"])
    top = probs.max(axis=1)
    codes = [classes.CODES[i] for i in labels_idx]
    counts = {c: int(n) for c, n in zip(classes.CODES, np.bincount(labels_idx,
                                                                   minlength=len(classes.CODES)))}
    heart_rate = None if single_beat else _heart_rate(r_peaks, rec.fs)
    reading = _read(cleaned, rec, kind, r_peaks, codes, top, counts, heart_rate, known)
    return AnalysisResult(
        status="ok",
        r_peaks=r_peaks.tolist(),
        labels=codes,
        probabilities=np.round(probs, 3).tolist(),
        counts=counts,
        heart_rate_bpm=heart_rate,
        assessment=reading["assessment"],
        events=reading["events"],
        intervals=reading["intervals"],
        twelve_lead=reading["twelve_lead"],
        confidence=round(float(top.mean()), 3),
        low_confidence_beats=int((top < LOW_CONFIDENCE).sum()),
        model_version=getattr(classifier, "version", None),
        representatives=_representatives(classifier, images, context, probs, labels_idx,
                                          n_representatives),
        **known,
    )
