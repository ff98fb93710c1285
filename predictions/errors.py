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
