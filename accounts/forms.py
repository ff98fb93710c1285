"""Forms for sign-up, the profile, care links and account deletion."""

import datetime

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms

from accounts.models import User

SIGNUP_ROLES = [
    (User.Role.PATIENT, "Patient: I want to check my own ECGs"),
    (User.Role.DOCTOR, "Doctor: I review ECGs of patients who share them with me"),
]


class ProfessionalDetailsMixin(forms.Form):
    licence_number = forms.CharField(
        label="Licence / registration number",
        max_length=64,
        required=False,
        help_text="The number your medical council registered you under (e.g. GMC number).",
    )
    speciality = forms.CharField(max_length=128, required=False)
    institution = forms.CharField(label="Hospital or practice", max_length=200, required=False)


class SignupForm(ProfessionalDetailsMixin, AllauthSignupForm):
    """allauth's sign-up with a name and a role; doctors also give their professional details."""

    first_name = forms.CharField(label="First name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label="Last name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    role = forms.ChoiceField(
        label="I am a",
        choices=SIGNUP_ROLES,
        initial=User.Role.PATIENT,
        widget=forms.RadioSelect,
    )

    field_order = [
        "first_name",
        "last_name",
        "email",
        "password1",
        "password2",
        "role",
        "licence_number",
        "speciality",
        "institution",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Required for doctors only (checked in clean): labelled so, never "(optional)".
        for name in ("licence_number", "speciality", "institution"):
            self.fields[name].required_for = "doctors"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("role") == User.Role.DOCTOR:
            for name, message in (
                ("licence_number", "Doctors need to give their licence number so we can verify them."),
                ("speciality", "Give your speciality (e.g. Cardiology, General practice)."),
                ("institution", "Give the hospital or practice you work at."),
            ):
                if not (cleaned.get(name) or "").strip():
                    self.add_error(name, message)
        return cleaned

    def signup_details(self):
        """Return the User fields this form sets beyond allauth's (applied by the adapter)."""
        data = self.cleaned_data
        details = {"role": data["role"]}
        if data["role"] == User.Role.DOCTOR:
            details.update({name: data[name].strip() for name in ("licence_number", "speciality", "institution")})
        return details


EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)


class ProfileForm(ProfessionalDetailsMixin, forms.Form):
    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150)
    sex = forms.ChoiceField(label="Sex", required=False, choices=[("", "Not stated")] + User.Sex.choices,
                            help_text="Optional. The limits for signs of a heart attack on a 12-lead ECG "
                                      "differ for women and men; without it the lowest limit is used.")
    birth_date = forms.DateField(label="Date of birth", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="Optional. Some 12-lead limits depend on age.")

    field_order = ["first_name", "last_name", "sex", "birth_date", "licence_number", "speciality", "institution"]

    def __init__(self, *args, user, **kwargs):
        initial = {
            name: getattr(user, name)
            for name in ("first_name", "last_name", "sex", "birth_date", "licence_number", "speciality",
                         "institution")
        }
        super().__init__(*args, initial=initial, **kwargs)
        if user.role == User.Role.DOCTOR:
            self.fields["licence_number"].required = True
            self.fields["licence_number"].help_text += " Changing it sends your account back for verification."
        else:
            for name in ("licence_number", "speciality", "institution"):
                del self.fields[name]


    def clean_birth_date(self):
        born = self.cleaned_data.get("birth_date")
        if born is not None and born > datetime.date.today():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        if born is not None and born < EARLIEST_BIRTH_DATE:
            raise forms.ValidationError(f"Enter a date of birth after {EARLIEST_BIRTH_DATE:%d %B %Y}.")
        return born


class CareLinkCreateForm(forms.Form):
    """A patient invites their doctor; the answer never says whether the address has an account."""

    email_field = "doctor_email"
    sent_message = (
        "If {email} belongs to a verified doctor of the ECG Portal, they have been asked to accept. "
        "They appear here once they do; until then they see none of your records."
    )

    doctor_email = forms.EmailField(
        label="Your doctor's email address",
        help_text="The address your doctor uses for the ECG Portal. Your doctor accepts before they see anything.",
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "doctor@hospital.example"}),
    )


class CareLinkRequestForm(forms.Form):
    """A doctor asks a patient for access; the answer never says whether the address has an account."""

    email_field = "patient_email"
    sent_message = (
        "If {email} belongs to a patient of the ECG Portal, they have been asked to share their records "
        "with you. They appear here once they accept."
    )

    patient_email = forms.EmailField(
        label="Patient's email address",
        help_text="The patient is asked to accept; until then you see nothing of theirs.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


class DoctorApplicationForm(ProfessionalDetailsMixin, forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = True


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    email = forms.EmailField(
        label="Type your email address to confirm",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    confirm = forms.BooleanField(
        label="I understand that my account, my ECG records, their files and results are deleted for good.",
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        # Accounts made through Google or LinkedIn have no password: they type their address.
        del self.fields["email" if user.has_usable_password() else "password"]

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. Nothing was deleted.")
        return password

    def clean_email(self):
        email = self.cleaned_data["email"]
        if email.lower() != self.user.email.lower():
            raise forms.ValidationError("That is not your account's email address. Nothing was deleted.")
        return email
