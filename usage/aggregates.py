"""Aggregates Django does not ship: PostgreSQL's ordered-set ``percentile_cont``."""

from django.db.models import Aggregate, FloatField


class PercentileCont(Aggregate):
    """Return the continuous percentile ``fraction`` (0–1) of ``expression``; PostgreSQL only.

    ``percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)``: linear interpolation
    between the two nearest rows, like numpy's default. ``filter=`` adds ``FILTER (WHERE …)``.
    """

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction, **extra):
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        self.fraction = fraction
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            raise NotImplementedError("percentile_cont needs PostgreSQL; use the selectors' fallback")
        # A validated float, so formatting it into the SQL is safe (and lets PostgreSQL plan it).
        return super().as_sql(compiler, connection, fraction=repr(self.fraction), **extra_context)
