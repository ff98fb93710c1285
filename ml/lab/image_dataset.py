"""The single-beat image set (``ecg-images/train/<class>/*.png``), split by source recording.

The image set holds byte-identical copies of some images and a few all-white blanks (see its
SOURCE.md), so images are keyed by the SHA-256 of their bytes:

* copies of one image collapse to one unique image (an image found under two labels has no
  trustworthy label and is dropped);
* blank images (a single grey level: no trace at all) are dropped; ``ml.analysis`` answers
  "inconclusive" for them.

Every plot is a beat of MIT-BIH lead 0 (``ml.lab.beat_plots`` measures the style), and its file
number counts, within its folder, the beats of one annotation symbol in record order (100, 101,
... 234): ``fig_k`` of the Normal folder is the k-th ``N`` beat of the database, ``VFEfig_k`` the
k-th ``!`` and ``VEBfig_k`` the k-th ``E`` (they sit in the PVC folder). Matching each plot's trace
to the annotated beats confirms it (98 % of plots correlate >= 0.95 with a beat of the record the
rule names, median 0.994; ``ml/reports/images_by_recording.md``), and shows that the folder named
"Premature Atrial Contraction" holds paced beats (``/``) but for 201 atrial premature beats of
record 232 (``fig_1571``-``fig_1771``, counted among the ``A`` beats). Each plot is labelled by what
its number names (:func:`code_of`): that folder's paced plots are ``P``, 232's ``A``; every other
folder's plots keep the folder's code. The count drifts by a few
beats from the annotation order, so a plot numbered within :data:`GUARD_NUMBERS` of a record
boundary is dropped: every kept plot has one recording (:func:`recording_of`).

:func:`split` puts whole recordings on one side, never a hash or a file: the test side is de
Chazal's DS2 (this project's inter-patient test records) and paced record 217, the validation side
a few DS1 and paced records (:data:`VALIDATION_RECORDINGS`), the rest trains. Plots rendered from
other WFDB records (``ml.lab.beat_plots``) are split by the same rule.

Every unique image is digitised once with ``ml.io.load`` (the serving path) and the traces are
cached under ``.cache/`` keyed by the file list and the digitiser's source, so an edit of the
digitiser invalidates the cache. Model inputs come from :func:`ml.preprocess.image_beat_features`.
"""

import hashlib
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml import lab
from ml import preprocess
from ml.classes import IMAGE_CODES, IMAGE_FOLDERS

# Beats of each symbol per MIT-BIH record, in record order, from the reference annotations
# (``test_image_beats`` re-derives them from mitdb/*.atr).
_RECORD_COUNTS = {
    "N": "100:2239 101:1860 102:99 103:2082 104:163 105:2526 106:1507 108:1739 112:2537 113:1789 "
         "114:1820 115:1953 116:2302 117:1534 119:1543 121:1861 122:2476 123:1515 200:1743 "
         "201:1625 202:2061 203:2529 205:2571 208:1586 209:2621 210:2423 212:923 213:2641 "
         "215:3195 217:244 219:2082 220:1954 221:2031 222:2062 223:2029 228:1688 230:2255 "
         "231:314 233:2230 234:2700",
    "L": "109:2492 111:2123 207:1457 214:2003",
    "R": "118:2166 124:1531 207:86 212:1825 231:1254 232:397",
    "/": "102:2028 104:1380 107:2078 217:1542",
    "A": "100:33 101:3 103:2 108:4 112:2 114:10 116:1 117:1 118:96 121:1 124:2 200:30 201:30 "
         "202:36 205:3 207:107 209:383 213:25 215:3 219:7 220:94 222:208 223:72 228:3 231:1 "
         "232:1382 233:7",
    "V": "100:1 102:4 104:2 105:41 106:520 107:59 108:17 109:38 111:1 114:43 116:109 118:16 "
         "119:444 121:1 123:3 124:47 200:826 201:198 202:19 203:444 205:71 207:105 208:992 "
         "209:1 210:194 213:220 214:256 215:164 217:162 219:64 221:396 223:473 228:362 230:1 "
         "231:2 233:831 234:3",
    "E": "207:105 210:1",
    "!": "207:472",
}
RECORD_COUNTS = {sym: tuple((rec, int(n)) for rec, n in (item.split(":") for item in text.split()))
                 for sym, text in _RECORD_COUNTS.items()}
