"""The per-user upload rate limit, shared by the upload page and the API.

One budget (scope ``uploads`` in REST_FRAMEWORK's DEFAULT_THROTTLE_RATES) counts every upload
attempt a user makes, whichever door it comes through, so the page is no way round the API's limit.
"""

import math

from rest_framework.throttling import UserRateThrottle


class UploadRateThrottle(UserRateThrottle):
    """Limit uploads per user (scope ``uploads``)."""

    scope = "uploads"


class PageFindRateThrottle(UserRateThrottle):
    """Limit the crop step's page finder per user (scope ``page_finds``): it decodes a picture."""

    scope = "page_finds"


def page_find_allowed(request) -> bool:
    """Count one request to the page finder; return whether it is within the user's budget."""
    return PageFindRateThrottle().allow_request(request, view=None)


def page_upload_wait(request):
    """Count a page upload attempt; return None if allowed, else the seconds to wait (at least 1)."""
    throttle = UploadRateThrottle()
    if throttle.allow_request(request, view=None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))
