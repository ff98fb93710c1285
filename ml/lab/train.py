"""Train the beat classifier for one evaluation protocol.

    python -m ml.lab.train --data ../shared/data/mitdb --protocol serve --epochs 6 --seed 1 --out .cache/runs/serve

Every protocol but the leaky comparison keeps whole patients apart (``ml.lab.dataset``; SVDB is read
from ``--svdb``, default ``svdb`` beside ``--data``):

* ``grouped-cv``: the selection protocol. 4 folds of whole DS1 + SVDB records; each fold's
  model trains on the other 3 for fixed epochs; pooled out-of-fold AAMI figures; score = mean of
  S and V F1. Designs are chosen here (and the calibration temperature is fitted on its
  out-of-fold probabilities, ``ml.lab.calibrate``). ``--train-on mitdb`` scores the design without
  SVDB in training on the same held-out records. DS2 is never touched.
* ``ds1-svdb-to-ds2``: train DS1 + all SVDB, test DS2 (AAMI; the headline, a test only);
  ``--install-inter`` keeps it as ``ml/models/ecg_cnn_ds1_aami.keras``.
* ``mitdb-to-svdb``: the served 8-class recipe trained on all MIT-BIH, tested on all SVDB
  (leave-one-database-out).
* ``svdb-half``: the served recipe on all MIT-BIH + half of the SVDB patients, tested on the
  other half (31 records neither this model nor any earlier served model saw): served classes
  and training mix on new patients; the calibration temperature is fitted on its held-out beats.
* ``serve``: the shipped model, 8 classes, trained on every MIT-BIH and SVDB patient for fixed
  epochs (no test figure of its own: its recipe is measured by the protocols above); installed
  as ``ml/models/ecg_cnn.keras`` with ``.sha256`` and ``.json`` (unless ``--no-install``).
* ``intra-patient`` (8 classes, stratified 80/20 beat split: leaky, for comparison with the
  literature), ``inter-patient`` (DS1 -> DS2) and ``ds1-cv`` (4 folds inside DS1): the earlier
  protocols, kept for the experiment log.

One :class:`TrainConfig` carries a run's settings (``train(config)``).

``image-beats`` trains the separate single-beat-image model (``ml.lab.image_dataset``: the classes
of ``ml.classes.IMAGE_CODES``, each plot labelled by what its file number names, so the "Premature
Atrial Contraction" folder's paced plots are ``P``) from the image folders, split by source recording (``--image-split recording``: DS2 and paced
record 217 are the test, a few DS1 and paced records the validation that checkpoints) or, the
served recipe, at random by file (``--image-split file``: within patients), with ``--plots-from``
adding plots rendered in the set's style (``ml.lab.beat_plots``) from the training-side records of
WFDB folders (and, scored apart, from their test-side records; ``--no-train-plots``: those only).
``make train`` runs the served recipe; ``make select`` the recording split, with ``--no-install``:

    python -m ml.lab.train --protocol image-beats --data ../shared/data/ecg-images/train --image-split file --plots-from ../shared/data/mitdb,../shared/data/svdb --no-train-plots --epochs 20 --seed 1 --batch-size 128 --out .cache/runs/image-beats

It scores the installed image model on the same held-out recordings (reported, never a choice)
and installs the new one as ``ml/models/ecg_cnn_image.keras`` with its ``.sha256`` and ``.json``
(which records its class codes in output order, read by ``ml.store.image_codes``) unless
``--no-install``.

Class imbalance: class weights proportional to 1/sqrt(class frequency), normalised to a mean of 1
over the training beats. Full inverse-frequency weights would multiply the rarest classes (E: 85
training beats vs 60,000 N) by ~700 and cost many false positives; no weighting lets the head
ignore them. The square root sits between, needs no duplicated beats (unlike oversampling) and
leaves the loss a plain cross-entropy (unlike focal loss, one less hyper-parameter to tune).

Both signal models have two heads (``ml.model``): the CNN and a linear rhythm head, each fitted
on its own loss with the class weights as sample weights. Inter-patient settings: ``--loss focal``
(focal loss on the CNN head), ``--weight-power`` (class weights ~ frequency**-p),
``--augment-amplitude S`` (random per-beat amplitude), ``--no-rhythm-head`` (the earlier CNN-only
design). ``--ensemble-of RUN1,RUN2,...`` averages the softmax of finished runs of one protocol into
one model (no training): a ``serve`` ensemble is installed as the shipped model, an inter-patient
one is kept as ``ml/models/ecg_cnn_ds1_aami.keras`` with ``--install-inter``.

Model selection for the inter-patient protocol never looks at DS2: ``--protocol ds1-cv`` scores a
design by record-wise 4-fold cross-validation inside DS1 (see :func:`ds1_cross_validation`).

Writes to ``--out``: ``best.keras`` (lowest validation loss, or the last epoch of a fixed-epoch
protocol), ``history.json``, ``metrics.json`` (validation and test figures), ``test_probs.npz``
(held-out probabilities), ``curves.png`` and ``confusion.png``.
"""

import argparse
import json
from dataclasses import dataclass
import os
import sys
import time
from pathlib import Path

import numpy as np

from ml import lab
from ml import preprocess, store
from ml.lab import dataset, metrics

