from django.contrib import admin

from audit.admin import AuditedAdminMixin
from usage.models import DailyActivity


@admin.register(DailyActivity)
class DailyActivityAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Read-only: rows are written by sign-in, upload and the activity middleware, never by hand."""

    list_display = ("day", "user", "user_email")
    list_filter = ("day",)
    date_hierarchy = "day"
    search_fields = ("user__email",)
    list_select_related = ("user",)
    audit_people = ("user",)

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
