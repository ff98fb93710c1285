"""The one shape every loader returns, and the checks every loaded signal must pass."""

import re
from dataclasses import dataclass, field

import numpy as np

from ml.errors import InvalidSignalError, SamplingRateError

KINDS = ("signal", "image-beat", "image-strip")

MIN_FS = 50.0
MAX_FS = 5000.0
# Larger than any ECG in mV, uV or raw ADC counts; beyond it filters overflow into NaN.
MAX_ABS_VALUE = 1e9
# A file holding less than this share of the samples its header declares is refused as truncated;
# one holding more is read in part and marked partial (``Recording.declared_s``).
MIN_READ_SHARE = 0.5
# Every reader and check says it in these words (ml.quality too).
FLAT_LINE = "The signal is a flat line: no ECG was recorded"


@dataclass
class Recording:
    """One lead of an ECG, ready for analysis.

    ``signal`` is float64, 1-D, in millivolts where the source says so (images: arbitrary units).
    ``notes`` are plain-language facts about how the input was read, meant to be shown to the user.
    """

    signal: np.ndarray
    fs: float
    lead: str
    kind: str = "signal"
    notes: list[str] = field(default_factory=list)
    # ECG leads the input holds (12 for a 12-lead file or report); one of them is ``signal``.
    n_leads: int = 1
    # Every standard lead of a 12-lead file ({"I": array, ..., "V6": array}, mV, at ``fs``), for
    # the 12-lead reading (ml.twelve_lead); None for a single lead or a picture.
    leads: dict | None = field(default=None, repr=False)
    # Why ``leads`` is None for an input with several leads (a file's uncalibrated or unnamed
    # channels, a report page whose layout was not recognised): the result says it, in these words,
    # where it lists what was not assessed.
    leads_unread: str = ""
    # False for a picture whose time and amplitude scale were assumed (no paper grid was found).
    scale_known: bool = True
    # The length the file's header declares, when the file holds less (a truncated file read in
    # part); None when the whole recording was read.
    declared_s: float | None = None
    # The patient's sex ("F" or "M") and age in years where the file's header states them: the
    # 12-lead criteria's limits depend on them (ml.twelve_lead.Patient).
    sex: str | None = None
    age: float | None = None
    # For a picture, where the ECG was read in it (ml.io.image.PictureReading: its size, the
    # page's corners, the trace's pixel path), so the result can draw it over the picture.
    picture: object = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return len(self.signal) / self.fs

    @property
    def partial(self) -> str | None:
        """Return "partial: 17 of 30 s read" for a truncated file read in part, else None."""
        if self.declared_s is None:
            return None
        return f"partial: {round(self.duration_s, 1):g} of {round(self.declared_s, 1):g} s read"


def check_fs(fs, *, origin: str) -> float:
    """Return ``fs`` as a float, or raise SamplingRateError outside the plausible range."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise SamplingRateError(
            f"The sampling rate {fs!r} ({origin}) is not a number. Give it in Hz, e.g. 360."
        ) from None
    if not np.isfinite(value) or not (MIN_FS <= value <= MAX_FS):
        raise SamplingRateError(
            f"The sampling rate {value:g} Hz ({origin}) is not plausible for an ECG: "
            f"it must be between {MIN_FS:g} and {MAX_FS:g} Hz."
        )
    return value


def check_signal(signal, *, fs: float) -> np.ndarray:
    """Return ``signal`` as a clean 1-D float64 array, or raise InvalidSignalError."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        x = np.squeeze(x)
    if x.ndim != 1:
        raise InvalidSignalError(
            "The signal must be a single lead (one column of numbers); "
            f"got an array of shape {np.shape(signal)}."
        )
    if x.size == 0:
        raise InvalidSignalError("The file contains no samples.")
    bad = ~np.isfinite(x)
    if bad.any():
        raise InvalidSignalError(
            f"The signal contains {int(bad.sum())} missing or infinite values (NaN/inf), "
            f"the first at {np.argmax(bad) / fs:.2f} s. Export the ECG again without gaps."
        )
    peak = float(np.max(np.abs(x)))
    if peak > MAX_ABS_VALUE:
        raise InvalidSignalError(
            f"The signal's values reach {peak:.3g}, far beyond any ECG (a few millivolts, or ADC "
            "counts): the file's gain or scaling is wrong. Check the gain in the header or export it again."
        )
    if x.size < 2 * fs:
        raise InvalidSignalError(
            f"The signal is only {x.size / fs:.2f} s long; at least 2 seconds are needed."
        )
    if np.ptp(x) == 0 or np.std(x) < 1e-9 * max(1.0, np.max(np.abs(x))):
        raise InvalidSignalError(
            f"{FLAT_LINE} (all samples have the same value). "
            "Check that the electrodes were connected and the right column was exported."
        )
    return np.ascontiguousarray(x)


_FIELD = re.compile(r"^\s*<?\s*(age|sex|gender)\s*>?\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)
MAX_AGE = 120


def sex_and_age(lines) -> tuple[str | None, float | None]:
    """Return (sex "F"/"M", age in years) from header comment lines such as ``<age>: 51`` and
    ``<sex>: F`` (LUDB) or ``Age: 54`` and ``Sex: Male`` (PTB-XL, CinC 2020); None where absent
    or unreadable."""
    sex = age = None
    for line in lines or ():
        match = _FIELD.match(str(line))
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2).strip().lower()
        if key == "age":
            try:
                number = float(value.split()[0])
            except (ValueError, IndexError):
                continue
            if 0 <= number <= MAX_AGE:
                age = number
        elif value in ("f", "female", "woman", "w"):
            sex = "F"
        elif value in ("m", "male", "man"):
            sex = "M"
    return sex, age