MODELS_DIR = lab.MODELS_DIR
SHIPPED = MODELS_DIR / "ecg_cnn.keras"
INTER_MODEL = MODELS_DIR / "ecg_cnn_ds1_aami.keras"
IMAGE_MODEL = MODELS_DIR / "ecg_cnn_image.keras"


def class_weights(y, n_classes, power=0.5):
    """Return {class: weight} with weight ~ frequency**-power, mean 1 over the samples."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1) ** -power, 1.0)
    w /= (w[y]).mean()
    return {i: float(w[i]) for i in range(n_classes)}


def _inputs(beats):
    return {"image": beats.images, "context": beats.context}



def install_copy(src, dst):
    """Copy a model file to ``dst`` and write its ``.sha256`` beside it; return the digest."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(Path(src).read_bytes())
    digest = store.sha256_of(dst)
    dst.with_suffix(".sha256").write_text(f"{digest}  {dst.name}\n")
    return digest


def install_model(src, *, protocol, seed, epochs, metrics_path):
    """Copy the trained model to ``ml/models`` and write its checksum and metadata."""
    digest = install_copy(src, SHIPPED)
    meta = {
        "sha256": digest,
        "protocol": protocol,
        "seed": seed,
        "epochs": epochs,
        "classes": list(dataset.classes.CODES),
        "model_fs_hz": preprocess.MODEL_FS,
        "image_shape": list(preprocess.IMAGE_SHAPE),
        "context": list(preprocess.CONTEXT_NAMES),
    }
    facts = json.loads(Path(metrics_path).read_text())
    meta.update({k: facts[k] for k in ("n_train", "loss", "weight_power", "normal_fraction",
                                       "rhythm_weight", "params") if k in facts})
    # Only where the run held beats out (intra-patient-style serve ensembles of earlier cards);
    # the serve protocol trains on every patient and has no test figure.
    meta["test_metrics"] = facts.get("test")
    SHIPPED.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return digest


def _macro_recall(rep):
    """Return the mean sensitivity over the classes present in a ``metrics.report``."""
    values = [v["sensitivity"] for v in rep["per_class"].values() if v["support"]]
    return float(np.mean(values)) if values else None


def _image_held_out(model, installed_path, test_set, names, image_set_recordings):
    """Return the image-beats test figures of ``model`` and of the installed image model on the
    same held-out recordings: the image set's plots (``test``), rendered plots (``test_rendered``)
    and those of them from recordings with no plot in the image set (``test_unseen``: held out
    from any model trained on the image set, whatever its split); ``installed``: the installed
    model's figures, or None without one."""
    rendered = test_set.rendered
    unseen = rendered & ~np.isin(test_set.recording, list(image_set_recordings))
    parts = {"test": test_set.subset(np.flatnonzero(~rendered)),
             "test_rendered": test_set.subset(np.flatnonzero(rendered)),
             "test_unseen": test_set.subset(np.flatnonzero(unseen))}
    installed = store.keras_loader(installed_path) if Path(installed_path).exists() else None
    # The installed model's outputs are the classes its .json records (older ones: the 6 folder
    # codes, its "A" learned from paced beats): scored against these labels as it answers.
    installed_codes = store.image_codes(installed_path) if installed is not None else None
    out = {"installed": None if installed is None else
           {"sha256": store.sha256_of(installed_path), "classes": list(installed_codes)}}
    for key, part in parts.items():
        for m, codes, into in ((model, None, out), (installed, installed_codes, out["installed"])):
            if m is None or not len(part):
                continue
            rep = _report(m, part, names, codes)
            rep["macro_recall"] = _macro_recall(rep)
            rep["per_recording"] = _per_recording_accuracy(m, part, names, codes)
            into[key] = rep
    return out


def _per_recording_accuracy(model, beats, names, codes=None):
    right = _predicted(model, beats, names, codes) == beats.y
    return {r: [int(right[beats.recording == r].sum()), int((beats.recording == r).sum())]
            for r in sorted(set(beats.recording))}


def _install_image_model(best, result, cfg, names):
    """Install the image model this run trained, with its held-out figures beside it.

    Whatever those figures: they are test figures (the image set's DS2 recordings, and rendered
    plots of DS2 patients), and a test set reports, it never chooses. Which recipe is served is
    the Makefile's choice (``make train``); an experiment runs with ``--no-install``.
    """
    digest = install_copy(best, IMAGE_MODEL)
    facts = {k: result[k] for k in ("protocol", "seed", "epochs", "batch_size", "best_epoch",
                                    "params")}
    # The output order: ml.store.image_codes reads it, so the served labels are the trained ones.
    facts["classes"] = list(names)
    facts["split"] = ("by file, within patients (ml.lab.image_dataset.split_by_file)"
                      if cfg.image_split == "file" else "by recording (ml.lab.image_dataset.split)")
    facts["plots_from"] = [Path(p).name for p in cfg.plots_from]
    for part in ("test", "test_rendered", "test_unseen"):
        if result.get(part):
            facts[part] = {k: result[part][k] for k in ("n", "accuracy", "macro_recall",
                                                         "macro_f1")}
    IMAGE_MODEL.with_suffix(".json").write_text(
        json.dumps({"sha256": digest, **facts}, indent=1) + "\n")
    print(f"installed {IMAGE_MODEL} sha256 {digest}", flush=True)
    return digest


