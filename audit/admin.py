"""The audit trail in the admin: filter, search, export as CSV; never add, change or delete."""

from django.contrib import admin
from django.http import HttpResponse
from django.utils import timezone

from accounts import permissions
from audit.csv_export import audit_events_csv
from audit.models import AuditEvent


@admin.action(description="Export the selected events as CSV")
def export_csv(modeladmin, request, queryset):
    response = HttpResponse(audit_events_csv(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "actor_role", "action", "object_type", "patient_label", "door", "ip_address"]
    list_filter = ["action", "door", "actor_role", "object_type", "created_at"]
    search_fields = ["actor_label", "patient_label", "object_id", "ip_address"]
    date_hierarchy = "created_at"
    actions = [export_csv]
    list_select_related = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return permissions.is_staff_member(request.user)


class AuditedClinicalAdmin(admin.ModelAdmin):
    """Write one audit event (door: admin) whenever an administrator opens a clinical object."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_object(request, object_id)
        if obj is not None and response.status_code == 200:
            record = self.audited_record(obj)
            permissions.record_access(
                request=request, patient=record.owner, action=AuditEvent.Action.VIEW,
                object_type=obj._meta.model_name, object_id=str(record.uuid),
            )
        return response

    def audited_record(self, obj):
        """Return the ECG record ``obj`` belongs to (override for objects below a record)."""
        return obj
