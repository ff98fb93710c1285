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
