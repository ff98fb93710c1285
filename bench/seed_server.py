"""The seed-style server the portal replaces, as issue 23 describes it, for bench/bench_load.py.

One request = one picture in, one label out: read the POSTed image, resize it to 64x64 grey,
call a small Keras CNN's ``model.predict()`` on it, answer the label as JSON. No accounts, no
database, no queue, no stored file, no digitising, no history. A plain WSGI callable (Flask is
not installed here, and gunicorn runs any WSGI app; Flask's routing would add well under a
millisecond per request):

    gunicorn --workers 2 --bind 127.0.0.1:8503 bench.seed_server:app

The CNN (two 3x3 convolutions with max pooling, a 64-unit dense layer, a softmax over the six
classes of ecg-images) is built in code with fixed random weights (``keras.utils.set_random_seed(23)``),
not trained: its labels are meaningless, and that does not matter here. The bench measures speed
and memory, and a trained model of the same shape costs exactly the same per ``predict()``.
Each gunicorn worker builds it once when it imports this module (at boot, as the seed's Flask app
loaded its model at import).
"""

import io
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# The folders of ecg-images/train, in sorted order.
LABELS = [
    "Left Bundle Branch Block",
    "Normal",
    "Premature Atrial Contraction",
    "Premature Ventricular Contractions",
    "Right Bundle Branch Block",
    "Ventricular Fibrillation",
]
SIZE = 64


def build_model(seed=23):
    """Return the small CNN with fixed random weights (the same for the same ``seed``)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(len(LABELS), activation="softmax"),
    ])
    model.compile()
    return model


_model = build_model()


def to_input(image_bytes):
    """Return the picture as a (1, 64, 64, 1) float array in [0, 1]; raise ValueError if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            grey = image.convert("L").resize((SIZE, SIZE))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"not an image: {exc}") from None
    return (np.asarray(grey, dtype=np.float32) / 255.0)[None, :, :, None]


def classify(image_bytes):
    """Return (label, probability) of the picture ``image_bytes``."""
    probs = _model.predict(to_input(image_bytes), verbose=0)[0]
    best = int(np.argmax(probs))
    return LABELS[best], float(probs[best])


def app(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("405 Method Not Allowed", [("Content-Type", "text/plain")])
        return [b"POST an image"]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size)
    try:
        label, probability = classify(body)
    except ValueError as exc:  # the seed answered a bad picture with a 400 and the message
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [json.dumps({"error": str(exc)}).encode()]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"label": label, "probability": probability}).encode()]
