"""Portal users. Email is the login; every user has one role."""

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True, role=User.Role.ADMIN)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        PATIENT = "patient", "Patient"
        DOCTOR = "doctor", "Doctor"
        ADMIN = "admin", "Administrator"

    username = None
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PATIENT)

    # Professional details; a doctor acts as one only once an administrator verified them.
    licence_number = models.CharField(max_length=64, blank=True)
    speciality = models.CharField(max_length=128, blank=True)
    institution = models.CharField(max_length=200, blank=True)
    doctor_verified_at = models.DateTimeField(null=True, blank=True)
    doctor_verified_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(doctor_verified_at__isnull=True) | Q(role="doctor"),
                name="user_only_doctors_are_verified",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    @property
    def is_patient(self):
        return self.role == self.Role.PATIENT

    @property
    def is_verified_doctor(self):
        """Return True for a doctor whose credentials an administrator has verified."""
        return self.role == self.Role.DOCTOR and self.doctor_verified_at is not None
