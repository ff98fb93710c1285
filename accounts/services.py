"""Writes for accounts: profile, doctor verification, care links, API tokens, deletion.

Every function is keyword-only and named <entity>_<action>. Functions raise
django.core.exceptions.ValidationError with a message meant for the person using the form.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import CareLink, User
from ecgportal.celery import task

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


def user_profile_update(*, user, first_name, last_name, sex="", birth_date=None, **professional):
    """Save the user's name, sex and date of birth (both optional) and, for a doctor, their
    professional details.

    A verified doctor who changes their licence number goes back to "verification pending":
    an administrator verified the old number, not the new one.
    """
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.sex = sex or ""
    user.birth_date = birth_date
    fields = ["first_name", "last_name", "sex", "birth_date"]
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
#
# Either side may invite the other by email; the link becomes active only when the invited side
# accepts. Whether an address has an account here is health information, so the inviter gets
# the same answer, in the same time, for a patient, a doctor and an unknown address: the request
# only queues the invitation, and a Celery task looks the address up (care_link_invite_deliver).

# A declined invitation cannot be sent again by the same person for this long: no spamming.
DECLINED_INVITATION_COOLDOWN = timedelta(days=30)


def care_link_invite(*, request, inviter, email):
    """Queue ``inviter``'s invitation to the account registered as ``email``; reveal nothing.

    A patient invites a verified doctor to see their records; a verified doctor asks a patient
    for access. Raise ValidationError for the inviter's own address, or when the inviter sent
    too many invitations (allauth's rate limit ``care_link_invite``, per user, in the cache).
    """
    from allauth.core import ratelimit

    if inviter.role == User.Role.DOCTOR and not inviter.is_verified_doctor:
        raise PermissionDenied("Your doctor account is awaiting verification.")
    if inviter.role not in (User.Role.PATIENT, User.Role.DOCTOR):
        raise ValidationError("Only patients and doctors take part in care teams.")
    email = (email or "").strip()
    if not email:
        raise ValidationError("Enter an email address.")
    if email.lower() == inviter.email.lower():
        raise ValidationError("That is your own email address.")
    if not ratelimit.consume(request, action="care_link_invite", user=inviter):
        raise ValidationError(
            "You have sent many invitations recently. Try again later.", code="too_many_invitations"
        )
    transaction.on_commit(lambda: task("accounts.deliver_care_link_invite").delay(inviter.pk, email), robust=True)


def _other_side(*, inviter, email):
    """Return the active account ``inviter`` may invite as ``email``, or None."""
    accounts = User.objects.filter(email__iexact=email, is_active=True)
    if inviter.role == User.Role.PATIENT:
        return accounts.filter(role=User.Role.DOCTOR, doctor_verified_at__isnull=False).first()
    if inviter.is_verified_doctor:
        return accounts.filter(role=User.Role.PATIENT).first()
    return None


def care_link_invite_deliver(*, inviter_id, email):
    """Create the pending link of a queued invitation and tell the invited side; return it or None.

    Nothing happens for an address that is not the right kind of account, while a link between
    the two is open, or within DECLINED_INVITATION_COOLDOWN of the invited side declining the
    same inviter. When the invited side had already invited the inviter, both want the link:
    it becomes active.
    """
    inviter = User.objects.filter(pk=inviter_id, is_active=True).first()
    other = _other_side(inviter=inviter, email=email) if inviter else None
    if other is None:
        return None
    patient, doctor = (inviter, other) if inviter.role == User.Role.PATIENT else (other, inviter)
    declined_recently = CareLink.objects.filter(
        patient=patient,
        doctor=doctor,
        requested_by=inviter,
        status=CareLink.Status.REVOKED,
        activated_at__isnull=True,
        ended_at__gte=_now() - DECLINED_INVITATION_COOLDOWN,
    ).exists()
    if declined_recently:
        return None
    try:
        with transaction.atomic():
            link = _open_link(patient=patient, doctor=doctor)
            created = link is None
            if created:
                link = CareLink.objects.create(patient=patient, doctor=doctor, requested_by=inviter)
    except IntegrityError:  # a concurrent invitation created the same link
        return None
    if not created:
        if link.status == CareLink.Status.PENDING and link.requested_by_id != inviter.pk:
            return care_link_accept(user=inviter, link=link)
        return link
    from notifications.services import care_link_invited_notify

    care_link_invited_notify(link=link)
    return link


def care_link_invitee(link):
    """Return the side of a pending ``link`` that must accept it: the one who did not ask."""
    return link.doctor if link.requested_by_id == link.patient_id else link.patient


def care_link_accept(*, user, link):
    """Accept an invitation made to ``user``: the doctor can now see the patient's records."""
    if care_link_invitee(link).pk != user.pk:
        raise PermissionDenied("This invitation was not made to you.")
    with transaction.atomic():
        link = CareLink.objects.select_for_update().select_related("patient", "doctor").get(pk=link.pk)
        if link.status != CareLink.Status.PENDING:
            raise ValidationError("This invitation has already been answered.")
        if not link.doctor.is_verified_doctor:
            raise ValidationError("This doctor's account is not verified at the moment. Try again later.")
        link.status = CareLink.Status.ACTIVE
        link.activated_at = _now()
        link.save(update_fields=["status", "activated_at"])
    _care_link_shared(link=link, accepted_by=user)
    return link


def _care_link_shared(*, link, accepted_by):
    """Audit a link that became active and tell the side that invited."""
    from accounts.permissions import record_access
    from notifications.services import care_link_accepted_notify

    record_access(actor=link.patient, patient=link.patient, action="share", obj=link)
    care_link_accepted_notify(link=link, accepted_by=accepted_by)


def _open_link(*, patient, doctor):
    return (
        CareLink.objects.select_for_update()
        .filter(patient=patient, doctor=doctor, status__in=[CareLink.Status.PENDING, CareLink.Status.ACTIVE])
        .first()
    )


def _care_link_end(*, link):
    """End an open ``link``; the doctor's notifications about the patient go with it."""
    from notifications.services import notifications_about_patient_remove

    with transaction.atomic():
        link = CareLink.objects.select_for_update().get(pk=link.pk)
        if link.status == CareLink.Status.REVOKED:
            return link, False
        link.status = CareLink.Status.REVOKED
        link.ended_at = _now()
        link.save(update_fields=["status", "ended_at"])
        notifications_about_patient_remove(recipient=link.doctor, patient=link.patient)
    return link, True


def care_link_revoke(*, patient, link):
    """End ``link`` (or decline it while pending): the doctor loses access at once."""
    if link.patient_id != patient.pk:
        raise PermissionDenied("This is not your link.")
    link, ended = _care_link_end(link=link)
    if ended:
        from accounts.permissions import record_access

        record_access(actor=patient, patient=patient, action="revoke", obj=link)
    return link


def care_link_set_scope(*, patient, link, scope):
    """Let ``link``'s doctor see all of ``patient``'s ECGs, or only the ones the patient chooses
    (``predictions.services.ecg_record_share``); the change holds at once."""
    if link.patient_id != patient.pk or link.status != CareLink.Status.ACTIVE:
        raise PermissionDenied("This is not your link.")
    if scope not in CareLink.Scope.values:
        raise ValidationError({"scope": "Choose all your ECGs or only the ones you choose."})
    if link.scope != scope:
        link.scope = scope
        link.save(update_fields=["scope"])
        from accounts.permissions import record_access

        record_access(actor=patient, patient=patient, action="share" if scope == CareLink.Scope.ALL else "revoke",
                      obj=link, object_type="care_link_scope")
    return link


def care_link_decline(*, doctor, link):
    """Decline a patient's invitation to ``doctor`` (nothing was shared yet)."""
    if link.status != CareLink.Status.PENDING or care_link_invitee(link).pk != doctor.pk:
        raise PermissionDenied("This invitation was not made to you.")
    return _care_link_end(link=link)[0]


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