# The annotation symbol each file name counts: (folder, name prefix) -> symbol.
NUMBERED_SYMBOL = {
    ("Normal", "fig_"): "N",
    ("Left Bundle Branch Block", "fig_"): "L",
    ("Right Bundle Branch Block", "fig_"): "R",
    ("Premature Atrial Contraction", "fig_"): "/",  # paced beats, but for the range below
    ("Premature Ventricular Contractions", "fig_"): "V",
    ("Premature Ventricular Contractions", "VEBfig_"): "E",
    ("Ventricular Fibrillation", "VFEfig_"): "!",
}
# Numbers of one folder that count another symbol: fig_1571-1771 of the PAC folder are atrial
# premature beats (of record 232), every other number there a paced beat.
NUMBERED_SYMBOL_RANGES = {("Premature Atrial Contraction", "fig_"): ((1571, 1771, "A"),)}
# The class code of a plot whose number names a beat its folder's name does not say: paced beats
# are the 8-class model's ``P`` (Paced beat), atrial premature beats ``A``. Other symbols keep
# their folder's code (the PVC folder's ``E`` escape beats stay ``V``, as they were drawn).
CODE_OF_NUMBERED = {"/": "P", "A": "A"}
# A plot's count runs up to ~5 beats off the annotation order (measured): numbers this close to
# a record boundary could be either record's, and are dropped.
GUARD_NUMBERS = 10
# De Chazal's DS2 (never trained or chosen on in this project) and paced record 217: the test.
TEST_RECORDINGS = frozenset({f"mitdb/{r}" for r in (100, 103, 105, 111, 113, 117, 121, 123, 200,
                                                     202, 210, 212, 213, 214, 219, 221, 222, 228,
                                                     231, 232, 233, 234, 217)})
# Validation (checkpoint and choices): DS1 and paced records whose plots hold N (101), R (124),
# V (119, 208) and paced (104) beats of patients the training side does not have.
VALIDATION_RECORDINGS = frozenset({"mitdb/101", "mitdb/104", "mitdb/119", "mitdb/124",
                                   "mitdb/208"})
SIDES = ("train", "validation", "test")
CACHE_VERSION = "v2"
DEFAULT_CACHE_DIR = lab.CACHE_DIR


@dataclass
class ImageEntry:
    """One unique image: its SHA-256, one path holding it, its class code, copy count and source
    recording (``"mitdb/207"``; None where its number sits in a guard band)."""

    sha256: str
    path: str
    code: str
    copies: int
    recording: str | None = None
    rendered: bool = False  # drawn by ml.lab.beat_plots, not a file of the image set


def _numbered(path):
    """Return (folder and name prefix, number, symbol it counts) of an image-set file, or None."""
    path = Path(path)
    m = re.fullmatch(r"([A-Za-z]*fig_)(\d+)\.png", path.name)
    key = m and (path.parent.name, m.group(1))
    symbol = m and NUMBERED_SYMBOL.get(key)
    if not symbol:
        return None
    number = int(m.group(2))
    for first, last, other in NUMBERED_SYMBOL_RANGES.get(key, ()):
        if first <= number <= last:
            symbol = other
    return key, number, symbol


def code_of(path):
    """Return the class code of an image-set file: what its number names where that differs from
    its folder's name (:data:`CODE_OF_NUMBERED`: the "Premature Atrial Contraction" folder's paced
    plots are ``P``, record 232's atrial premature beats ``A``), else its folder's code."""
    numbered = _numbered(path)
    if numbered and numbered[2] in CODE_OF_NUMBERED:
        return CODE_OF_NUMBERED[numbered[2]]
    return IMAGE_FOLDERS[Path(path).parent.name]


