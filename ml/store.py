"""Load the shipped models once per process and classify batches of beats with them.

Two models are shipped: ``ecg_cnn.keras`` (8 classes, for signals and rhythm strips) and
``ecg_cnn_image.keras`` (for single-beat plots; inputs from ``ml.preprocess.image_beat_features``;
its class codes, in output order, are the ``classes`` its ``.json`` records: :func:`image_codes`). Each model file is checked against its SHA-256
(``<name>.sha256`` beside it) before Keras reads it: a truncated or swapped file is a deployment
fault (:class:`ml.errors.ModelFileError`), not a wrong answer. TensorFlow is imported here, on
first load, never at ``import ml`` time, and the cache is per process id so a forked Celery child
never reuses its parent's TensorFlow state.
"""

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from ml.errors import ModelFileError

MODEL_PATH = Path(__file__).resolve().parent / "models" / "ecg_cnn.keras"
IMAGE_MODEL_PATH = MODEL_PATH.with_name("ecg_cnn_image.keras")
BATCH = 4096  # beats per forward pass: bounds memory on long records


def sha256_of(path):
    """Return the hex SHA-256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def expected_sha256(model_path):
    """Return the checksum recorded beside ``model_path`` (``<name>.sha256``)."""
    checksum_path = Path(model_path).with_suffix(".sha256")
    try:
        return checksum_path.read_text().split()[0].strip().lower()
    except (OSError, IndexError):
        raise ModelFileError(f"The model checksum file {checksum_path} is missing or empty.") from None


def keras_loader(path):
    """Return the Keras model stored at ``path`` (the default loader)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import ml.model  # noqa: F401  (registers the model's custom layer with Keras)

    return keras.models.load_model(path, compile=False)


def input_shapes(model):
    """Return the (image, context) input shapes of ``model`` without the batch axis."""
    shapes = {t.name.split(":")[0]: tuple(t.shape[1:]) for t in model.inputs}
    return shapes["image"], shapes["context"]


