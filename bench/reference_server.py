"""The baseline for bench/bench_load.py: a synchronous server in the style of the seed project.

One request = one picture in, one label out: read the upload, digitise the single-beat plot with the
same ``ml.io`` reader the portal uses, and call Keras ``model.predict()`` on it, as the seed's Flask
server did. No accounts, no database, no queue, no stored file, no history. Run it with gunicorn:

    gunicorn --workers 2 --bind 127.0.0.1:8501 bench.reference_server:app
"""

import json
import os
import tempfile
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The portal's process settings (one BLAS thread a process, ecgportal/__init__.py), so this side
# runs the portal's pipeline as the portal runs it. The seed-style server keeps library defaults.
import ecgportal  # noqa: E402,F401

_lock = threading.Lock()
_model = _codes = None


def _get_model():
    """Return (the image model, its output codes as its .json names them), loaded once."""
    global _model, _codes
    with _lock:
        if _model is None:
            from ml.store import IMAGE_MODEL_PATH, image_codes, keras_loader

            _model, _codes = keras_loader(IMAGE_MODEL_PATH), image_codes(IMAGE_MODEL_PATH)
        return _model, _codes


def classify(png_bytes):
    """Return (code, probability) for the single-beat plot ``png_bytes``."""
    import numpy as np

    from ml.io import load
    from ml.preprocess import image_beat_features

    with tempfile.NamedTemporaryFile(suffix=".png") as fh:
        fh.write(png_bytes)
        fh.flush()
        recording = load(fh.name)
    image, context = image_beat_features(recording.signal)
    model, codes = _get_model()
    probs = model.predict({"image": image[None], "context": context[None]}, verbose=0)[0]
    best = int(np.argmax(probs))
    return codes[best], float(probs[best])


def app(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("405 Method Not Allowed", [("Content-Type", "text/plain")])
        return [b"POST a PNG"]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size)
    try:
        code, probability = classify(body)
    except Exception as exc:  # the seed answered every failure as a 400 with the message
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [json.dumps({"error": str(exc)}).encode()]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"label": code, "probability": probability}).encode()]
