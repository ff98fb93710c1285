"""Writes for accounts: profile, doctor verification, care links, API tokens, deletion.

Every function is keyword-only and named <entity>_<action>. Functions raise
django.core.exceptions.ValidationError with a message meant for the person using the form.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import CareLink, User

logger = logging.getLogger(__name__)

PROFESSIONAL_FIELDS = ("licence_number", "speciality", "institution")


def _now():
    return timezone.now()


def _send_notification(*, template_prefix, to, context):
    """Send a plain-text notification once the current transaction commits."""
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    subject = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + render_to_string(
        f"{template_prefix}_subject.txt", context
    ).strip()
    body = render_to_string(f"{template_prefix}_message.txt", context)
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    # A mail server that is down must not undo the change that was just made.
    transaction.on_commit(lambda: message.send(fail_silently=False), robust=True)


# --- profile --------------------------------------------------------------------------------


def user_profile_update(*, user, first_name, last_name, **professional):
    """Save the user's name and, for a doctor, their professional details.

    A verified doctor who changes their licence number goes back to "verification pending":
    an administrator verified the old number, not the new one.
    """
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    fields = ["first_name", "last_name"]
    if user.role == User.Role.DOCTOR:
        new_licence = professional.get("licence_number", user.licence_number).strip()
        if not new_licence:
            raise ValidationError({"licence_number": "A doctor's account needs a licence number."})
        if new_licence != user.licence_number and user.doctor_verified_at is not None:
            user.doctor_verified_at = None
            user.doctor_verified_by = None
            fields += ["doctor_verified_at", "doctor_verified_by"]
        for name in PROFESSIONAL_FIELDS:
            if name in professional:
                setattr(user, name, professional[name].strip())
                fields.append(name)
    user.full_clean(exclude=["password"])
    user.save(update_fields=fields)
    return user


def doctor_signup_announce(*, doctor):
    """Tell the administrators (settings.ADMINS) that a doctor is waiting for verification."""
    from django.core.mail import mail_admins

    admin_url = settings.SITE_URL.rstrip("/") + reverse("admin:accounts_user_change", args=[doctor.pk])
    transaction.on_commit(
        lambda: mail_admins(
            "Doctor awaiting verification",
            f"{doctor} ({doctor.email}), licence {doctor.licence_number}, signed up as a doctor.\n"
            f"Check the licence number, then verify the account: {admin_url}",
        ),
        robust=True,
    )


def doctor_application_submit(*, user, licence_number, speciality, institution):
    """Turn a patient's account into a doctor's, pending verification by an administrator.

    For people who signed up through Google or LinkedIn, where the sign-up form (and its role
    choice) is skipped. Refused once the account shares records with a doctor.
    """
    if user.role != User.Role.PATIENT:
        raise ValidationError("Only a patient's account can apply to become a doctor's account.")
    if CareLink.objects.filter(patient=user).exclude(status=CareLink.Status.REVOKED).exists():
        raise ValidationError(
            "Your account shares records with a doctor. Revoke those links first, or create a "
            "separate doctor's account with your work email."
        )
    details = {"licence_number": licence_number, "speciality": speciality, "institution": institution}
    missing = {name: "This field is required." for name, value in details.items() if not (value or "").strip()}
    if missing:
        raise ValidationError(missing)
    user.role = User.Role.DOCTOR
    for name, value in details.items():
        setattr(user, name, value.strip())
    user.save(update_fields=["role", *details])
    doctor_signup_announce(doctor=user)
    return user


def doctor_verify(*, doctor, by):
    """Mark ``doctor`` as verified by the administrator ``by`` and tell the doctor by email.

    Verifying an already verified doctor changes nothing and sends nothing.
    """
    if not (by.is_active and by.is_staff):
        raise PermissionDenied("Only an administrator can verify doctors.")
    if doctor.role != User.Role.DOCTOR:
        raise ValidationError(f"{doctor.email} is not a doctor's account.")
    if not doctor.licence_number:
        raise ValidationError(f"{doctor.email} has not given a licence number.")
    if doctor.doctor_verified_at is not None:
        return doctor
    doctor.doctor_verified_at = _now()
    doctor.doctor_verified_by = by
    doctor.save(update_fields=["doctor_verified_at", "doctor_verified_by"])
    _send_notification(
        template_prefix="accounts/email/doctor_verified",
        to=doctor.email,
        context={"doctor": doctor, "care_team_url": reverse("accounts:care_team")},
    )
    return doctor


# --- care links -----------------------------------------------------------------------------


def _open_link(*, patient, doctor):
    return (
        CareLink.objects.select_for_update()
        .filter(patient=patient, doctor=doctor, status__in=[CareLink.Status.PENDING, CareLink.Status.ACTIVE])
        .first()
    )


def care_link_create(*, patient, doctor_email):
    """Give the verified doctor registered as ``doctor_email`` access to ``patient``'s records.

    A pending request from that doctor is accepted. The same message answers an unknown address
    and a patient's address, so the form never reveals who is a patient here.
    """
    if patient.role != User.Role.PATIENT:
        raise ValidationError("Only a patient can share their records with a doctor.")
    email = (doctor_email or "").strip()
    if not email:
        raise ValidationError({"doctor_email": "Enter your doctor's email address."})
    if email.lower() == patient.email.lower():
        raise ValidationError({"doctor_email": "That is your own email address. Enter your doctor's."})
    doctor = User.objects.filter(email__iexact=email, is_active=True).first()
    if doctor is None or doctor.role != User.Role.DOCTOR:
        raise ValidationError(
            {
                "doctor_email": "No doctor is registered with this email address. "
                "Ask your doctor which address they use for the ECG Portal."
            }
        )
    if not doctor.is_verified_doctor:
        raise ValidationError(
            {
                "doctor_email": f"{doctor}'s account is awaiting verification by an administrator. "
                "You can share your records once it is verified."
            }
        )
    try:
        with transaction.atomic():
            link = _open_link(patient=patient, doctor=doctor)
            if link and link.status == CareLink.Status.ACTIVE:
                raise ValidationError({"doctor_email": f"{doctor} already has access to your records."})
            if link is None:
                link = CareLink(patient=patient, doctor=doctor, requested_by=patient)
            link.status = CareLink.Status.ACTIVE
            link.activated_at = _now()
            link.save()
    except IntegrityError as exc:  # a concurrent request created the same link
        raise ValidationError({"doctor_email": f"{doctor} already has access to your records."}) from exc
    _care_link_shared(link=link)
    return link


def _care_link_shared(*, link):
    """Audit a link that became active and tell the doctor."""
    from accounts.permissions import record_access
    from notifications.services import care_link_shared_notify

    record_access(actor=link.patient, patient=link.patient, action="share", obj=link)
    care_link_shared_notify(link=link)


def care_link_request(*, doctor, patient_email):
    """Ask the patient registered as ``patient_email`` for access; return the link or None.

    Returns None, saying nothing more, when there is no such patient: a doctor must not learn who
    has an account here. The patient gets an email and accepts or declines on their care team page.
    """
    if not doctor.is_verified_doctor:
        raise PermissionDenied("Your doctor account is awaiting verification.")
    email = (patient_email or "").strip()
    if email.lower() == doctor.email.lower():
        raise ValidationError({"patient_email": "That is your own email address."})
    patient = User.objects.filter(email__iexact=email, is_active=True, role=User.Role.PATIENT).first()
    if patient is None:
        return None
    try:
        with transaction.atomic():
            link = _open_link(patient=patient, doctor=doctor)
            if link is not None:
                return link
            link = CareLink.objects.create(patient=patient, doctor=doctor, requested_by=doctor)
    except IntegrityError:
        return None
    from notifications.services import care_link_requested_notify

    care_link_requested_notify(link=link)
    return link


def care_link_accept(*, patient, link):
    """Accept a doctor's pending request: the doctor can now see the patient's records."""
    if link.patient_id != patient.pk:
        raise PermissionDenied("This is not your link.")
    with transaction.atomic():
        link = CareLink.objects.select_for_update().get(pk=link.pk)
        if link.status != CareLink.Status.PENDING:
            raise ValidationError("This request has already been answered.")
        if not link.doctor.is_verified_doctor:
            raise ValidationError(f"{link.doctor}'s account is no longer verified.")
        link.status = CareLink.Status.ACTIVE
        link.activated_at = _now()
        link.save(update_fields=["status", "activated_at"])
    _care_link_shared(link=link)
    return link


def care_link_revoke(*, patient, link):
    """End ``link`` (or decline it while pending): the doctor loses access at once."""
    if link.patient_id != patient.pk:
        raise PermissionDenied("This is not your link.")
    with transaction.atomic():
        link = CareLink.objects.select_for_update().get(pk=link.pk)
        if link.status == CareLink.Status.REVOKED:
            return link
        link.status = CareLink.Status.REVOKED
        link.ended_at = _now()
        link.save(update_fields=["status", "ended_at"])
    from accounts.permissions import record_access

    record_access(actor=patient, patient=patient, action="revoke", obj=link)
    return link


# --- API tokens -----------------------------------------------------------------------------


def api_token_create(*, user):
    """Create a new REST API token for ``user``, replacing any previous one."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def api_token_revoke(*, user):
    """Delete ``user``'s REST API token; clients using it are signed out."""
    Token.objects.filter(user=user).delete()