def recording_of(path):
    """Return the source recording (``"mitdb/<record>"``) of an image-set file, or None.

    None: the name is not a numbered plot of a known folder, or its number is within
    :data:`GUARD_NUMBERS` of a boundary between two records.
    """
    numbered = _numbered(path)
    if not numbered:
        return None
    _, number, symbol = numbered
    first = 1
    for record, count in RECORD_COUNTS[symbol]:
        last = first + count - 1
        if first <= number <= last:
            near_start = record != RECORD_COUNTS[symbol][0][0] and number - first < GUARD_NUMBERS
            near_end = record != RECORD_COUNTS[symbol][-1][0] and last - number < GUARD_NUMBERS
            return None if near_start or near_end else f"mitdb/{record}"
        first = last + 1
    return None


def side_of(recording):
    """Return the side (``"train"``, ``"validation"`` or ``"test"``) of a recording."""
    if recording in TEST_RECORDINGS:
        return "test"
    return "validation" if recording in VALIDATION_RECORDINGS else "train"


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_blank(path):
    """Return True when the image has a single grey level (an all-white page: no trace)."""
    from PIL import Image

    with Image.open(path) as img:
        lo, hi = img.convert("L").getextrema()
    return hi - lo == 0


def scan(image_dir):
    """Return (unique entries sorted by SHA-256, facts dict) for the image folders of ``image_dir``.

    Facts: files per folder, duplicate copies removed, blank and conflicting images dropped,
    images in a guard band between recordings (kept in the entries, on no side of the split).
    """
    by_sha = {}
    files = {}
    for folder in IMAGE_FOLDERS:
        paths = sorted((Path(image_dir) / folder).glob("*.png"))
        files[folder] = len(paths)
        for p in paths:
            by_sha.setdefault(_sha256(p), []).append((str(p), code_of(p)))
    entries, blank, blank_files, conflicting, copies_removed = [], 0, 0, 0, 0
    for sha, items in sorted(by_sha.items()):
        codes = {c for _, c in items}
        recordings = {recording_of(p) for p, _ in items}
        copies_removed += len(items) - 1
        if is_blank(items[0][0]):
            blank += 1
            blank_files += len(items)
            continue
        if len(codes) > 1:
            conflicting += 1
            continue
        recording = recordings.pop() if len(recordings) == 1 else None
        entries.append(ImageEntry(sha, items[0][0], items[0][1], len(items), recording))
    facts = {"files": files, "n_files": sum(files.values()), "unique": len(by_sha),
             "duplicate_copies_removed": copies_removed, "blank_unique_dropped": blank,
             "blank_files": blank_files,
             "conflicting_labels_dropped": conflicting, "kept": len(entries),
             "guard_band_dropped": sum(e.recording is None for e in entries),
             "recordings": len({e.recording for e in entries} - {None})}
    return entries, facts


FILE_SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
FILE_SPLIT_SEED = 0