def _amplitude_batch(images, factors):
    """Return beat images as if each beat's amplitude were multiplied by ``factors``.

    Channel 0 is log(1 + 8|W|) and |W| is linear in amplitude, so the rescaled scalogram is
    log(1 + a * expm1(image)); channel 1 (minus the record's median beat image, which is
    unchanged) moves by the same amount.
    """
    scal = images[..., 0]
    new = np.log1p(factors[:, None, None] * np.expm1(scal))
    out = images.copy()
    out[..., 0] = new
    if images.shape[-1] > 1:
        out[..., 1] = images[..., 1] + (new - scal)
    return out


def _augmented_sequence_class():
    import keras

    class AmplitudeAugmented(keras.utils.PyDataset):
        """Shuffled class-weighted batches with a fresh random amplitude per beat each epoch."""

        def __init__(self, beats, targets, sample_weights, batch_size, spread, seed):
            super().__init__()
            self.beats, self.batch_size, self.spread = beats, batch_size, spread
            self.targets, self.sample_weights = targets, sample_weights
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(beats))

        def __len__(self):
            return int(np.ceil(len(self.beats) / self.batch_size))

        def __getitem__(self, i):
            idx = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])
            log_spread = np.log1p(self.spread)
            factors = np.exp(self.rng.uniform(-log_spread, log_spread, len(idx)))
            images = _amplitude_batch(self.beats.images[idx], factors.astype(np.float32))
            y = self.beats.y[idx]
            return ({"image": images, "context": self.beats.context[idx]}, self.targets(y),
                    self.sample_weights(y))

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(self.beats))

    return AmplitudeAugmented


def _AmplitudeAugmented(*args):  # noqa: N802 (keras is imported lazily)
    return _augmented_sequence_class()(*args)


def _fit_setup(model, train_set, val_set, k, weights, *, lr, loss, batch_size, seed,
               augment_amplitude=0.0):
    """Return (model to fit, its ``fit`` arguments, validation data), compiled.

    A model with the rhythm head is fitted through ``ml.model.training_view``: the morphology
    head on ``loss`` (cross-entropy or focal), the rhythm head on cross-entropy, each with the
    class weights as sample weights. The served model shares the weights.
    """
    import keras

    from ml.model import has_rhythm_head, training_view

    morph_loss = (keras.losses.CategoricalFocalCrossentropy(gamma=2.0, alpha=1.0)
                  if loss == "focal" else keras.losses.CategoricalCrossentropy())
    w = np.array([weights[c] for c in range(k)], dtype=np.float32)
    if has_rhythm_head(model):
        fitted = training_view(model)
        fitted.compile(optimizer=keras.optimizers.Adam(lr),
                       loss={"morphology": morph_loss,
                             "rhythm": keras.losses.CategoricalCrossentropy()},
                       metrics={"morphology": [keras.metrics.CategoricalAccuracy(name="accuracy")],
                                "rhythm": [keras.metrics.CategoricalAccuracy(name="accuracy")]})

        def targets(y):
            onehot = keras.utils.to_categorical(y, k)
            return {"morphology": onehot, "rhythm": onehot}

        def sample_weights(y):
            return {"morphology": w[y], "rhythm": w[y]}
    else:
        fitted = model
        fitted.compile(optimizer=keras.optimizers.Adam(lr), loss=morph_loss,
                       metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])

        def targets(y):
            return keras.utils.to_categorical(y, k)

        def sample_weights(y):
            return w[y]

    if augment_amplitude:
        fit_data = dict(x=_AmplitudeAugmented(train_set, targets, sample_weights, batch_size,
                                              augment_amplitude, seed))
    else:
        fit_data = dict(x=_inputs(train_set), y=targets(train_set.y), batch_size=batch_size,
                        sample_weight=sample_weights(train_set.y), shuffle=True)
    val_data = None if val_set is None else (_inputs(val_set), targets(val_set.y))
    return fitted, fit_data, val_data


def _keep_best(served, path):
    """Return a callback saving the served model (not the training view) whenever the
    validation loss improves."""
    import keras

    best = [np.inf]

    def on_epoch_end(epoch, logs):
        if logs.get("val_loss", np.inf) < best[0]:
            best[0] = logs["val_loss"]
            served.save(path)

    return keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)


def _predicted(model, beats, names, codes=None):
    """Return the classes ``model`` predicts for ``beats`` as indices into ``names``; ``codes``:
    the model's output codes where they differ from ``names`` (an installed image model of other
    classes: each output maps to the same code of ``names``)."""
    pred = model.predict(_inputs(beats), batch_size=2048, verbose=0).argmax(axis=1)
    if codes is None or tuple(codes) == tuple(names):
        return pred
    return np.array([list(names).index(c) for c in codes], dtype=np.int64)[pred]


def _report(model, beats, names, codes=None):
    """Return the metrics report of ``model`` (output ``codes``, default ``names``) on ``beats``."""
    pred = _predicted(model, beats, names, codes)
    return metrics.report(metrics.confusion(beats.y, pred, len(names)), names)


def _history(hist):
    """Return the Keras history as plain floats; for two-head models the accuracy curves are the
    morphology head's (the loss is the sum of both heads' losses)."""
    history = {key: [float(v) for v in vals] for key, vals in hist.history.items()}
    for split in ("", "val_"):
        if f"{split}morphology_accuracy" in history:
            history[f"{split}accuracy"] = history[f"{split}morphology_accuracy"]
    return history


