"""Exceptions raised by ``ml`` for inputs it cannot use.

The web layer catches :class:`ECGInputError` and shows ``str(exc)`` to the user, so every
message is written for a person: what is wrong and, where possible, what to do instead.
``code`` is a stable machine-readable identifier for the API.
"""


class ECGInputError(ValueError):
    """Base class: the input is not a usable ECG. Never raised for a programming error."""

    code = "unusable_input"

    def __init__(self, message, *, code=None):
        super().__init__(message)
        if code is not None:
            self.code = code


class EmptyInputError(ECGInputError):
    code = "empty"


class UnsupportedFormatError(ECGInputError):
    code = "unsupported_format"


class MissingFileError(ECGInputError):
    """A multi-file record is incomplete (e.g. a WFDB ``.hea`` without its ``.dat``)."""

    code = "missing_file"


class InvalidSignalError(ECGInputError):
    """The samples are unusable: NaN/inf, a flat line, clipped, pure noise."""

    code = "invalid_signal"


class SamplingRateError(ECGInputError):
    code = "bad_sampling_rate"


class TooShortError(ECGInputError):
    """Fewer beats than the analysis needs (at least 3 for a signal)."""

    code = "too_short"


class ModelFileError(RuntimeError):
    """The shipped model is missing or its checksum does not match. A deployment fault."""


class RetakePhotoError(InvalidSignalError):
    """A photo of an ECG print-out that could not be read, with what to change when taking it again.

    ``advice`` lists short sentences a person can act on ("the page is cut off at the right: fit
    the whole page in the photo"); they are also part of the message.
    """

    code = "retake_photo"

    def __init__(self, message, *, advice=(), code=None):
        super().__init__(message, code=code)
        self.advice = list(advice)
