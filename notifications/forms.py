from django import forms

from notifications.selectors import emailed_kinds, kinds_for_user


class EmailPreferencesForm(forms.Form):
    """Which events email me; the in-portal list records every event whatever is chosen."""

    emailed = forms.MultipleChoiceField(
        label="Email me when", required=False, widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["emailed"]
        field.choices = [(kind.value, kind.label) for kind in kinds_for_user(user=user)]
        field.initial = [kind.value for kind in emailed_kinds(user=user)]
