"""Account pages: profile, API token, care team (doctor-patient links) and account deletion.

Views parse, call a service or selector, and render. allauth serves sign-in, sign-up, email,
password and two-factor pages; these pages share its settings layout.
"""

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from accounts import permissions, selectors, services
from accounts.forms import (
    AccountDeleteForm,
    CareLinkCreateForm,
    CareLinkRequestForm,
    DoctorApplicationForm,
    ProfileForm,
)
from accounts.models import CareLink, User


def _add_service_errors(form, error):
    """Put a service's ValidationError on the form: on its fields where it names them."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@login_required
def profile(request):
    """Show and save the user's name and, for doctors, professional details."""
    user = request.user
    form = ProfileForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        was_verified = user.is_verified_doctor
        try:
            services.user_profile_update(user=user, **form.cleaned_data)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            if was_verified and not user.is_verified_doctor:
                messages.warning(
                    request,
                    "Your licence number changed, so an administrator will verify your account again. "
                    "Until then you cannot see your patients' records.",
                )
            messages.success(request, "Your profile has been saved.")
            return redirect("accounts:profile")
    context = {
        "form": form,
        "doctor_form": DoctorApplicationForm(prefix="doctor") if user.role == User.Role.PATIENT else None,
        "mfa_enabled": selectors.user_has_totp(user=user),
    }
    _records_trail_shown(request)
    return render(request, "accounts/profile.html", context)


@login_required
@require_POST
def doctor_apply(request):
    """Turn a patient's account (typically made through Google or LinkedIn) into a doctor's."""
    form = DoctorApplicationForm(request.POST, prefix="doctor")
    if form.is_valid():
        try:
            services.doctor_application_submit(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(
                request, "Thank you. An administrator will check your licence number and verify your account."
            )
            return redirect("accounts:profile")
    context = {
        "form": ProfileForm(user=request.user),
        "doctor_form": form,
        "mfa_enabled": selectors.user_has_totp(user=request.user),
    }
    _records_trail_shown(request)
    return render(request, "accounts/profile.html", context)


def _records_trail_shown(request):
    """Audit the profile's "who has seen my ECGs": it names the user's records and their readers."""
    permissions.record_access(request=request, patient=request.user, action="view", object_type="records_trail")


@login_required
def api_token(request):
    """Create (or replace) and revoke the user's REST API token; a new key is shown once."""
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.api_token_revoke(user=request.user)
            messages.success(request, "Your API token has been revoked.")
            return redirect("accounts:api_token")
        new_key = services.api_token_create(user=request.user).key
    token = Token.objects.filter(user=request.user).first()
    return render(request, "accounts/api_token.html", {"token": token, "new_key": new_key})


@login_required
def care_team(request):
    """Patients: the doctors who can see their records. Doctors: their patients. Either side
    invites the other by email and answers the other side's invitations."""
    user = request.user
    if user.role == User.Role.PATIENT:
        form_class, links = CareLinkCreateForm, selectors.care_links_of_patient(patient=user)
    elif user.is_verified_doctor:
        form_class, links = CareLinkRequestForm, selectors.care_links_of_doctor(doctor=user)
    else:
        return render(request, "accounts/care_team.html", {})
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data[form.email_field]
        try:
            services.care_link_invite(request=request, inviter=user, email=email)
        except ValidationError as error:
            form.add_error(form.email_field, error)
        else:
            # The same answer whatever the address: who has an account here stays private.
            messages.info(request, form.sent_message.format(email=email))
            return redirect("accounts:care_team")
    return render(request, "accounts/care_team.html", {"form": form, "links": links})


def _invitation_to(user, pk):
    """Return the pending invitation ``pk`` made to ``user``, or the patient's own link; else 404."""
    link = get_object_or_404(CareLink.objects.select_related("patient", "doctor"), pk=pk)
    if link.patient_id == user.pk:
        return link
    if link.status == CareLink.Status.PENDING and services.care_link_invitee(link).pk == user.pk:
        return link
    raise Http404("No such invitation.")


@login_required
@require_POST
def care_link_accept(request, pk):
    link = _invitation_to(request.user, pk)
    try:
        services.care_link_accept(user=request.user, link=link)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        if request.user.pk == link.patient_id:
            messages.success(request, f"{link.doctor} can now see your ECG records and results.")
        else:
            messages.success(request, f"You can now see {link.patient}'s ECG records and results.")
    return redirect("accounts:care_team")


@login_required
@require_POST
def care_link_revoke(request, pk):
    """Patients end a link or decline a doctor's request; doctors decline a patient's invitation."""
    link = _invitation_to(request.user, pk)
    if request.user.pk != link.patient_id:
        services.care_link_decline(doctor=request.user, link=link)
        messages.success(request, f"You declined {link.patient}'s invitation.")
        return redirect("accounts:care_team")
    was_pending = link.status == CareLink.Status.PENDING
    services.care_link_revoke(patient=request.user, link=link)
    if was_pending:
        messages.success(request, f"You declined {link.doctor}'s request.")
    else:
        messages.success(request, f"{link.doctor} can no longer see your ECG records.")
    return redirect("accounts:care_team")


@login_required
@require_POST
def care_link_scope(request, pk):
    """A patient lets a linked doctor see all their ECGs, or only the ones they choose."""
    link = get_object_or_404(CareLink.objects.select_related("doctor"), pk=pk, patient=request.user,
                             status=CareLink.Status.ACTIVE)
    try:
        services.care_link_set_scope(patient=request.user, link=link, scope=request.POST.get("scope", ""))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, f"{link.doctor} now sees "
                                  + ("all your ECGs." if link.scope == CareLink.Scope.ALL else
                                     "only the ECGs you share with them (on each result page)."))
    return redirect("accounts:care_team")


# Accounts without a password (Google, LinkedIn) confirm by signing in again (or with their
# authenticator app) when their last sign-in is not recent.
@login_required
@reauthentication_required(enabled=lambda request: not request.user.has_usable_password())
def account_delete(request):
    """Explain what deletion removes, then delete the account once confirmed."""
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_delete(user=request.user)
        logout(request)
        messages.success(request, "Your account and all its ECG records have been deleted.")
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})
