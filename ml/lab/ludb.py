"""Read a LUDB record (``../shared/data/ludb``) in true millivolts, for evaluation and tests.

LUDB's headers do not carry a calibration. Every lead's gain equals that lead's own peak-to-peak
range in ADC units (all 2,400 leads of the 200 records), so ``wfdb``'s physical signal scales each
lead, one by one, to exactly 1 mV peak to peak: ST levels shrink, QRS voltages of different leads
stop being comparable, and Einthoven's law (III = II - I) holds in only 46 of 200 records. The
ADC values themselves are consistent: the least-squares gain of III on II - I is within 10 % of 1
in 200 of 200 records. Read at 1 uV per unit (``UV_PER_UNIT``), lead II's R wave has a median of
0.86 mV over the 200 records and the Sokolow-Lyon sum a median of 2.4 mV with LVH and 2.2 mV
without, as expected of adults; that unit is the assumption every voltage figure on LUDB rests on.
Measured by :func:`scale_check` (``python -m ml.lab.ludb ../shared/data/ludb``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# LUDB's lead names (lower case) -> the standard names (ml.twelve_lead.STANDARD_LEADS' order).
LEADS = dict(zip(("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"),
                 ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")))
UV_PER_UNIT = 1.0


def read_leads(data_dir: Path, record: int, *, channels=None) -> tuple[dict[str, np.ndarray], float]:
    """Return ({standard lead name: signal in mV}, sampling rate) of one LUDB record.

    ``channels``: LUDB's lower-case names to read (all 12 when None).
    """
    import wfdb

    rec = wfdb.rdrecord(str(Path(data_dir) / "data" / str(record)), physical=False, channel_names=channels)
    digital = rec.d_signal.astype(np.float64) - np.asarray(rec.baseline, dtype=np.float64)
    mv = digital * (UV_PER_UNIT / 1000.0)
    return {LEADS[name.lower()]: mv[:, j] for j, name in enumerate(rec.sig_name)}, float(rec.fs)


def write_calibrated(data_dir: Path, record: int, out_dir: Path) -> Path:
    """Write LUDB ``record`` as a WFDB record in true mV (one gain for all leads) with its
    header's comments (age, sex, diagnoses) into ``out_dir``; return the new header's path.
    This is the file a recorder would export, for the tests of the product's 12-lead path."""
    import wfdb

    leads, fs = read_leads(data_dir, record)
    header = wfdb.rdheader(str(Path(data_dir) / "data" / str(record)))
    names = list(LEADS.values())
    signal = np.column_stack([leads[n] for n in names])
    name = f"ludb{record}"
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(names), sig_name=names, p_signal=signal,
                fmt=["16"] * len(names), adc_gain=[1000.0] * len(names), baseline=[0] * len(names),
                comments=list(header.comments), write_dir=str(out_dir))
    return Path(out_dir) / f"{name}.hea"


def einthoven_gain(leads: dict[str, np.ndarray]) -> float:
    """Return the least-squares gain of III on II - I (1.0 when the limb leads share one scale)."""
    y = leads["II"] - leads["I"]
    y = y - y.mean()
    z = leads["III"] - leads["III"].mean()
    return float(y @ z / max(float(y @ y), 1e-12))


def scale_check(data_dir: Path) -> dict:
    """Return the evidence above: header gains against peak-to-peak, and Einthoven both ways."""
    import wfdb

    gain_is_range = consistent_header = consistent_raw = 0
    records = sorted(int(p.stem) for p in (Path(data_dir) / "data").glob("*.hea"))
    for record in records:
        path = str(Path(data_dir) / "data" / str(record))
        rec = wfdb.rdrecord(path, physical=False)
        ranges = np.ptp(rec.d_signal.astype(np.float64), axis=0)
        gain_is_range += int(np.all(np.abs(ranges - np.asarray(rec.adc_gain)) <= 1.0))
        physical = wfdb.rdrecord(path)
        header = {LEADS[n.lower()]: physical.p_signal[:, j] for j, n in enumerate(physical.sig_name)}
        raw, _ = read_leads(data_dir, record)
        consistent_header += int(abs(einthoven_gain(header) - 1) < 0.1)
        consistent_raw += int(abs(einthoven_gain(raw) - 1) < 0.1)
    return {"records": len(records), "gain_is_range": gain_is_range,
            "einthoven_header": consistent_header, "einthoven_raw": consistent_raw}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the LUDB folder (holds data/)")
    print(scale_check(parser.parse_args(argv).data))


if __name__ == "__main__":
    main()
