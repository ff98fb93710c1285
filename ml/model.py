"""The beat classifier: a small CNN over the beat's time-frequency image plus its rhythm context."""

LAST_CONV = "last_conv"  # the deepest feature map (for Grad-CAM-style inspection)


def build_model(image_shape, n_context, n_classes, *, image_noise=0.0, image_dropout=0.25):
    """Return an uncompiled Keras functional model ``{image, context} -> class probabilities``.

    ``image_noise`` (std of Gaussian noise added to the image while training only) and
    ``image_dropout`` regularise the image branch, which is the part that can memorise the
    training patients' beat shapes.
    """
    import keras
    from keras import layers

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
    out = layers.Dense(n_classes, activation="softmax", name="probabilities")(h)
    return keras.Model({"image": image, "context": context}, out, name="ecg_beat_cnn")
