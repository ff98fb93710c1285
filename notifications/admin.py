from django.contrib import admin

from audit.admin import AuditedAdminMixin
from notifications.models import EmailOptOut, Notification


@admin.register(Notification)
class NotificationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "recipient", "kind", "title", "read_at")
    list_filter = ("kind",)
    search_fields = ("recipient__email", "title")
    raw_id_fields = ("recipient",)
    readonly_fields = ("created_at",)
    audit_people = ("recipient", "patient")


@admin.register(EmailOptOut)
class EmailOptOutAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "kind", "created_at")
    list_filter = ("kind",)
    raw_id_fields = ("user",)
    audit_people = ("user",)