def install_inter(run):
    """Keep a run's inter-patient model as ``ml/models/ecg_cnn_ds1_aami.keras`` with its
    checksum and a ``.json`` naming the run and its settings for ``ml.lab.evaluate``."""
    digest = install_copy(run / "best.keras", INTER_MODEL)
    facts = json.loads((run / "metrics.json").read_text())
    meta = {"sha256": digest, "run": str(run),
            **{k: facts[k] for k in ("protocol", "seed", "seeds", "ensemble_of", "loss",
                                     "augment_amplitude", "normal_fraction",
                                     "weight_power", "epochs", "rhythm_weight", "all_ds1")
               if k in facts}}
    INTER_MODEL.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return digest


@dataclass
class TrainConfig:
    """Everything one ``ml.lab.train`` run needs (the CLI builds one; tests and scripts may too).

    Inter-patient experiments only (the served model keeps the defaults unless the Makefile says
    otherwise): ``loss="focal"`` a categorical focal loss (gamma 2) on the CNN head; ``all_ds1``
    fits on all 22 DS1 records for exactly ``epochs`` epochs and keeps the last one (the recipe
    ``ds1-cv`` scores); ``augment_amplitude=s`` rescales each training beat's amplitude by a random
    factor in [1/(1+s), 1+s] every epoch (exactly, in the scalogram domain: see
    :func:`_amplitude_batch`); ``normal_fraction`` keeps that random fraction of the training
    side's normal beats (the class weights are computed after, so they rebalance it).
    ``svdb`` is the SVDB folder (default: ``svdb`` beside ``data``).
    """

    data: str
    protocol: str
    epochs: int = 20
    seed: int = 1
    out: str = ".cache/runs/run"
    batch_size: int = 256
    lr: float = 2e-3
    records: tuple = None
    cache_dir: str = str(dataset.DEFAULT_CACHE_DIR)
    install: bool = True
    verbose: int = 2
    weight_power: float = 0.5
    image_noise: float = 0.0
    image_dropout: float = 0.25
    loss: str = "ce"
    augment_amplitude: float = 0.0
    rhythm_head: bool = True
    rhythm_weight: float = 0.5
    all_ds1: bool = False
    svdb: str = None
    normal_fraction: float = 1.0
    noise: str = None
    noise_fraction: float = 0.5
    plots_from: tuple = ()
    train_plots: bool = True
    plot_variants: int = 0
    image_split: str = "recording"  # image-beats: "recording" or "file" (the installed model's)

    def svdb_dir(self):
        return Path(self.svdb) if self.svdb else Path(self.data).parent / "svdb"


# Protocols trained for a fixed number of epochs on all their training records (no checkpoint,
# so no held-out beat steers training): the recipe the grouped cross-validation scores.
FIXED_EPOCHS = ("serve", "mitdb-to-svdb", "ds1-svdb-to-ds2", "svdb-half")
# The 8 classes grouped as AAMI for figures across databases (paced beats: Q).
EIGHT_TO_AAMI = ("N", "N", "N", "S", "V", "Q", "V", "V")
AAMI_Q = ("N", "S", "V", "Q")


def aami_report(y8, pred8):
    """Return the AAMI N/S/V/Q report of 8-class labels and predictions (``EIGHT_TO_AAMI``)."""
    to = np.array([AAMI_Q.index(a) for a in EIGHT_TO_AAMI])
    return metrics.report(metrics.confusion(to[y8], to[pred8], len(AAMI_Q)), AAMI_Q)


def _keep_normal_fraction(beats, fraction, seed):
    """Return ``beats`` with a random ``fraction`` of class 0 (normal) kept, all others kept."""
    if fraction >= 1.0:
        return beats
    rng = np.random.default_rng(seed)
    keep = (beats.y != 0) | (rng.random(len(beats)) < fraction)
    return beats.subset(np.flatnonzero(keep))


