"""OpenAPI: the error answers every endpoint can give, declared once (a drf-spectacular hook).

Views declare what is particular to them (a 400 for a refused upload, a 409 for a result not
ready). What any endpoint may answer comes from the framework and the portal's own policy, so it
is added here to every operation: 401 without credentials (unless the endpoint is public), 403
for a role that may not act, 404 for an object the caller may not see (every path with a
parameter: the portal answers 404, never 403, so it does not reveal what exists), 429 when a rate
limit is reached, 500 as JSON.
"""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable error code."},
        "detail": {"type": "string", "description": "What is wrong, written for a person."},
    },
    "required": ["detail"],
}
COMMON = {
    "401": "Authentication credentials were not provided or are invalid.",
    "403": "Your role may not do this.",
    "429": "Too many requests; retry after the time in the Retry-After header.",
    "500": "An error on our side; it has been logged.",
}
NOT_FOUND = "No such object, or you may not see it (the portal never says which)."


def add_common_error_responses(result, generator, request, public):
    """Add the error answers any endpoint can give to every operation of the schema ``result``."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("CommonError", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/CommonError"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            codes = dict(COMMON)
            if not operation.get("security") or {} in operation.get("security", []):
                codes.pop("401")  # a public endpoint (token, schema)
            if "{" in path:
                codes["404"] = NOT_FOUND
            for code, description in codes.items():
                responses.setdefault(code, {"description": description, "content": {"application/json": {"schema": ref}}})
    return result
