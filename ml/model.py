"""The beat classifier: a small CNN over the beat's time-frequency image plus its rhythm context,
beside a linear rhythm head; the two heads' class scores are averaged.

Why two heads. On patients it never saw (the inter-patient protocol), a flexible network learns
the training patients' particular mix of beat shapes and rates: a premature atrial beat with a
normal QRS is called normal whenever its shape is usual for the record, whatever its timing. A
plain logistic regression on the logarithm of the RR-interval ratios generalises better across
patients for exactly those beats (prematurity is what defines them) but knows nothing of shape.
The served output is the normalised geometric mean of the two heads' probabilities (the softmax
of their averaged logits), so either head can veto a class the other finds likely. Each head is
trained on its own loss (:func:`training_view`), so neither learns to lean on the other. Chosen by
cross-validation over DS1 records only (``ml.lab.train --protocol ds1-cv``; see the model card).
"""

import keras
from keras import layers

LAST_CONV = "last_conv"  # the deepest feature map (for Grad-CAM-style inspection)
MORPHOLOGY_LOGITS = "morphology_logits"
RHYTHM_LOGITS = "rhythm_logits"
_LOG_FLOOR = 1e-3  # RR features are clipped to [0, 5]; the floor keeps log finite at 0
# The rhythm head is a linear model trained with the CNN's optimiser and learning rate; scaling
# its inputs by this gain multiplies its effective learning rate alone, so it converges in a
# few epochs instead of still learning when the CNN has finished (and steering checkpointing).
_RHYTHM_GAIN = 8.0


@keras.saving.register_keras_serializable(package="ecg_portal")
class LogFeatures(layers.Layer):
    """Return gain * [log(x + 1e-3), 1]: ratios of RR intervals enter the rhythm head on a log
    scale, beside a constant input that stands for the head's bias (so the gain applies to it too).
    """

    def __init__(self, gain=_RHYTHM_GAIN, **kwargs):
        super().__init__(**kwargs)
        self.gain = float(gain)

    def call(self, x):
        logs = keras.ops.log(keras.ops.maximum(x, 0.0) + _LOG_FLOOR)
        ones = keras.ops.ones_like(logs[:, :1])
        return self.gain * keras.ops.concatenate([logs, ones], axis=-1)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


def build_model(image_shape, n_context, n_classes, *, image_noise=0.0, image_dropout=0.25,
                rhythm_head=True, rhythm_weight=0.5):
    """Return an uncompiled Keras functional model ``{image, context} -> class probabilities``.

    ``image_noise`` (std of Gaussian noise added to the image while training only) and
    ``image_dropout`` regularise the image branch, which is the part that can memorise the
    training patients' beat shapes. ``rhythm_head`` adds the linear head on log RR features
    (signal models); the single-beat image model has no rhythm and is built without it.
    ``rhythm_weight`` w weighs the heads' logits, (1 - w) * CNN + w * rhythm: the output is
    proportional to p_cnn ** (1 - w) * p_rhythm ** w (0.5: the geometric mean).
    """
    image = keras.Input(shape=image_shape, name="image")
    context = keras.Input(shape=(n_context,), name="context")

    x = image
    if image_noise:
        x = layers.GaussianNoise(image_noise, name="image_noise")(x)
    # Strided convolutions instead of conv + pooling, and no batch norm: half the CPU cost per
    # epoch on this 2-core machine for the same accuracy in our trials.
    for i, filters in enumerate((16, 32, 32)):
        name = LAST_CONV if i == 2 else f"conv{i + 1}"
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name=name)(x)
    x = layers.Flatten(name="flatten")(x)  # keep where in time/frequency the energy is
    x = layers.Dropout(image_dropout, name="drop_image")(x)
    x = layers.Dense(48, activation="relu", name="image_dense")(x)

    c = layers.Dense(16, activation="relu", name="context_dense")(context)
    h = layers.Concatenate(name="merge")([x, c])
    h = layers.Dense(48, activation="relu", name="head")(h)
    h = layers.Dropout(0.2, name="drop_head")(h)
    if not rhythm_head:
        out = layers.Dense(n_classes, activation="softmax", name="probabilities")(h)
        return keras.Model({"image": image, "context": context}, out, name="ecg_beat_cnn")
    z_morph = layers.Dense(n_classes, name=MORPHOLOGY_LOGITS)(h)
    z_rhythm = layers.Dense(n_classes, use_bias=False, kernel_initializer="zeros",
                            name=RHYTHM_LOGITS)(
        LogFeatures(name="log_rr")(context))
    if rhythm_weight == 0.5:
        z = layers.Average(name="mean_logits")([z_morph, z_rhythm])
    else:
        z = layers.Add(name="mean_logits")([
            layers.Rescaling(1.0 - rhythm_weight, name="morphology_weight")(z_morph),
            layers.Rescaling(rhythm_weight, name="rhythm_weight")(z_rhythm)])
    out = layers.Activation("softmax", name="probabilities")(z)
    return keras.Model({"image": image, "context": context}, out, name="ecg_beat_cnn")


def has_rhythm_head(model):
    """Return whether ``model`` was built with the linear rhythm head."""
    return any(layer.name == RHYTHM_LOGITS for layer in model.layers)


def training_view(model):
    """Return a model sharing ``model``'s weights whose outputs are each head's own softmax,
    ``{"morphology": ..., "rhythm": ...}``, so each head is fitted on its own loss."""
    outputs = {
        "morphology": layers.Activation("softmax", name="morphology")(
            model.get_layer(MORPHOLOGY_LOGITS).output),
        "rhythm": layers.Activation("softmax", name="rhythm")(
            model.get_layer(RHYTHM_LOGITS).output),
    }
    return keras.Model(model.input, outputs, name="ecg_beat_cnn_training")