def protocol_data(cfg):
    """Return (train, validation or None, test or None, class names, input shapes) for ``cfg``."""
    if cfg.protocol == "image-beats":
        from ml.lab import image_dataset

        entries, facts, arrays, splits = image_dataset.load_splits(
            cfg.data, cache_dir=cfg.cache_dir, plots_from=cfg.plots_from,
            train_plots=cfg.train_plots, plot_variants=cfg.plot_variants,
            split_by=cfg.image_split)
        facts = {**facts, "split": image_dataset.split_facts(entries, splits)}
        sets = [image_dataset.beat_set(entries, arrays, idx) for idx in splits]
        return (*sets, image_dataset.IMAGE_CODES,
                (preprocess.BEAT_IMAGE_SHAPE, preprocess.N_TRACE_CONTEXT), facts)
    shapes = (preprocess.IMAGE_SHAPE, preprocess.N_CONTEXT)
    mit = dataset.load_all_beats(
        cfg.data, records=tuple(cfg.records) if cfg.records else dataset.ALL_RECORDS,
        cache_dir=cfg.cache_dir)
    if cfg.protocol in FIXED_EPOCHS:
        svdb = dataset.load_all_beats(cfg.svdb_dir(), records=None, cache_dir=cfg.cache_dir)
        if cfg.noise:  # training side only: the test database stays as recorded
            noisy_mit = dataset.load_noisy_beats(cfg.data, cfg.noise, cache_dir=cfg.cache_dir)
            noisy_svdb = dataset.load_noisy_beats(cfg.svdb_dir(), cfg.noise, records=None,
                                                  cache_dir=cfg.cache_dir)
            mit_fit = dataset.mix_noisy(mit, noisy_mit, cfg.noise_fraction, cfg.seed)
            svdb_fit = dataset.mix_noisy(svdb, noisy_svdb, cfg.noise_fraction, cfg.seed + 1)
        else:
            mit_fit, svdb_fit = mit, svdb
        both = dataset.combine(mit_fit, svdb_fit)
        svdb_records = dataset.database_records(cfg.svdb_dir())
        if cfg.protocol == "serve":  # everything we have: all MIT-BIH and all SVDB patients
            train_set, test_set = dataset.eight_class_beats(both), None
        elif cfg.protocol == "svdb-half":
            # The served model's data minus half of the SVDB patients (those of grouped folds 1
            # and 3), who are the test: served classes, served training mix, unseen patients.
            folds = dataset.grouped_folds(both, dataset.DS1 + svdb_records)
            held = [r for f in (folds[0], folds[2]) for r in f if r in svdb_records]
            fit = [r for f in (folds[1], folds[3]) for r in f if r in svdb_records]
            train_set = dataset.eight_class_beats(both, list(dataset.ALL_RECORDS) + fit)
            test_set = dataset.eight_class_beats(svdb, held)
        elif cfg.protocol == "mitdb-to-svdb":
            train_set, test_set = (dataset.eight_class_beats(mit_fit),
                                   dataset.eight_class_beats(svdb))
        else:
            train_set = dataset.aami_beats(both, dataset.DS1 + svdb_records)
            test_set = dataset.aami_beats(mit, dataset.DS2)
        return train_set, None, test_set, train_set.class_names, shapes, None
    train_set, val_set, test_set = dataset.protocol_splits(mit, cfg.protocol, cfg.seed)
    if cfg.all_ds1 and cfg.protocol == "inter-patient":
        train_set = dataset.aami_beats(mit, dataset.DS1)
    return train_set, val_set, test_set, train_set.class_names, shapes, None


def train(config=None, **kwargs):
    """Train one protocol from a :class:`TrainConfig` (or its fields as keywords) and return its
    metrics dict (also written to ``out/metrics.json``)."""
    cfg = config if config is not None else TrainConfig(**kwargs)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from ml.model import build_model

    keras.utils.set_random_seed(cfg.seed)
    protocol = cfg.protocol
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    train_set, val_set, test_set, names, shapes, facts = protocol_data(cfg)
    train_set = _keep_normal_fraction(train_set, cfg.normal_fraction, cfg.seed)
    fixed = cfg.all_ds1 or protocol in FIXED_EPOCHS
    if fixed and protocol in FIXED_EPOCHS:
        val_set = None
    k = len(names)
    print(f"[{protocol}] beats: train {len(train_set)}, validation "
          f"{len(val_set) if val_set is not None else 0}, test "
          f"{len(test_set) if test_set is not None else 0}; classes {names}; prepared in "
          f"{time.time() - t0:.1f} s", flush=True)

    model = build_model(*shapes, k, image_noise=cfg.image_noise, image_dropout=cfg.image_dropout,
                        rhythm_head=cfg.rhythm_head and protocol != "image-beats",
                        rhythm_weight=cfg.rhythm_weight)
    weights = class_weights(train_set.y, k, cfg.weight_power)
    print("class weights:", {names[i]: round(w, 2) for i, w in weights.items()}, flush=True)
    best = out / "best.keras"
    fitted, fit_data, val_data = _fit_setup(model, train_set, val_set, k, weights, lr=cfg.lr,
                                            loss=cfg.loss, batch_size=cfg.batch_size,
                                            seed=cfg.seed, augment_amplitude=cfg.augment_amplitude)
    if fixed:  # fixed epochs, as cross-validated: no checkpoint, no schedule on val loss
        hist = fitted.fit(**fit_data, validation_data=val_data, epochs=cfg.epochs,
                          verbose=cfg.verbose)
        model.save(best)
    else:
        callbacks = [
            _keep_best(model, best),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2,
                                              min_lr=1e-5),
        ]
        hist = fitted.fit(**fit_data, validation_data=val_data, epochs=cfg.epochs,
                          callbacks=callbacks, verbose=cfg.verbose)
    history = _history(hist)
    (out / "history.json").write_text(json.dumps(history, indent=1))

    model = store.keras_loader(best)
    result = {
        "protocol": protocol,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "best_epoch": cfg.epochs if fixed else int(np.argmin(history["val_loss"]) + 1),
        "all_ds1": cfg.all_ds1,
        "n_train": len(train_set),
        "n_validation": len(val_set) if val_set is not None else 0,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "weight_power": cfg.weight_power,
        "image_noise": cfg.image_noise,
        "image_dropout": cfg.image_dropout,
        "loss": cfg.loss,
        "augment_amplitude": cfg.augment_amplitude,
        "normal_fraction": cfg.normal_fraction,
        "noise_fraction": cfg.noise_fraction if cfg.noise else 0.0,
        "rhythm_head": cfg.rhythm_head and protocol != "image-beats",
        "rhythm_weight": cfg.rhythm_weight,
        # With --all-ds1 the validation records are training records: no figure on them.
        "validation": None if (cfg.all_ds1 or val_set is None) else _report(model, val_set, names),
        "class_weights": {names[i]: w for i, w in weights.items()},
        "params": int(model.count_params()),
        "test": None,
    }
    metrics.plot_history(history, out / "curves.png", f"{protocol}: loss and accuracy per epoch")
    if test_set is not None:
        probs = model.predict(_inputs(test_set), batch_size=2048, verbose=0)
        pred = probs.argmax(axis=1)
        cm = metrics.confusion(test_set.y, pred, k)
        result["test"] = metrics.report(cm, names)
        if k == len(EIGHT_TO_AAMI):
            result["test_aami"] = aami_report(test_set.y, pred)
        # Held-out probabilities, for calibration and per-record figures (not in the repository).
        np.savez_compressed(out / "test_probs.npz", probs=probs.astype(np.float32),
                            y=test_set.y, record=test_set.record)
        metrics.plot_confusion(cm, names, out / "confusion.png",
                               f"{protocol}: held-out test beats (n={len(test_set)})")
    result["train_seconds"] = round(time.time() - t0, 1)
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    if protocol == "serve" and cfg.install:
        digest = install_model(best, protocol=protocol, seed=cfg.seed, epochs=cfg.epochs,
                               metrics_path=out / "metrics.json")
        print(f"installed {SHIPPED} sha256 {digest}", flush=True)
    if protocol == "image-beats":
        result["data"] = facts
        image_set = {r for side in facts["split"].values() for r in side["recordings"]}
        result.update(_image_held_out(model, IMAGE_MODEL, test_set, names, image_set))
        (out / "metrics.json").write_text(json.dumps(result, indent=1))
        if cfg.install:
            _install_image_model(best, result, cfg, names)
    for key in ("test", "test_aami"):
        rep = result.get(key)
        if rep:
            print(f"[{protocol}] {key} accuracy {rep['accuracy']:.4f}; " + ", ".join(
                f"{c} F1 {v['f1']:.3f}" for c, v in rep["per_class"].items()
                if v["f1"] is not None), flush=True)
    return result


