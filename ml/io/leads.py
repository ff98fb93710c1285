"""Choose the one lead that is analysed when a file holds several."""

import re


def _norm(label: str) -> str:
    key = re.sub(r"[^A-Z0-9]", "", str(label).upper())
    key = re.sub(r"^(ECG|EKG)", "", key)
    return {"ML2": "MLII", "LEADII": "II", "2": "II"}.get(key, key)


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
