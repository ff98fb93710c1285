import os

# One thread per process for the numeric libraries, set before anything imports them. The portal's
# parallelism is its processes (gunicorn workers, Celery children), each doing small pieces of
# work: OpenBLAS's own threads (one per core by default) then mostly spin waiting for work, which
# measured 55 ms of CPU for 28 ms of one single-beat analysis (31 ms with one thread, same wall
# time), and under load that spinning takes the cores the other processes need
# (bench/RESULTS-load.md). A deployment may still set these variables itself.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Load the Celery app when Django starts so that @shared_task uses it.
from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
