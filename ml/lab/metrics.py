"""Classification metrics and the figures of the model card (matplotlib, Agg backend)."""

import numpy as np


def confusion(y_true, y_pred, n_classes):
    """Return the (true x predicted) count matrix."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def report(cm, class_names):
    """Return overall accuracy and per-class sensitivity, positive predictivity and F1 from ``cm``."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(support > 0, tp / support, np.nan)
        ppv = np.where(predicted > 0, tp / predicted, np.nan)
        f1 = np.where(se + ppv > 0, 2 * se * ppv / (se + ppv), 0.0)
    per_class = {
        name: {"support": int(support[i]), "sensitivity": _f(se[i]), "ppv": _f(ppv[i]),
               "f1": _f(f1[i]) if support[i] > 0 else None}
        for i, name in enumerate(class_names)
    }
    present = support > 0
    return {
        "n": int(cm.sum()),
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "macro_f1": float(np.nanmean(f1[present])),
        "per_class": per_class,
        "confusion": cm.astype(int).tolist(),
        "class_names": list(class_names),
    }


def _f(v):
    return None if v is None or not np.isfinite(v) else float(v)


def plot_history(history, path, title):
    """Save loss and accuracy per epoch (train and validation) as one small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=80)
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], "o-", ms=3, label="train")
        if f"val_{key}" in history:  # fixed-epoch runs have no validation set
            ax.plot(epochs, history[f"val_{key}"], "o-", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_confusion(cm, class_names, path, title):
    """Save the confusion matrix (counts, rows = true class) as a small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.55 * k), dpi=80)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), class_names)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- calibration ----------------------------------------------------------------------------------
def apply_temperature(probs, temperature):
    """Return ``probs`` rescaled by ``temperature``: softmax(log p / T) (T > 1 softens)."""
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=1, keepdims=True)


def nll(probs, y):
    """Return the mean negative log-likelihood of labels ``y`` under ``probs``."""
    p = np.asarray(probs)[np.arange(len(y)), np.asarray(y)]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def fit_temperature(probs, y, grid=np.exp(np.linspace(np.log(0.25), np.log(8.0), 141))):
    """Return the temperature T minimising the NLL of softmax(log p / T) on (``probs``, ``y``)."""
    losses = [nll(apply_temperature(probs, t), y) for t in grid]
    return float(grid[int(np.argmin(losses))])


def calibration(probs, y, n_bins=15):
    """Return {ece, bins: [(mean confidence, accuracy, count)]} of the top-class confidence."""
    probs = np.asarray(probs)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(y)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            bins.append((float(conf[m].mean()), float(correct[m].mean()), int(m.sum())))
            ece += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return {"ece": float(ece), "bins": bins}


def plot_reliability(curves, path, title):
    """Save a reliability diagram: ``curves`` maps a label to :func:`calibration`'s output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=80)
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect")
    for label, cal in curves.items():
        conf, acc, _ = zip(*cal["bins"])
        ax.plot(conf, acc, "o-", ms=3, label=f"{label} (ECE {cal['ece']:.3f})")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
