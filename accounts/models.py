"""Portal users. Email is the login; every user has one role."""

import uuid

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
    # What the API shows of a user: a random id, never the sequential primary key (which would tell
    # how many accounts exist and invite guessing).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PATIENT)

    # What the 12-lead criteria depend on (ml.twelve_lead.Patient: the ST limits in V2-V3, the
    # Cornell voltage limit): used when an ECG file's own header does not state them.
    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"

    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)

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

    def age_on(self, day) -> float | None:
        """Return the age in years on the date ``day``, or None without a birth date (or before it)."""
        if self.birth_date is None or day < self.birth_date:
            return None
        return (day - self.birth_date).days / 365.25

    @property
    def is_patient(self):
        return self.role == self.Role.PATIENT

    @property
    def is_verified_doctor(self):
        """Return True for a doctor whose credentials an administrator has verified."""
        return self.role == self.Role.DOCTOR and self.doctor_verified_at is not None


class CareLink(models.Model):
    """A patient's grant of access to their records ("case management") to one doctor.

    A patient grants access directly (active at once); a doctor may ask for it (pending until
    the patient accepts). Either way only the patient can make it active, and the patient can
    revoke it at any time. Revoked links are kept as the history of who could see what.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"

    class Scope(models.TextChoices):
        """What the doctor sees: every record, or only those the patient chose (``ECGRecord.shared_in``)."""

        ALL = "all", "All my ECGs"
        CHOSEN = "chosen", "Only the ECGs I choose"

    patient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="doctor_links")
    doctor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="patient_links")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.ALL)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "doctor"],
                condition=Q(status__in=["pending", "active"]),
                name="carelink_one_open_link_per_pair",
                violation_error_message="This doctor already has access, or a request is waiting.",
            ),
            models.CheckConstraint(
                condition=~Q(patient=models.F("doctor")),
                name="carelink_doctor_is_not_the_patient",
                violation_error_message="You cannot link an account to itself.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "active", "revoked"]),
                name="carelink_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="active", activated_at__isnull=False) | ~Q(status="active"),
                name="carelink_active_has_activation_time",
            ),
            models.CheckConstraint(
                condition=Q(status="revoked", ended_at__isnull=False)
                | (~Q(status="revoked") & Q(ended_at__isnull=True)),
                name="carelink_only_revoked_links_have_ended",
            ),
        ]
        indexes = [models.Index(fields=["doctor", "status"]), models.Index(fields=["patient", "status"])]

    def __str__(self):
        return f"{self.patient} → {self.doctor} ({self.get_status_display()})"

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.patient_id and self.patient.role != User.Role.PATIENT:
            errors["patient"] = "Only a patient can share their records."
        if self.doctor_id and self.doctor.role != User.Role.DOCTOR:
            errors["doctor"] = "Records can only be shared with a doctor."
        if errors:
            raise ValidationError(errors)
