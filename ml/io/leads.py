"""Choose the one lead that is analysed when a file holds several, and name the standard leads.

A 12-lead file is also kept whole (``Recording.leads``) for the 12-lead reading (``ml.twelve_lead``):
its leads are recognised by name in any common spelling (``ii``, ``II``, ``Lead II``, ``ECG II``,
``aVR``, ``AVR``, ``V1``, ``C1``...).
"""

import re

import numpy as np

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# A file with at least this many standard leads is read as a 12-lead ECG (the 8 independent leads).
MIN_STANDARD_LEADS = 8
# Why a file with several leads gave no 12-lead reading (Recording.leads_unread) when its channel
# labels are not standard lead names.
UNNAMED_LEADS = ("its channels are not named as the standard leads (I, II, III, aVR, aVL, aVF, V1-V6), "
                 "so the 12 leads could not be told apart")
_BY_KEY = {name.upper(): name for name in STANDARD_LEADS}
# Chest leads are also written C1-C6 (European usage); limb leads as roman or arabic numerals.
_ALIASES = {"1": "I", "3": "III", **{f"C{i}": f"V{i}" for i in range(1, 7)}}


def _norm(label: str) -> str:
    key = re.sub(r"[^A-Z0-9]", "", str(label).upper())
    key = re.sub(r"^(ECG|EKG)", "", key)
    return {"ML2": "MLII", "LEADII": "II", "2": "II"}.get(key, key)


def standard_name(label: str) -> str | None:
    """Return the standard name (``STANDARD_LEADS``) of a lead label, or None for another signal."""
    key = _norm(label)
    key = re.sub(r"^LEAD", "", key)
    key = {"II": "II", "2": "II"}.get(key, key)
    return _BY_KEY.get(_ALIASES.get(key, key))


def standard_leads(labels, columns) -> dict | None:
    """Return {standard name: 1-D float array} when ``labels`` name at least MIN_STANDARD_LEADS
    standard leads (the first of each name wins), else None. ``columns(i)`` returns column i."""
    out = {}
    for i, label in enumerate(labels):
        name = standard_name(label)
        if name and name not in out:
            out[name] = np.asarray(columns(i), dtype=np.float64)
    return out if len(out) >= MIN_STANDARD_LEADS else None


def choose_lead(labels: list[str], requested: str | None) -> tuple[int, str]:
    """Return (index, note) of the lead to analyse.

    Order: MLII (what the model was trained on), else the requested lead, else standard lead II
    (closest to MLII), else the first lead.
    """
    count = len(labels)
    in_file = f"{count} leads in file" if count != 1 else "1 lead in file"
    keys = [_norm(lb) for lb in labels]
    ignored = ""
    if "MLII" in keys:
        idx = keys.index("MLII")
        if requested and _norm(requested) != "MLII":
            ignored = f"; lead {requested} was asked for, but MLII matches the model's training data"
        return idx, f"Lead {labels[idx]} used ({in_file}{ignored})"
    if requested:
        if _norm(requested) in keys:
            idx = keys.index(_norm(requested))
            return idx, f"Lead {labels[idx]} used, as requested ({in_file})"
        ignored = f"; lead {requested} was asked for but is not in the file"
    if "II" in keys:
        idx = keys.index("II")
        return idx, f"Lead {labels[idx]} used, the closest to MLII ({in_file}{ignored})"
    if count == 1:
        return 0, f"Lead {labels[0]} used ({in_file}{ignored})"
    return 0, f"Lead {labels[0]} used, the first in the file ({in_file}; no MLII lead{ignored})"