def ensemble(*, data, runs, out, cache_dir=dataset.DEFAULT_CACHE_DIR):
    """Average the softmax outputs of the models in ``runs`` (folders of ``ml.lab.train`` runs of one
    protocol, ``serve`` or ``inter-patient``, with the same settings but different seeds) into one
    Keras model, and score it like a run: ``out/best.keras`` and ``out/metrics.json`` (the
    protocol's test beats, and validation beats where every member held them out). Seeds disagree most on the rare
    classes of unseen patients; their average is steadier than any one of them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    runs = [Path(r) for r in runs]
    facts = [json.loads((r / "metrics.json").read_text()) for r in runs]
    protocols = {f["protocol"] for f in facts}
    if len(protocols) != 1 or not protocols <= {"inter-patient", "serve"}:
        raise ValueError("an ensemble needs runs of one protocol, serve or inter-patient")
    protocol = protocols.pop()
    members = [store.keras_loader(r / "best.keras") for r in runs]
    inputs = {t.name.split(":")[0]: keras.Input(shape=tuple(t.shape[1:]), name=t.name.split(":")[0])
              for t in members[0].inputs}
    for i, m in enumerate(members):
        m.name = f"member_{i + 1}"
    avg = keras.layers.Average(name="probabilities")([m(inputs) for m in members])
    model = keras.Model(inputs, avg, name="ecg_beat_cnn_ensemble")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "best.keras")

    arrays = dataset.load_all_beats(data, cache_dir=cache_dir)
    _, val_set, test_set = dataset.protocol_splits(arrays, protocol, facts[0]["seed"])
    names = test_set.class_names
    result = {**{k: facts[0][k] for k in ("protocol", "epochs", "weight_power", "image_noise",
                                          "image_dropout", "loss", "rhythm_head",
                                          "rhythm_weight", "all_ds1",
                                          "augment_amplitude") if k in facts[0]},
              "ensemble_of": [str(r) for r in runs], "seeds": [f["seed"] for f in facts],
              "best_epoch": [f["best_epoch"] for f in facts],
              "n_train": facts[0]["n_train"], "n_validation": facts[0]["n_validation"],
              "params": int(model.count_params())}
    # Validation figures only where every member held those beats out: the inter-patient
    # validation records without --all-ds1 (serve members each hold out a different 10 %).
    held_out = protocol == "inter-patient" and not facts[0].get("all_ds1")
    result["validation"] = _report(model, val_set, names) if held_out else None
    result["test"] = _report(model, test_set, names)
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    rep = result["test"]
    print(f"[{protocol}: ensemble of {len(runs)}] test accuracy {rep['accuracy']:.4f}; " + ", ".join(
        f"{c} F1 {v['f1']:.3f}" for c, v in rep["per_class"].items() if v["f1"] is not None),
        flush=True)
    return result


def ds1_cross_validation(*, data, epochs, seed, out, batch_size=256, lr=2e-3, weight_power=0.75,
                         loss="focal", rhythm_head=True, rhythm_weight=0.5,
                         folds=dataset.DS1_FOLDS, cache_dir=dataset.DEFAULT_CACHE_DIR,
                         svdb=None, train_on=("mitdb", "svdb"), normal_fraction=1.0,
                         protocol="ds1-cv", noise=None, noise_fraction=0.5):
    """Score one inter-patient design by record-wise cross-validation (whole patients per fold).

    ``ds1-cv``: 4 folds inside DS1 (``dataset.DS1_FOLDS``). ``grouped-cv`` (``svdb`` given): 4
    folds of DS1 + SVDB records (``dataset.grouped_folds``); ``train_on=("mitdb",)`` trains each
    fold on the other folds' MIT-BIH records only (the design without SVDB), scored on the same
    held-out records. Each fold's model trains on the other folds for a fixed number of ``epochs``
    (no checkpointing, so no beat of the held-out fold steers training); the out-of-fold
    predictions of all records are pooled into one AAMI confusion matrix and kept in
    ``out/oof_probs.npz`` (for calibration). The selection score is the mean of its S and V F1.
    DS2 is never touched.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from ml.model import build_model

    arrays = dataset.load_all_beats(data, records=tuple(sorted(r for f in folds for r in f))
                                    if svdb is None else dataset.ALL_RECORDS,
                                    cache_dir=cache_dir, progress=False)
    if svdb is not None:
        sv = dataset.load_all_beats(svdb, records=None, cache_dir=cache_dir, progress=False)
        arrays = dataset.combine(arrays, sv)
        folds = dataset.grouped_folds(arrays, dataset.DS1 + dataset.database_records(svdb))
    records = tuple(sorted(r for fold in folds for r in fold))
    train_arrays = arrays
    if noise is not None:  # training beats only; held-out beats stay as recorded
        noisy = dataset.load_noisy_beats(data, noise, records=dataset.ALL_RECORDS,
                                         cache_dir=cache_dir)
        if svdb is not None:
            noisy = dataset.combine(noisy, dataset.load_noisy_beats(svdb, noise, records=None,
                                                                    cache_dir=cache_dir))
        train_arrays = dataset.mix_noisy(arrays, noisy, noise_fraction, seed)
        del noisy

    def trainable(r):
        return ("svdb" if r >= dataset.SVDB_FIRST_RECORD else "mitdb") in train_on

    names, k = dataset.AAMI_CLASSES, len(dataset.AAMI_CLASSES)
    y_true, probs_all, rec_all, fold_facts = [], [], [], []
    t0 = time.time()
    for fold in folds:
        keras.utils.set_random_seed(seed)
        train_set = dataset.aami_beats(train_arrays, [r for r in records
                                                      if r not in fold and trainable(r)])
        train_set = _keep_normal_fraction(train_set, normal_fraction, seed)
        held = dataset.aami_beats(arrays, list(fold))
        model = build_model(preprocess.IMAGE_SHAPE, preprocess.N_CONTEXT, k,
                            rhythm_head=rhythm_head, rhythm_weight=rhythm_weight)
        weights = class_weights(train_set.y, k, weight_power)
        fitted, fit_data, _ = _fit_setup(model, train_set, None, k, weights, lr=lr, loss=loss,
                                         batch_size=batch_size, seed=seed)
        fitted.fit(**fit_data, epochs=epochs, verbose=0)
        probs = model.predict(_inputs(held), batch_size=4096, verbose=0)
        pred = probs.argmax(axis=1)
        rep = metrics.report(metrics.confusion(held.y, pred, k), names)
        fold_facts.append({"records": list(fold), "n": len(held), "n_train": len(train_set),
                           "S_sensitivity": rep["per_class"]["S"]["sensitivity"],
                           "accuracy": rep["accuracy"]})
        print(f"[{protocol}] fold {fold}: accuracy {rep['accuracy']:.4f}, S sensitivity "
              f"{rep['per_class']['S']['sensitivity']} ({time.time() - t0:.0f} s)", flush=True)
        y_true.append(held.y)
        probs_all.append(probs)
        rec_all.append(held.record)
    y, probs = np.concatenate(y_true), np.concatenate(probs_all)
    rep = metrics.report(metrics.confusion(y, probs.argmax(axis=1), k), names)
    score = (rep["per_class"]["S"]["f1"] + rep["per_class"]["V"]["f1"]) / 2
    result = {"protocol": protocol, "seed": seed, "epochs": epochs, "weight_power": weight_power,
              "loss": loss, "rhythm_head": rhythm_head, "rhythm_weight": rhythm_weight,
              "train_on": list(train_on), "normal_fraction": normal_fraction,
              "noise_fraction": noise_fraction if noise is not None else 0.0,
              "folds": fold_facts, "cv": rep,
              "selection_score": score, "train_seconds": round(time.time() - t0, 1)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    np.savez_compressed(out / "oof_probs.npz", probs=probs.astype(np.float32), y=y,
                        record=np.concatenate(rec_all))
    print(f"[{protocol}] pooled accuracy {rep['accuracy']:.4f}; S F1 {rep['per_class']['S']['f1']:.3f}"
          f", V F1 {rep['per_class']['V']['f1']:.3f}; selection score {score:.3f}", flush=True)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with the MIT-BIH WFDB files (image-beats: "
                   "the ecg-images/train folder with one sub-folder per class)")
    p.add_argument("--protocol", required=True,
                   choices=["intra-patient", "inter-patient", "serve", "image-beats", "ds1-cv",
                            "grouped-cv", "mitdb-to-svdb", "ds1-svdb-to-ds2", "svdb-half"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-power", type=float, default=0.5,
                   help="class weight = frequency**-power (0: none, 0.5: default, 1: inverse)")
    p.add_argument("--image-noise", type=float, default=0.0,
                   help="std of Gaussian noise on the image while training (regularisation)")
    p.add_argument("--image-dropout", type=float, default=0.25)
    p.add_argument("--loss", choices=["ce", "focal"], default="ce")
    p.add_argument("--augment-amplitude", type=float, default=0.0,
                   help="random per-beat amplitude factor in [1/(1+s), 1+s] while training")
    p.add_argument("--no-rhythm-head", action="store_true",
                   help="build the CNN without the linear rhythm head (the earlier design)")
    p.add_argument("--rhythm-weight", type=float, default=0.5,
                   help="weight w of the rhythm head's logits against the CNN's (1 - w)")
    p.add_argument("--all-ds1", action="store_true",
                   help="inter-patient: fit on all 22 DS1 records for exactly --epochs epochs and "
                        "keep the last (the recipe --protocol ds1-cv scores)")
    p.add_argument("--svdb", help="SVDB folder (default: svdb beside --data)")
    p.add_argument("--normal-fraction", type=float, default=1.0,
                   help="keep this random fraction of the training side's normal beats")
    p.add_argument("--noise", help="nstdb-noise folder: train on beats with real baseline "
                   "wander and muscle noise added (6-24 dB SNR) in place of a random "
                   "--noise-fraction of the training beats")
    p.add_argument("--noise-fraction", type=float, default=0.5)
    p.add_argument("--plots-from",
                   help="image-beats: comma-separated WFDB folders (mitdb, svdb) whose training-side "
                        "records add rendered single-beat plots and whose test-side records add "
                        "held-out plots (scored apart)")
    p.add_argument("--plot-variants", type=int, default=0,
                   help="image-beats: draw each rendered training beat this many more times, "
                        "varied (stretch, gain, baseline ramp, noise)")
    p.add_argument("--image-split", choices=["recording", "file"], default="recording",
                   help="image-beats: whole recordings per side, or the image set's plots at "
                        "random (the installed model's within-patient recipe)")
    p.add_argument("--no-train-plots", action="store_true",
                   help="image-beats: render held-out plots only (score, do not train on them)")
    p.add_argument("--train-on", default="mitdb,svdb",
                   help="grouped-cv: databases each fold trains on (mitdb,svdb or mitdb)")
    p.add_argument("--records", help="comma-separated record subset (for quick checks)")
    p.add_argument("--cache-dir", default=str(dataset.DEFAULT_CACHE_DIR))
    p.add_argument("--no-install", action="store_true",
                   help="serve, image-beats: do not touch ml/models (experiments)")
    p.add_argument("--install-inter", action="store_true",
                   help="inter-patient: keep the model as ml/models/ecg_cnn_ds1_aami.keras "
                        "(evaluated by ml.lab.evaluate)")
    p.add_argument("--ensemble-of",
                   help="comma-separated run folders (serve or inter-patient) to average into one "
                        "model, no training; serve ensembles are installed unless --no-install")
    args = p.parse_args(argv)
    if args.ensemble_of:
        result = ensemble(data=args.data, runs=args.ensemble_of.split(","), out=args.out,
                          cache_dir=args.cache_dir)
        out = Path(args.out)
        if result["protocol"] == "serve" and not args.no_install:
            digest = install_model(out / "best.keras", protocol="serve", seed=result["seeds"],
                                   epochs=result["epochs"], metrics_path=out / "metrics.json")
            print(f"installed {SHIPPED} sha256 {digest}", flush=True)
        if args.install_inter and result["protocol"] == "inter-patient":
            install_inter(out)
        return 0
    if args.protocol in ("ds1-cv", "grouped-cv"):
        svdb = None
        if args.protocol == "grouped-cv":
            svdb = args.svdb or str(Path(args.data).parent / "svdb")
        ds1_cross_validation(data=args.data, epochs=args.epochs, seed=args.seed, out=args.out,
                             batch_size=args.batch_size, lr=args.lr,
                             weight_power=args.weight_power, loss=args.loss,
                             rhythm_head=not args.no_rhythm_head,
                             rhythm_weight=args.rhythm_weight, cache_dir=args.cache_dir,
                             svdb=svdb, train_on=tuple(args.train_on.split(",")),
                             normal_fraction=args.normal_fraction, protocol=args.protocol,
                             noise=args.noise, noise_fraction=args.noise_fraction)
        return 0
    records = [int(r) for r in args.records.split(",")] if args.records else None
    train(TrainConfig(
        data=args.data, protocol=args.protocol, epochs=args.epochs, seed=args.seed,
        out=args.out, batch_size=args.batch_size, lr=args.lr, records=records,
        cache_dir=args.cache_dir, install=not args.no_install, weight_power=args.weight_power,
        image_noise=args.image_noise, image_dropout=args.image_dropout, loss=args.loss,
        augment_amplitude=args.augment_amplitude, rhythm_head=not args.no_rhythm_head,
        rhythm_weight=args.rhythm_weight, all_ds1=args.all_ds1, svdb=args.svdb,
        normal_fraction=args.normal_fraction, noise=args.noise,
        noise_fraction=args.noise_fraction,
        plots_from=tuple(args.plots_from.split(",")) if args.plots_from else (),
        train_plots=not args.no_train_plots, plot_variants=args.plot_variants,
        image_split=args.image_split))
    if args.install_inter and args.protocol in ("inter-patient", "ds1-svdb-to-ds2"):
        install_inter(Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