def split_by_file(entries, *, fractions=FILE_SPLIT_FRACTIONS, seed=FILE_SPLIT_SEED):
    """Return (train, validation, test) index arrays: the image set's unique plots split at random,
    stratified by folder (the recipe of the installed image model, so every recording of the set
    is on every side: a within-patient split). Rendered plots keep their recording's side.

    Strata are the folders, not the labels (a folder's plots may hold two classes, ``code_of``),
    so each plot is on the side it was on for the models trained before the labels by number.
    """
    rng = np.random.default_rng(seed)
    folders = [IMAGE_FOLDERS.get(Path(e.path).parent.name) for e in entries]
    codes = np.array([f if f and not e.rendered else "" for f, e in zip(folders, entries)])
    own = np.array([not e.rendered for e in entries], dtype=bool)
    parts = ([], [], [])
    for code in (c for c in IMAGE_CODES if c in IMAGE_FOLDERS.values()):
        idx = np.flatnonzero((codes == code) & own)
        rng.shuffle(idx)
        n_val = int(round(fractions[1] * len(idx)))
        n_test = int(round(fractions[2] * len(idx)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    for i, e in enumerate(entries):
        if e.rendered and e.recording:
            parts[SIDES.index(side_of(e.recording))].append(np.array([i]))
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)


def split(entries):
    """Return (train, validation, test) index arrays into ``entries``, whole recordings per side.

    Each entry goes to the side of its recording (:func:`side_of`); entries without one (guard
    bands) are on no side. No randomness: the same entries always split the same way.
    """
    sides = [side_of(e.recording) if e.recording else None for e in entries]
    return tuple(np.array([i for i, s in enumerate(sides) if s == side], dtype=np.int64)
                 for side in SIDES)


# Rendered plots per record and class (``load_splits``): enough to add patients, few enough that
# no one record dominates and the digitiser (~0.2 s a plot) keeps up.
TRAIN_PLOTS_PER_CLASS = {"N": 40, "L": 300, "R": 300, "A": 300, "V": 60, "P": 300, "VF": 300}
TEST_PLOTS_PER_CLASS = {"N": 20, "L": 100, "R": 100, "A": 100, "V": 30, "P": 100, "VF": 100}


def rendered_entries(wfdb_dirs, *, side, per_class, seed=0, variants=0,
                     cache_dir=DEFAULT_CACHE_DIR):
    """Return entries of single-beat plots rendered (``ml.lab.beat_plots``) from the records of
    ``wfdb_dirs`` on one ``side`` of :func:`split` (at most ``per_class[code]`` beats per record,
    each drawn 1 + ``variants`` times)."""
    from ml.lab import beat_plots, dataset

    entries = []
    for folder in wfdb_dirs:
        folder = Path(folder)
        records = [r for r in dataset.database_records(folder)
                   if side_of(f"{folder.name}/{r}") == side]
        for path, code, recording in beat_plots.plot_beats(folder, records, per_class=per_class,
                                                           seed=seed, variants=variants,
                                                           cache_dir=cache_dir):
            entries.append(ImageEntry(_sha256(path), path, code, 1, recording, rendered=True))
    return entries


def _digitise(path):
    """Return (trace, kind, error name) of one image read by the serving loader."""
    from ml.io import load

    try:
        rec = load(path)
    except Exception as exc:  # an ECGInputError: the image is not used
        return None, None, type(exc).__name__
    return np.asarray(rec.signal, dtype=np.float32), rec.kind, None


def _reader_source():
    """Return the source of the plot reader: ``ml.io.image._read_plot`` and, transitively, the
    functions of that module it calls (edits elsewhere in the module leave the cache valid)."""
    import inspect

    from ml.io import gate, image as image_reader

    seen, todo, parts = set(), ["_read_plot", "_check_plot", "read_image"], []
    while todo:
        name = todo.pop()
        obj = getattr(image_reader, name, None)
        if name in seen or not inspect.isfunction(obj) or obj.__module__ != image_reader.__name__:
            continue
        seen.add(name)
        parts.append(inspect.getsource(obj))
        todo.extend(obj.__code__.co_names)
        for const in obj.__code__.co_consts:  # names used only inside nested functions
            if inspect.iscode(const):
                todo.extend(const.co_names)
    constants = [f"{k}={v!r}" for k, v in sorted(vars(image_reader).items())
                 if k.isupper() and isinstance(v, (int, float, str, tuple))]
    return "\n".join(sorted(parts) + constants).encode() + Path(gate.__file__).read_bytes()


def _cache_key(entries):
    h = hashlib.sha256()
    for e in entries:
        h.update(e.sha256.encode())
    h.update(_reader_source())
    h.update(CACHE_VERSION.encode())
    return h.hexdigest()[:12]


def digitise_all(entries, *, cache_dir=DEFAULT_CACHE_DIR, workers=2, progress=True):
    """Return {"traces": object array, "kind": str array, "error": str array} for ``entries``.

    Cached under ``cache_dir`` (not part of the repository).
    """
    cache = Path(cache_dir) / f"ecg_images_{_cache_key(entries)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=True) as z:
            return {k: z[k] for k in z.files}
    paths = [e.path for e in entries]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_digitise, paths, chunksize=64)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(paths), desc="digitise images", unit="img")
        results = list(results)
    traces = np.empty(len(results), dtype=object)
    for i, (trace, _, _) in enumerate(results):
        traces[i] = trace
    arrays = {"traces": traces,
              "kind": np.array([k or "" for _, k, _ in results]),
              "error": np.array([e or "" for _, _, e in results])}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(cache)
    return arrays


