"""Beats grouped by shape: what a reviewing doctor relabels at once ("these 412 beats are PVCs").

Holter software shows a record's beats as morphology families; a doctor confirms or relabels a
family instead of thousands of beats one by one. Here a family is the set of beats whose QRS
window correlates with the family's median shape at :data:`MIN_CORRELATION` or more, built
greedily from the most common shape down. Deterministic: the same record gives the same
families, so a form can name a family by its number and the server finds the same beats again.
"""

import numpy as np

# QRS window around each R peak: the QRS and the start of the ST segment, where ectopic, blocked
# and paced beats differ from the patient's own normal beat.
BEFORE_S = 0.08
AFTER_S = 0.16
MIN_CORRELATION = 0.90
MAX_FAMILIES = 8


def _windows(signal, fs, r_peaks):
    x = np.asarray(signal, dtype=np.float32).reshape(-1)
    before, after = int(round(BEFORE_S * fs)), int(round(AFTER_S * fs))
    peaks = np.asarray(r_peaks, dtype=np.int64)
    idx = np.clip(peaks[:, None] + np.arange(-before, after)[None, :], 0, max(0, x.size - 1))
    w = np.nan_to_num(x[idx]) if x.size else np.zeros((peaks.size, before + after), np.float32)
    w = w - w.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    return w / np.where(norms > 0, norms, 1.0)


def shape_families(signal, fs, r_peaks, *, min_correlation=MIN_CORRELATION, max_families=MAX_FAMILIES):
    """Return families of beats of one shape, largest first, as arrays of beat indices.

    Beats left over once ``max_families - 1`` families are formed (rare shapes, noise) make one
    last family. Every beat is in exactly one family.
    """
    n = len(r_peaks)
    if n == 0:
        return []
    w = _windows(signal, fs, r_peaks)
    left = np.arange(n)
    families = []
    while left.size and len(families) < max_families - 1:
        # The seed is the remaining beat most like the others (a sample keeps it linear in n).
        sample = left[np.linspace(0, left.size - 1, min(left.size, 200)).astype(int)]
        seed = sample[np.argmax((w[sample] @ w[sample].T > min_correlation).sum(axis=1))]
        members = left[w[left] @ w[seed] >= min_correlation]
        template = np.median(w[members], axis=0)
        template /= np.linalg.norm(template) or 1.0
        members = left[w[left] @ template >= min_correlation]
        if members.size == 0:
            members = np.array([seed])
        families.append(members)
        left = np.setdiff1d(left, members, assume_unique=True)
    if left.size:
        families.append(left)
    return sorted(families, key=lambda f: (-f.size, int(f[0])))
