"""Render Django form fields with Bootstrap 5 classes (used by the allauth element templates)."""

from django import forms, template

register = template.Library()


def _widget_class(widget):
    if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)):
        return "form-check-input"
    if isinstance(widget, forms.Select):
        return "form-select"
    return "form-control"


@register.filter
def field_kind(bound_field):
    """Return "checkbox", "radio" or "input": which Bootstrap layout the field needs."""
    widget = bound_field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, (forms.RadioSelect, forms.CheckboxSelectMultiple)):
        return "radio"
    return "input"


@register.filter
def bootstrap(bound_field):
    """Return the field's widget with Bootstrap classes, marked invalid when it has errors."""
    widget = bound_field.field.widget
    classes = [widget.attrs.get("class", ""), _widget_class(widget)]
    attrs = {}
    if bound_field.errors:
        classes.append("is-invalid")
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{bound_field.auto_id}_errors"
    elif bound_field.help_text:
        attrs["aria-describedby"] = f"{bound_field.auto_id}_help"
    attrs["class"] = " ".join(c for c in classes if c)
    return bound_field.as_widget(attrs=attrs)


@register.filter
def bootstrap_choices(bound_field):
    """Return the subwidgets of a radio or multi-checkbox field, each with Bootstrap classes."""
    widget = bound_field.field.widget
    widget.attrs["class"] = " ".join(
        c for c in [widget.attrs.get("class", ""), "form-check-input", "is-invalid" if bound_field.errors else ""] if c
    )
    return list(bound_field)
