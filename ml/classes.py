"""The beat classes the model reports, and their AAMI EC57 grouping.

Order matters: it is the index order of the model's softmax output.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class BeatClass:
    symbol: str  # MIT-BIH annotation symbol
    code: str  # short stable code used in URLs, the database and the API
    name: str
    aami: str  # AAMI EC57 class: N, S, V, F or Q


BEAT_CLASSES = (
    BeatClass("N", "N", "Normal beat", "N"),
    BeatClass("L", "L", "Left bundle branch block beat", "N"),
    BeatClass("R", "R", "Right bundle branch block beat", "N"),
    BeatClass("A", "A", "Premature atrial contraction", "S"),
    BeatClass("V", "V", "Premature ventricular contraction", "V"),
    BeatClass("/", "P", "Paced beat", "Q"),
    BeatClass("!", "VF", "Ventricular flutter/fibrillation wave", "V"),
    BeatClass("E", "E", "Ventricular escape beat", "V"),
)

SYMBOLS = tuple(c.symbol for c in BEAT_CLASSES)
CODES = tuple(c.code for c in BEAT_CLASSES)
BY_SYMBOL = {c.symbol: c for c in BEAT_CLASSES}
BY_CODE = {c.code: c for c in BEAT_CLASSES}
N_CLASSES = len(BEAT_CLASSES)

# The 6 folders of the image set -> the class code their names give. The folder named "Premature
# Atrial Contraction" mostly holds paced beats: a plot there is labelled by what its file number
# names (``ml.lab.image_dataset.code_of``: paced ``P``, record 232's atrial premature beats ``A``).
IMAGE_FOLDERS = {
    "Normal": "N",
    "Left Bundle Branch Block": "L",
    "Right Bundle Branch Block": "R",
    "Premature Atrial Contraction": "A",
    "Premature Ventricular Contractions": "V",
    "Ventricular Fibrillation": "VF",
}
# The classes the image set's plots are labelled with (their folders' codes and paced ``P``), in
# our 8-class order: the output order of an image model trained on them. A served model's codes
# are the ones its ``.json`` records (``ml.store.image_codes``).
IMAGE_CODES = tuple(c for c in CODES if c in {*IMAGE_FOLDERS.values(), "P"})
# The output order of an image model whose ``.json`` records no codes: the 6 folder codes, its
# "A" learned from a folder of mostly paced beats (models installed before 2026-12-07).
LEGACY_IMAGE_CODES = tuple(c for c in CODES if c in IMAGE_FOLDERS.values())
