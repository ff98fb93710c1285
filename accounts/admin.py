"""Django admin for users (with doctor verification) and care links.

The admin signs in through allauth (secure_admin_login), so its rate limits and two-factor
authentication apply to administrators too; signed-in users who are not staff get a 403.
"""

from allauth.account.decorators import secure_admin_login
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from rest_framework.authtoken.models import TokenProxy

from accounts import services
from accounts.models import CareLink, User
from audit.admin import AuditedAdminMixin, audit_registered_admin

admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "ECG Portal administration"
admin.site.site_title = "ECG Portal admin"


def _index_with_waiting_doctors(index):
    """The admin's front page also says how many doctors wait for verification (templates/admin/index.html)."""

    def view(request, extra_context=None):
        waiting = User.objects.filter(role=User.Role.DOCTOR, doctor_verified_at__isnull=True, is_active=True).count()
        return index(request, extra_context={**(extra_context or {}), "doctors_waiting": waiting})

    return view


admin.site.index = _index_with_waiting_doctors(admin.site.index)


class DoctorVerificationFilter(admin.SimpleListFilter):
    title = "doctor verification"
    parameter_name = "verification"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("verified", "Verified")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(role=User.Role.DOCTOR, doctor_verified_at__isnull=True)
        if self.value() == "verified":
            return queryset.filter(role=User.Role.DOCTOR, doctor_verified_at__isnull=False)
        return queryset


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ["email", "role"]


class UserChangeAdminForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes = {}


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    add_form = UserCreationAdminForm
    form = UserChangeAdminForm
    ordering = ["-date_joined"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "role",
        "verified_doctor",
        "licence_number",
        "institution",
        "is_active",
        "is_staff",
        "date_joined",
    ]
    list_filter = ["role", DoctorVerificationFilter, "is_active", "is_staff", "date_joined"]
    search_fields = ["email", "first_name", "last_name", "licence_number", "institution"]
    readonly_fields = ["doctor_verified_at", "doctor_verified_by", "last_login", "date_joined"]
    actions = ["verify_doctors"]
    audit_people = ("pk",)
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "role"]}),
        (
            "Professional details (doctors)",
            {"fields": ["licence_number", "speciality", "institution", "doctor_verified_at", "doctor_verified_by"]},
        ),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"], "classes": ["collapse"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "role", "usable_password", "password1", "password2"]}),
    ]

    @admin.display(boolean=True, description="verified")
    def verified_doctor(self, user):
        return user.is_verified_doctor if user.role == User.Role.DOCTOR else None

    @admin.action(description="Verify selected doctors", permissions=["change"])
    def verify_doctors(self, request, queryset):
        verified, skipped = 0, []
        for user in queryset:
            if user.is_verified_doctor:
                continue
            try:
                with transaction.atomic():
                    services.doctor_verify(doctor=user, by=request.user)
            except (ValidationError, PermissionDenied) as error:
                skipped.append(f"{user.email}: {' '.join(getattr(error, 'messages', [str(error)]))}")
            else:
                verified += 1
        if verified:
            self.message_user(
                request, f"Verified {verified} doctor(s); each was told by email.", messages.SUCCESS
            )
        for reason in skipped:
            self.message_user(request, f"Not verified: {reason}", messages.WARNING)
        if not verified and not skipped:
            self.message_user(request, "The selected doctors were already verified.", messages.INFO)


@admin.register(CareLink)
class CareLinkAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["patient", "doctor", "status", "requested_by", "created_at", "activated_at", "ended_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["patient__email", "patient__last_name", "doctor__email", "doctor__last_name"]
    raw_id_fields = ["patient", "doctor", "requested_by"]
    readonly_fields = ["created_at"]
    list_select_related = ["patient", "doctor", "requested_by"]
    audit_people = ("patient", "doctor")


# Other apps' admins of personal data (registered first: they come before accounts in INSTALLED_APPS).
for model, people in [
    (EmailAddress, ("user",)),
    (SocialAccount, ("user",)),
    (SocialToken, ("account__user",)),
    (Authenticator, ("user",)),
    (TokenProxy, ("user",)),
]:
    audit_registered_admin(model, people=people)
# DRF's token admin searches ``user__username``, which this user model does not have (a 500).
admin.site.get_model_admin(TokenProxy).search_fields = ["user__email"]
