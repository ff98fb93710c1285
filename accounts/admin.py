"""Django admin for users (with doctor verification) and care links.

The admin signs in through allauth (secure_admin_login), so its rate limits and two-factor
authentication apply to administrators too; signed-in users who are not staff get a 403.
"""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts import services
from accounts.models import CareLink, User

admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "ECG Portal administration"
admin.site.site_title = "ECG Portal admin"


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
class UserAdmin(DjangoUserAdmin):
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
class CareLinkAdmin(admin.ModelAdmin):
    list_display = ["patient", "doctor", "status", "requested_by", "created_at", "activated_at", "ended_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["patient__email", "patient__last_name", "doctor__email", "doctor__last_name"]
    raw_id_fields = ["patient", "doctor", "requested_by"]
    readonly_fields = ["created_at"]
    list_select_related = ["patient", "doctor", "requested_by"]
