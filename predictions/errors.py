"""The one error an upload can be refused with: a stable code for the API and a sentence for people."""


class UploadError(ValueError):
    """Raise when an upload cannot be analysed; nothing has been stored when it is raised."""

    def __init__(self, code, message, *, field="file"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self):
        return {"code": self.code, "detail": self.message}


def upload_too_large(size, limit):
    """Return the error for an upload of ``size`` bytes over ``limit``: the same sentence wherever it is
    refused (the upload checks here, or ecgportal.uploads before the body is read)."""
    return UploadError("too_large", f"The upload is {size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.")
