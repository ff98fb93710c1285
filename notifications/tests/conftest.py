# The real SMTP test server (accounts/tests/mailbox.py) and the predictions fixtures.
from accounts.tests.conftest import _fresh_cache_namespace, mailbox, smtp_server  # noqa: F401
from predictions.tests.conftest import _fresh_throttles, _in_process_analysis, doctor, patient  # noqa: F401
