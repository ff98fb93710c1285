"""Build beat datasets from the MIT-BIH Arrhythmia Database and its reference annotations.

Every beat annotation of every record goes through :func:`ml.preprocess.beat_features` (the same
path as serving, with the annotated R peaks in place of the detector's) and is cached once as
compressed arrays; the protocols then select and label beats from that cache:

* ``intra-patient``: the 8 classes of ``ml.classes`` from all 48 records, stratified random split
  of beats (the protocol of Ullah et al. 2020 / Jun et al. 2018: comparable, but leaky, since
  beats of one patient land on both sides);
* ``inter-patient``: de Chazal et al. 2004 DS1 (train) / DS2 (test), AAMI classes N, S, V, F;
  paced records are excluded, as in the AAMI recommendation.

The MIT-BIH Supraventricular Arrhythmia Database (SVDB: 128 Hz, other patients, many S beats) goes
through exactly the same path (``beat_features`` resamples every rate to ``MODEL_FS``); its record
numbers (800-894) do not collide with MIT-BIH's (100-234), so one ``record`` array keeps every
patient apart. :func:`grouped_folds` splits DS1 + SVDB into folds of whole records.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml import lab
from ml import classes, preprocess

# All beat annotation symbols of MIT-BIH (rhythm/noise/non-beat annotations are excluded).
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ!")
DS1 = (101, 106, 108, 109, 112, 114, 115, 116, 118, 119, 122, 124, 201, 203, 205, 207, 208, 209,
       215, 220, 223, 230)
DS2 = (100, 103, 105, 111, 113, 117, 121, 123, 200, 202, 210, 212, 213, 214, 219, 221, 222, 228,
       231, 232, 233, 234)
PACED = (102, 104, 107, 217)
# DS1 records held out for inter-patient checkpointing: they hold N, S and V beats of 4 patients.
DS1_VALIDATION = (106, 118, 124, 223)
# DS1 in 4 folds of whole patients for model selection (``ml.lab.train --protocol ds1-cv``); the
# S-rich records (209, 220, 118, 223, 201, 207) are spread over the folds.
DS1_FOLDS = ((101, 106, 108, 109, 112, 209), (114, 115, 116, 118, 119, 220),
             (122, 124, 201, 203, 205, 223), (207, 208, 215, 230))
ALL_RECORDS = tuple(sorted(DS1 + DS2 + PACED))
AAMI_CLASSES = ("N", "S", "V", "F")
AAMI_MAP = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
}  # Q (/, f, Q) is left out: paced records are excluded from DS1/DS2
# SVDB's supraventricular premature beats are annotated ``S``; the 8-class models call them ``A``
# (premature atrial contraction), the class they share with MIT-BIH's atrial premature beats.
EIGHT_CLASS_MAP = {**{s: s for s in classes.SYMBOLS}, "S": "A"}
SVDB_FIRST_RECORD = 800  # SVDB record numbers start here; MIT-BIH's end at 234
CACHE_VERSION = "v1"
DEFAULT_CACHE_DIR = lab.CACHE_DIR


@dataclass
class BeatSet:
    """Beats with model inputs and their labels (indices into ``class_names``)."""

    images: np.ndarray
    context: np.ndarray
    y: np.ndarray
    record: np.ndarray
    class_names: tuple

    def __len__(self):
        return len(self.y)

    def subset(self, idx):
        return BeatSet(self.images[idx], self.context[idx], self.y[idx], self.record[idx],
                       self.class_names)


def read_record(data_dir, record):
    """Return (signal in mV of lead MLII, fs, beat sample indices, beat symbols) of one record."""
    import wfdb  # imported here: the web process never needs it

    path = str(Path(data_dir) / str(record))
    rec = wfdb.rdrecord(path)
    names = [n.upper() for n in rec.sig_name]
    channel = names.index("MLII") if "MLII" in names else 0
    ann = wfdb.rdann(path, "atr")
    symbols = np.asarray(ann.symbol)
    keep = np.isin(symbols, list(BEAT_SYMBOLS))
    return rec.p_signal[:, channel], float(rec.fs), np.asarray(ann.sample)[keep], symbols[keep]


def record_beats(data_dir, record):
    """Return (BeatFeatures, symbols) for every annotated beat of ``record``."""
    x, fs, samples, symbols = read_record(data_dir, record)
    return preprocess.beat_features(x, fs, samples), symbols


def _cache_key(records):
    """Key the cache by records and by the preprocessing source, so edits invalidate it."""
    src = Path(preprocess.__file__).read_bytes()
    h = hashlib.sha256(src + repr(records).encode() + CACHE_VERSION.encode()).hexdigest()
    return h[:12]


def database_records(data_dir):
    """Return the record numbers listed in ``data_dir/RECORDS`` (every record of a database)."""
    return tuple(int(r) for r in (Path(data_dir) / "RECORDS").read_text().split())


def load_all_beats(data_dir, *, records=ALL_RECORDS, cache_dir=DEFAULT_CACHE_DIR, progress=True):
    """Return a dict of arrays (images float16, context, symbol, record, sample) for ``records``.

    Built once from the WFDB files and cached under ``cache_dir`` (not part of the repository).
    ``records=None`` reads every record listed in the folder's ``RECORDS`` file (SVDB).
    """
    if records is None:
        records = database_records(data_dir)
    cache_dir = Path(cache_dir)
    prefix = "mitdb" if tuple(records) == ALL_RECORDS or min(records) < SVDB_FIRST_RECORD else "svdb"
    cache = cache_dir / f"{prefix}_beats_{_cache_key(tuple(records))}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    iterator = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc="preprocess records", unit="rec")
    return _save_beat_arrays(cache, ((rec, *record_beats(data_dir, rec)) for rec in iterator))


def _save_beat_arrays(cache, per_record):
    """Stack ``(record, features, symbols)`` items into the beat arrays, save them to ``cache``
    (written whole, then renamed) and return them."""
    parts = {"images": [], "context": [], "symbol": [], "record": [], "sample": []}
    for rec, feats, symbols in per_record:
        parts["images"].append(feats.images.astype(np.float16))
        parts["context"].append(feats.context)
        parts["symbol"].append(symbols.astype("<U1"))
        parts["record"].append(np.full(len(symbols), rec, dtype=np.int16))
        parts["sample"].append(feats.r_peaks)
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(cache)
    return arrays


NOISE_SNR_DB = (6.0, 24.0)


def load_noisy_beats(data_dir, noise_dir, *, records=ALL_RECORDS, seed=0, snr_db=NOISE_SNR_DB,
                     cache_dir=DEFAULT_CACHE_DIR, progress=False):
    """Return the arrays of :func:`load_all_beats` for the same beats after adding real noise.

    Each record gets a random mix of the Noise Stress Test Database's baseline wander (``bw``)
    and muscle artefact (``ma``) records, from a random offset, resampled to the record's rate,
    scaled to a random SNR in ``snr_db`` (dB, against the band-passed signal's power), and goes
    through the same ``beat_features`` with the reference R peaks. Beats and their order are those
    of :func:`load_all_beats`, so the two can be mixed beat by beat (:func:`mix_noisy`).
    """
    import wfdb

    if records is None:
        records = database_records(data_dir)
    cache_dir = Path(cache_dir)
    prefix = "svdb" if min(records) >= SVDB_FIRST_RECORD else "mitdb"
    key = _cache_key(tuple(records) + ("noise", seed, tuple(snr_db)))
    cache = cache_dir / f"{prefix}_noisy_beats_{key}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    noise = {name: wfdb.rdrecord(str(Path(noise_dir) / name)) for name in ("bw", "ma")}
    rng = np.random.default_rng(seed)

    def noisy(rec):
        x, fs, samples, symbols = read_record(data_dir, rec)
        ch = int(rng.integers(2))
        mix = sum(rng.random() * noise[n].p_signal[:, ch] for n in ("bw", "ma"))
        mix = preprocess.resample(mix, float(noise["bw"].fs), fs)
        mix = np.resize(np.roll(mix, -int(rng.integers(len(mix)))), len(x))
        snr = rng.uniform(*snr_db)
        gain = np.sqrt(np.var(preprocess.clean(x, fs)) / (np.var(mix) * 10 ** (snr / 10)))
        return rec, preprocess.beat_features(x + gain * mix, fs, samples), symbols

    return _save_beat_arrays(cache, (noisy(rec) for rec in records))


def mix_noisy(clean, noisy, fraction, seed):
    """Return ``clean`` with a random ``fraction`` of its beats' images taken from ``noisy``."""
    if not (len(clean["symbol"]) == len(noisy["symbol"])
            and (clean["sample"] == noisy["sample"]).all()):
        raise ValueError("clean and noisy arrays must hold the same beats")
    pick = np.random.default_rng(seed).random(len(clean["symbol"])) < fraction
    return {**clean, "images": np.where(pick[:, None, None, None], noisy["images"],
                                        clean["images"])}


def combine(*arrays):
    """Return the beat arrays of several databases as one (record numbers stay distinct)."""
    return {k: np.concatenate([a[k] for a in arrays]) for k in arrays[0]}


def _to_beatset(arrays, mask, labels, class_names):
    index = {c: i for i, c in enumerate(class_names)}
    return BeatSet(
        images=arrays["images"][mask].astype(np.float32),
        context=arrays["context"][mask],
        y=np.array([index[s] for s in labels], dtype=np.int64),
        record=arrays["record"][mask],
        class_names=tuple(class_names),
    )


def eight_class_beats(arrays, records=None):
    """Return the beats of the 8 model classes (labels in ``ml.classes`` order) of ``records``
    (all when ``None``); SVDB's ``S`` beats are labelled ``A`` (``EIGHT_CLASS_MAP``)."""
    mask = np.isin(arrays["symbol"], list(EIGHT_CLASS_MAP))
    if records is not None:
        mask &= np.isin(arrays["record"], list(records))
    labels = [EIGHT_CLASS_MAP[s] for s in arrays["symbol"][mask]]
    return _to_beatset(arrays, mask, labels, classes.SYMBOLS)


def grouped_folds(arrays, records, n_folds=4):
    """Return ``n_folds`` tuples of whole records: records sorted by their number of AAMI S beats
    (then V beats), dealt round-robin, so every fold holds patients with atrial ectopy. Depends on
    the reference labels only, never on a model's results."""
    sym, rec = arrays["symbol"], arrays["record"]
    s_beats = np.isin(sym, [k for k, v in AAMI_MAP.items() if v == "S"])
    v_beats = np.isin(sym, [k for k, v in AAMI_MAP.items() if v == "V"])
    order = sorted(records, key=lambda r: (-int(s_beats[rec == r].sum()),
                                           -int(v_beats[rec == r].sum()), r))
    return tuple(tuple(sorted(order[i::n_folds])) for i in range(n_folds))


def aami_beats(arrays, records):
    """Return the AAMI N/S/V/F beats of ``records``."""
    sym = arrays["symbol"]
    mask = np.isin(arrays["record"], records) & np.isin(sym, list(AAMI_MAP))
    labels = [AAMI_MAP[s] for s in sym[mask]]
    return _to_beatset(arrays, mask, labels, AAMI_CLASSES)


def stratified_split(y, fraction, seed):
    """Return (rest_idx, held_idx): a per-class random ``fraction`` of indices held out."""
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        held.append(idx[: int(round(fraction * len(idx)))])
    held = np.sort(np.concatenate(held))
    rest = np.setdiff1d(np.arange(len(y)), held)
    return rest, held


def protocol_splits(arrays, protocol, seed):
    """Return (train, validation, test) BeatSets for ``protocol``.

    Validation (for checkpointing) is never the test set: a stratified 10 % of the training beats
    (intra-patient, serve) or the DS1 records in ``DS1_VALIDATION`` (inter-patient).
    ``serve`` uses exactly the intra-patient split, so the intra-patient test figures are those
    of the served model, measured on beats it never trained on.
    """
    if protocol in ("intra-patient", "serve"):
        beats = eight_class_beats(arrays)
        # The test split uses a fixed seed so every run of every protocol holds out the same beats.
        train_idx, test_idx = stratified_split(beats.y, 0.2, seed=0)
        train_all = beats.subset(train_idx)
        test = beats.subset(test_idx)
    elif protocol == "inter-patient":
        # Validation is patient-wise too (whole DS1 records), so checkpointing rewards what
        # carries over to unseen patients rather than memorising the training patients.
        fit_records = [r for r in DS1 if r not in DS1_VALIDATION]
        return (aami_beats(arrays, fit_records), aami_beats(arrays, DS1_VALIDATION),
                aami_beats(arrays, DS2))
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    fit_idx, val_idx = stratified_split(train_all.y, 0.1, seed=seed)
    return train_all.subset(fit_idx), train_all.subset(val_idx), test
