"""Where in its time-frequency image the model looked: gradient saliency, as PNG images.

Saliency is the magnitude of the gradient of the predicted class probability with respect to each
pixel of the beat's image, lightly smoothed (SmoothGrad-style averaging over a few noisy copies).
We use input gradients rather than Grad-CAM because the last convolution of this small model is
only 4x4: Grad-CAM would paint 16 blocks, the gradient resolves all 32x32 pixels.
"""

import io

import numpy as np

SCALE = 4  # 32x32 image -> 128x128 PNG
_SMOOTH_SAMPLES = 8
_SMOOTH_NOISE = 0.05


def saliency_map(model, image, context, class_index, *, seed=0):
    """Return a (32, 32) map in [0, 1] of how much each pixel moves the ``class_index`` probability."""
    import tensorflow as tf

    from ml.store import input_shapes

    rng = np.random.default_rng(seed)
    image = np.asarray(image, dtype=np.float32).reshape((1,) + input_shapes(model)[0])
    noise = rng.normal(0.0, _SMOOTH_NOISE * float(np.ptp(image) or 1.0),
                       size=(_SMOOTH_SAMPLES,) + image.shape[1:]).astype(np.float32)
    noise[0] = 0.0
    images = tf.convert_to_tensor(image + noise)
    ctx = tf.convert_to_tensor(np.repeat(np.asarray(context, np.float32).reshape(1, -1),
                                         _SMOOTH_SAMPLES, axis=0))
    grads = _gradient_fn(model)(images, ctx, tf.constant(int(class_index))).numpy()
    sal = np.abs(grads).mean(axis=0).sum(axis=-1)  # over noisy copies, then channels
    top = np.percentile(sal, 99.5)
    return np.clip(sal / top, 0.0, 1.0) if top > 0 else np.zeros_like(sal)


_compiled = {}  # id(model) -> (model, traced gradient function): traced once per model and process


def _gradient_fn(model):
    """Return a traced function (images, context, class) -> d probability / d image for ``model``."""
    import tensorflow as tf

    entry = _compiled.get(id(model))
    if entry is None or entry[0] is not model:
        @tf.function(reduce_retracing=True)
        def gradient(images, ctx, class_index):
            with tf.GradientTape() as tape:
                tape.watch(images)
                probs = model({"image": images, "context": ctx}, training=False)
                target = tf.reduce_sum(tf.gather(probs, class_index, axis=1))
            return tape.gradient(target, images)

        entry = _compiled[id(model)] = (model, gradient)
    return entry[1]


def _rgb(values, cmap_name):
    from matplotlib import colormaps  # colormaps only; no pyplot, no figure

    return (colormaps[cmap_name](values)[..., :3] * 255).astype(np.uint8)


def _png(rgb):
    from PIL import Image

    img = Image.fromarray(rgb).resize(
        (rgb.shape[1] * SCALE, rgb.shape[0] * SCALE), Image.Resampling.NEAREST
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)  # small images: size barely changes, encoding is ~10x faster
    return buf.getvalue()


def _normalise(image):
    image = np.asarray(image, dtype=np.float64).reshape(image.shape[0], image.shape[1])
    lo, hi = image.min(), image.max()
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)


def _scalogram(image):
    image = np.asarray(image)
    return image[..., 0] if image.ndim == 3 else image


def spectral_png(image):
    """Return PNG bytes of a beat's time-frequency image (time left to right, low frequency at the bottom)."""
    return _png(_rgb(_normalise(_scalogram(image)), "viridis"))


def overlay_png(image, saliency, *, alpha=0.55):
    """Return PNG bytes of the image in grey with the saliency map drawn over it in heat colours."""
    base = _normalise(_scalogram(image))[..., None] * 255.0 * np.ones(3)
    heat = _rgb(saliency, "inferno").astype(np.float64)
    a = alpha * np.asarray(saliency)[..., None]
    return _png((base * (1 - a) + heat * a).astype(np.uint8))