class Classifier:
    """A loaded beat model with a compiled batch predictor.

    ``predict(images, context)`` returns the (n, n_classes) softmax probabilities. It runs the
    model as one traced ``tf.function`` per batch of up to :data:`BATCH` beats (never
    ``model.predict`` per beat, which costs ~50-150 ms of fixed overhead per call).
    ``codes`` are the class codes of the output columns, in order.
    """

    def __init__(self, model, *, version, codes=None, temperature=1.0):
        self.model = model
        self.version = version
        self.codes = tuple(codes) if codes is not None else None
        # Fitted on beats of patients the model never saw (ml/MODEL_CARD.md, Calibration):
        # probabilities are softmax(log p / T), so a confidence means what it says.
        self.temperature = float(temperature)
        self._fn = None

    @property
    def n_classes(self):
        return int(self.model.outputs[0].shape[-1])

    def _compiled(self):
        if self._fn is None:
            import tensorflow as tf

            model = self.model
            image_shape, n_context_shape = input_shapes(model)
            n_context = int(n_context_shape[-1])

            @tf.function(
                input_signature=[
                    tf.TensorSpec((None, *image_shape), tf.float32),
                    tf.TensorSpec((None, n_context), tf.float32),
                ],
                reduce_retracing=True,
            )
            def forward(images, context):
                return model({"image": images, "context": context}, training=False)

            self._fn = forward
        return self._fn

    def predict(self, images, context):
        images = np.asarray(images, dtype=np.float32)
        context = np.asarray(context, dtype=np.float32)
        if len(images) == 0:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        fn = self._compiled()
        out = [fn(images[i:i + BATCH], context[i:i + BATCH]).numpy()
               for i in range(0, len(images), BATCH)]
        probs = np.concatenate(out)
        if self.temperature != 1.0:
            logp = np.log(np.clip(probs, 1e-12, 1.0)) / self.temperature
            probs = np.exp(logp - logp.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
        return probs


def load_classifier(path=MODEL_PATH, *, loader=keras_loader, verify=True, codes=None):
    """Return a :class:`Classifier` for the model at ``path`` after checking its SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"The model file {path} is missing. Train it with python -m ml.lab.train "
                             "(commands in ml/MODEL_CARD.md, section Reproduce).")
    digest = sha256_of(path)
    if verify:
        expected = expected_sha256(path)
        if digest != expected:
            raise ModelFileError(
                f"The model file {path} does not match its checksum "
                f"(expected {expected[:12]}..., found {digest[:12]}...): it is corrupt or was "
                f"replaced without updating {path.with_suffix('.sha256').name}."
            )
    try:
        model = loader(path)
    except Exception as exc:  # a file that passes the checksum but Keras cannot read
        raise ModelFileError(f"The model file {path} could not be loaded: {exc}") from exc
    return Classifier(model, version=digest[:12], codes=codes, temperature=_temperature(path))


def _temperature(model_path):
    """Return the calibration temperature recorded in ``<name>.json`` beside the model (1: none)."""
    import json

    try:
        return float(json.loads(Path(model_path).with_suffix(".json").read_text())
                     .get("temperature") or 1.0)
    except (OSError, ValueError, AttributeError):
        return 1.0


_lock = threading.Lock()
_cached = {}  # (pid, model path) -> Classifier
_loader = keras_loader


def set_loader(loader):
    """Replace how the shipped models are loaded (a test seam); ``None`` restores Keras. Clears the cache."""
    global _loader
    with _lock:
        _loader = loader or keras_loader
        _cached.clear()


def image_codes(model_path=IMAGE_MODEL_PATH):
    """Return the class codes, in output order, of the image model at ``model_path``.

    They are the ``classes`` its ``.json`` records (written when it was installed), so a served
    model and its labels cannot disagree; a model whose ``.json`` names none is one of the
    6-class models installed before (:data:`ml.classes.LEGACY_IMAGE_CODES`).
    """
    import json

    from ml.classes import CODES, LEGACY_IMAGE_CODES

    json_path = Path(model_path).with_suffix(".json")
    try:
        codes = json.loads(json_path.read_text()).get("classes")
    except (OSError, ValueError, AttributeError):
        codes = None
    if not codes:
        return LEGACY_IMAGE_CODES
    unknown = [c for c in codes if c not in CODES]
    if unknown or len(set(codes)) != len(codes):
        raise ModelFileError(f"{json_path.name} names classes {codes}: each must be one of "
                             f"{list(CODES)}, once.")
    return tuple(codes)


def _get(path, codes):
    """Return this process's cached Classifier of ``path``; ``codes`` (a tuple, or a function
    returning one, called only when the model is loaded) are its output classes."""
    pid = os.getpid()
    with _lock:
        clf = _cached.get((pid, path))
        if clf is None:
            for key in [k for k in _cached if k[0] != pid]:
                del _cached[key]  # drop a parent's entries after a fork
            codes = codes() if callable(codes) else codes
            clf = load_classifier(path, loader=_loader, codes=codes)
            outputs = getattr(clf.model, "outputs", None)
            if codes is not None and outputs and outputs[0].shape[-1] != len(codes):
                raise ModelFileError(f"The model file {path} has {outputs[0].shape[-1]} outputs "
                                     f"but its classes are {list(codes)}.")
            _cached[(pid, path)] = clf
        return clf


def get_classifier():
    """Return this process's :class:`Classifier` for the shipped 8-class model, loading it on first use."""
    from ml.classes import CODES

    return _get(MODEL_PATH, CODES)


def warm_up():
    """Load both shipped models in this process and run each once on a blank input, forward and
    through the saliency gradient, so the first uploads wait neither for a load nor for tracing
    (the saliency trace alone took 0.3-0.4 s of a first single-beat plot); return the 8-class
    :class:`Classifier` (a worker child calls this at start, ``PREDICTIONS_MODEL_WARMUP``)."""
    from ml.saliency import saliency_map

    signal = get_classifier()
    for clf in (signal, get_image_classifier()):
        image_shape, context_shape = input_shapes(clf.model)
        image, context = np.zeros((1, *image_shape), np.float32), np.zeros((1, *context_shape), np.float32)
        clf.predict(image, context)
        saliency_map(clf.model, image[0], context[0], 0)
    return signal


def get_image_classifier():
    """Return this process's :class:`Classifier` for the single-beat image model; its ``codes`` are
    those its ``.json`` records (:func:`image_codes`)."""
    return _get(IMAGE_MODEL_PATH, lambda: image_codes(IMAGE_MODEL_PATH))  # the .json read on load