# --- deletion -------------------------------------------------------------------------------


def user_delete(*, user):
    """Delete ``user`` for good: every ECG record, file and result, their links and API token."""
    from predictions.services import ecg_record_purge_for_user

    user_id = user.pk
    with transaction.atomic():
        records = ecg_record_purge_for_user(user=user)
        user.delete()
    logger.info("Deleted account #%s and its %s ECG record(s)", user_id, records)


def api_token_obtain(*, request, email, password, otp=""):
    """Return the REST API token of the user with these credentials, creating it if needed.

    The same checks as the sign-in page: allauth's failed-login rate limit, a verified email
    address, and the second factor (a TOTP or recovery code as ``otp``) when the user has one.
    Raise ValidationError with code invalid_credentials, email_unverified, otp_required,
    otp_invalid or too_many_login_attempts.
    """
    from allauth.account.adapter import get_adapter
    from allauth.account.utils import has_verified_email
    from allauth.mfa.base.forms import BaseAuthenticateForm
    from allauth.mfa.utils import is_mfa_enabled

    user = get_adapter(request).authenticate(request, email=email, password=password)
    if user is None or not user.is_active:
        raise ValidationError("Unable to sign in with this email address and password.", code="invalid_credentials")
    if not has_verified_email(user):
        raise ValidationError(
            "Confirm your email address first: follow the link in the email we sent you.",
            code="email_unverified",
        )
    if is_mfa_enabled(user):
        if not otp:
            raise ValidationError(
                'This account uses two-factor authentication: send the current code from your '
                'authenticator app (or a recovery code) as "otp".',
                code="otp_required",
            )
        form = BaseAuthenticateForm(data={"code": otp}, user=user)
        if not form.is_valid():
            error = form.errors.as_data()["code"][0]
            if error.code == "too_many_login_attempts":
                raise error
            raise ValidationError("The two-factor code is wrong or has already been used.", code="otp_invalid")
        form.authenticator.record_usage()
    token, _ = Token.objects.get_or_create(user=user)
    return token
