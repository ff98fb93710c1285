"""The single-beat image set (``ecg-images/train/<class>/*.png``) as a leakage-free dataset.

The image set holds byte-identical copies of some images and a few all-white blanks (see its
SOURCE.md), so images are keyed by the SHA-256 of their bytes, never by file name:

* copies of one image collapse to one unique image (an image found under two class folders has
  no trustworthy label and is dropped);
* blank images (a single grey level: no trace at all) are dropped; ``ml.analysis`` answers
  "inconclusive" for them;
* the unique images are split 70/15/15 (train/validation/test), stratified by class with a fixed
  seed, so no image, or any byte-identical copy of it, is on two sides of the split.

Every unique image is digitised once with ``ml.io.load`` (the serving path) and the traces are
cached under ``.cache/`` keyed by the file list and the digitiser's source, so an edit of the
digitiser invalidates the cache. Model inputs come from :func:`ml.preprocess.image_beat_features`.
"""

import hashlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml import lab
from ml import preprocess
from ml.classes import IMAGE_CODES, IMAGE_FOLDERS

SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
SPLIT_SEED = 0
CACHE_VERSION = "v1"
DEFAULT_CACHE_DIR = lab.CACHE_DIR


@dataclass
class ImageEntry:
    """One unique image: its SHA-256, one path holding it, its class code and copy count."""

    sha256: str
    path: str
    code: str
    copies: int


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_blank(path):
    """Return True when the image has a single grey level (an all-white page: no trace)."""
    from PIL import Image

    with Image.open(path) as img:
        lo, hi = img.convert("L").getextrema()
    return hi - lo == 0


def scan(image_dir):
    """Return (unique entries sorted by SHA-256, facts dict) for the image folders under ``image_dir``.

    Facts: files per folder, duplicate copies removed, blank and conflicting images dropped.
    """
    by_sha = {}
    files = {}
    for folder, code in IMAGE_FOLDERS.items():
        paths = sorted((Path(image_dir) / folder).glob("*.png"))
        files[folder] = len(paths)
        for p in paths:
            by_sha.setdefault(_sha256(p), []).append((str(p), code))
    entries, blank, blank_files, conflicting, copies_removed = [], 0, 0, 0, 0
    for sha, items in sorted(by_sha.items()):
        codes = {c for _, c in items}
        copies_removed += len(items) - 1
        if is_blank(items[0][0]):
            blank += 1
            blank_files += len(items)
            continue
        if len(codes) > 1:
            conflicting += 1
            continue
        entries.append(ImageEntry(sha, items[0][0], items[0][1], len(items)))
    facts = {"files": files, "n_files": sum(files.values()), "unique": len(by_sha),
             "duplicate_copies_removed": copies_removed, "blank_unique_dropped": blank,
             "blank_files": blank_files,
             "conflicting_labels_dropped": conflicting, "kept": len(entries)}
    return entries, facts


def split(entries, *, fractions=SPLIT_FRACTIONS, seed=SPLIT_SEED):
    """Return (train, validation, test) index arrays into ``entries``, stratified by class."""
    rng = np.random.default_rng(seed)
    codes = np.array([e.code for e in entries])
    parts = ([], [], [])
    for code in IMAGE_CODES:
        idx = np.flatnonzero(codes == code)
        rng.shuffle(idx)
        n_val = int(round(fractions[1] * len(idx)))
        n_test = int(round(fractions[2] * len(idx)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def _digitise(path):
    """Return (trace, kind, error name) of one image read by the serving loader."""
    from ml.io import load

    try:
        rec = load(path)
    except Exception as exc:  # an ECGInputError: the image is not used
        return None, None, type(exc).__name__
    return np.asarray(rec.signal, dtype=np.float32), rec.kind, None


def _cache_key(entries):
    from ml.io import image as image_reader

    h = hashlib.sha256()
    for e in entries:
        h.update(e.sha256.encode())
    h.update(Path(image_reader.__file__).read_bytes())
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

    def __len__(self):
        return len(self.y)


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
    return ImageBeatSet(images.astype(np.float32), context.astype(np.float32), y,
                        arrays["kind"][idx], idx)


def load_splits(image_dir, *, cache_dir=DEFAULT_CACHE_DIR):
    """Return (entries, facts, arrays, (train_idx, val_idx, test_idx))."""
    entries, facts = scan(image_dir)
    arrays = digitise_all(entries, cache_dir=cache_dir)
    return entries, facts, arrays, split(entries)
