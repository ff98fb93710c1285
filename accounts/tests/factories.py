import factory
from django.utils import timezone

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = User.Role.PATIENT
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-staple")

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):
        """Give the user a verified primary email address, as allauth requires for login."""
        obj.save()
        if create and extracted is not False:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.update_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


class DoctorFactory(UserFactory):
    role = User.Role.DOCTOR
    licence_number = factory.Sequence(lambda n: f"GMC{7000000 + n}")
    speciality = "Cardiology"
    doctor_verified_at = factory.LazyFunction(timezone.now)


class UnverifiedDoctorFactory(DoctorFactory):
    doctor_verified_at = None


class StaffFactory(UserFactory):
    role = User.Role.ADMIN
    is_staff = True
    is_superuser = True


class CareLinkFactory(factory.django.DjangoModelFactory):
    """An active link from a patient to a verified doctor."""

    class Meta:
        model = "accounts.CareLink"

    patient = factory.SubFactory(UserFactory)
    doctor = factory.SubFactory(DoctorFactory)
    requested_by = factory.SelfAttribute("patient")
    status = "active"
    activated_at = factory.LazyFunction(timezone.now)


def totp_enable(user):
    """Give ``user`` an authenticator app (as allauth stores it); return the base32 secret."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def recovery_codes_enable(user):
    """Give ``user`` recovery codes; return them."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    return RecoveryCodes.activate(user).generate_codes()