@dataclass
class ImageBeatSet:
    """Digitised image beats as model inputs, labels indexing :data:`IMAGE_CODES`."""

    images: np.ndarray
    context: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    index: np.ndarray  # into the scanned entries
    recording: np.ndarray  # "mitdb/207", "svdb/800", ...
    rendered: np.ndarray  # bool: drawn by ml.lab.beat_plots

    def __len__(self):
        return len(self.y)

    @property
    def record(self):
        return self.recording

    def subset(self, idx):
        """Return the beats at positions ``idx``."""
        return ImageBeatSet(self.images[idx], self.context[idx], self.y[idx], self.kind[idx],
                            self.index[idx], self.recording[idx], self.rendered[idx])


def beat_set(entries, arrays, idx):
    """Return the :class:`ImageBeatSet` of entries ``idx`` that the digitiser could read."""
    idx = np.asarray([i for i in idx if arrays["traces"][i] is not None], dtype=np.int64)
    feats = [preprocess.image_beat_features(arrays["traces"][i]) for i in idx]
    if feats:
        images, context = (np.stack(parts) for parts in zip(*feats))
    else:
        images = np.zeros((0,) + preprocess.BEAT_IMAGE_SHAPE, np.float32)
        context = np.zeros((0, preprocess.N_TRACE_CONTEXT), np.float32)
    y = np.array([IMAGE_CODES.index(entries[i].code) for i in idx], dtype=np.int64)
    recording = np.array([entries[i].recording or "" for i in idx], dtype=str)
    rendered = np.array([entries[i].rendered for i in idx], dtype=bool)
    return ImageBeatSet(images.astype(np.float32), context.astype(np.float32), y,
                        arrays["kind"][idx], idx, recording, rendered)


def split_facts(entries, splits):
    """Return, per side, the recordings and the plots per class (image set and rendered)."""
    facts = {}
    for side, idx in zip(SIDES, splits):
        chosen = [entries[i] for i in idx]
        facts[side] = {
            "recordings": sorted({e.recording for e in chosen if not e.rendered} - {None}),
            "rendered_recordings": len({e.recording for e in chosen if e.rendered}),
            "image_set": {c: sum(e.code == c and not e.rendered for e in chosen)
                          for c in IMAGE_CODES},
            "rendered": {c: sum(e.code == c and e.rendered for e in chosen) for c in IMAGE_CODES},
        }
    return facts


def load_splits(image_dir, *, cache_dir=DEFAULT_CACHE_DIR, plots_from=(), train_plots=True,
                plot_variants=0, split_by="recording"):
    """Return (entries, facts, arrays, (train_idx, val_idx, test_idx)).

    ``plots_from``: WFDB folders to render plots from (:func:`rendered_entries`): their test-side
    records add held-out plots (scored apart from the image set's), and, with ``train_plots``,
    their training-side records add training plots (each beat drawn 1 + ``plot_variants`` times).
    Validation stays the image set's own plots.
    Rendered entries follow the image set's; each group has its own digitised cache.
    ``split_by``: ``"recording"`` (:func:`split`, whole recordings per side) or ``"file"``
    (:func:`split_by_file`, the installed model's within-patient recipe).
    """
    entries, facts = scan(image_dir)
    arrays = digitise_all(entries, cache_dir=cache_dir)
    groups = [("test", TEST_PLOTS_PER_CLASS, 0)]
    if train_plots:
        groups.append(("train", TRAIN_PLOTS_PER_CLASS, plot_variants))
    for side, per_class, variants in groups if plots_from else ():
        plots = rendered_entries(plots_from, side=side, per_class=per_class, variants=variants,
                                 cache_dir=cache_dir)
        more = digitise_all(plots, cache_dir=cache_dir)
        arrays = {k: np.concatenate([arrays[k], more[k]]) for k in arrays}
        entries = entries + plots
        facts = {**facts, f"rendered_{side}_plots": len(plots),
                 f"rendered_{side}_recordings": len({e.recording for e in plots})}
    return entries, facts, arrays, (split_by_file if split_by == "file" else split)(entries)
