"""OpenAPI: the error answers every endpoint can give, declared once (a drf-spectacular hook).

Views declare what is particular to them (a 400 for a refused upload, a 409 for a result not
ready). What any endpoint may answer comes from the framework and the portal's own policy, so it
is added here to every operation: 401 without credentials (unless the endpoint is public), 403
for a role that may not act, 404 for an object the caller may not see (every path with a
parameter: the portal answers 404, never 403, so it does not reveal what exists), 429 when a rate
limit is reached, 500 as JSON; 400 where a query or a body can be invalid, 404 past the last page
of a paginated list, 413 for a body over the upload limit (ecgportal/uploads.py).

The list endpoints' query parameters come from their filter forms (:func:`form_parameters`), so
every filter and every bound the endpoint checks is in the schema.
"""

from django import forms
from drf_spectacular.utils import OpenApiParameter

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable error code."},
        "detail": {"type": "string", "description": "What is wrong, written for a person."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "For invalid input: the messages for each field.",
        },
    },
    "required": ["code", "detail"],
}
COMMON = {
    "401": "Authentication credentials were not provided or are invalid.",
    "403": "Your role may not do this.",
    "429": "Too many requests; retry after the time in the Retry-After header.",
    "500": "An error on our side; it has been logged.",
}
NOT_FOUND = "No such object, or you may not see it (the portal never says which)."
INVALID = "Invalid input (`invalid`, with `fields`)."
PAST_LAST_PAGE = "No such page (`page` past the last one)."
TOO_LARGE = "The body is over the upload limit (`too_large`); nothing was read or stored."


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
            parameters = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
            body = operation.get("requestBody", {}).get("content", {})
            if parameters or body:
                codes["400"] = INVALID
            if "{" in path:
                codes["404"] = NOT_FOUND
            elif "page" in parameters:
                codes["404"] = PAST_LAST_PAGE
            if body:
                codes["413"] = TOO_LARGE
            for code, description in codes.items():
                responses.setdefault(code, {"description": description, "content": {"application/json": {"schema": ref}}})
    return result


def _field_schema(field):
    """Return the OpenAPI schema of a query parameter read by the form field ``field``."""
    if isinstance(field, forms.ChoiceField):
        values = [value for value, _ in field.choices if value != ""]
        if getattr(field, "coerce", None) is int:
            return {"type": "integer", "enum": [int(v) for v in values]}
        return {"type": "string", "enum": values}
    if isinstance(field, forms.DateField):
        return {"type": "string", "format": "date"}
    if isinstance(field, (forms.IntegerField, forms.FloatField)):
        schema = {"type": "integer" if isinstance(field, forms.IntegerField) else "number"}
        for key, bound in (("minimum", field.min_value), ("maximum", field.max_value)):
            if bound is not None:
                schema[key] = bound
        return schema
    schema = {"type": "string"}
    for key, bound in (("minLength", getattr(field, "min_length", None)), ("maxLength", getattr(field, "max_length", None))):
        if bound is not None:
            schema[key] = bound
    return schema


def form_parameters(form_class, descriptions=None):
    """Return the query parameters of ``form_class``, one per field, with its choices and bounds."""
    descriptions = descriptions or {}
    return [
        OpenApiParameter(
            name,
            _field_schema(field),
            required=field.required,
            description=descriptions.get(name) or str(field.help_text or field.label or ""),
        )
        for name, field in form_class.base_fields.items()
    ]
