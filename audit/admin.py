"""The audit trail in the admin (filter, search, export as CSV; never add, change or delete), and
the mixin every admin of a person's data uses to write the audit events of its pages."""

from django.contrib import admin
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone

from accounts import permissions
from accounts.models import User
from audit.csv_export import audit_events_csv
from audit.models import AuditEvent


@admin.action(description="Export the selected events as CSV")
def export_csv(modeladmin, request, queryset):
    pks = list(queryset.values_list("pk", flat=True))
    modeladmin._audit(request, pks, object_type="auditevent_list", action=AuditEvent.Action.EXPORT)
    response = HttpResponse(audit_events_csv(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


class AuditedAdminMixin:
    """Write audit events (door: admin) for every admin page that shows a person's data.

    The list (searches included), the change form, the delete confirmation and the history:
    one event per person whose data the page shows. ``audit_people`` are the lookups from an
    object to those accounts ("pk" for a user itself).
    """

    audit_people = ("owner",)

    def audit_object_id(self, obj):
        """Return the id stored on the event (the record's uuid where there is one)."""
        return str(getattr(obj, "uuid", None) or obj.pk)

    def _audit(self, request, pks, *, object_type, object_id="", action=AuditEvent.Action.VIEW):
        rows = self.model._default_manager.filter(pk__in=pks)
        ids = {i for lookup in self.audit_people for i in rows.values_list(lookup, flat=True)} - {None}
        with transaction.atomic():
            for person in User.objects.filter(pk__in=ids).order_by("pk"):
                permissions.record_access(
                    request=request, patient=person, action=action, object_type=object_type, object_id=object_id,
                )

    @staticmethod
    def _pk(obj):
        return getattr(obj, obj._meta.pk.attname)  # not ``obj.pk``: DRF's TokenProxy maps it to the user

    def _audit_object(self, request, obj):
        if obj is not None and self._pk(obj) is not None:
            self._audit(request, [self._pk(obj)], object_type=obj._meta.model_name, object_id=self.audit_object_id(obj))

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if response.status_code == 200 and changelist is not None:
            pks = [self._pk(obj) for obj in changelist.result_list]
            self._audit(request, pks, object_type=f"{self.model._meta.model_name}_list")
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        self._audit_object(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def render_delete_form(self, request, context):
        self._audit_object(request, context.get("object"))
        return super().render_delete_form(request, context)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        if response.status_code == 200:
            self._audit_object(request, (getattr(response, "context_data", None) or {}).get("object"))
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "actor_role", "action", "object_type", "patient_label", "door", "ip_address"]
    list_filter = ["action", "door", "actor_role", "object_type", "created_at"]
    search_fields = ["actor_label", "patient_label", "object_id", "ip_address"]
    date_hierarchy = "created_at"
    actions = [export_csv]
    list_select_related = False
    audit_people = ("patient",)

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


def audit_registered_admin(model, *, people):
    """Re-register a third-party app's admin of ``model`` with the audit mixin."""
    model_admin = type(admin.site.get_model_admin(model))
    audited = type(f"Audited{model_admin.__name__}", (AuditedAdminMixin, model_admin), {"audit_people": people, "__module__": __name__})
    admin.site.unregister(model)
    admin.site.register(model, audited)
