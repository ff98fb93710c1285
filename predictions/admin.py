from django.contrib import admin

from audit.admin import AuditedAdminMixin
from predictions.models import BeatCount, ECGRecord, Prediction, PredictionImage, Review


class PredictionInline(admin.TabularInline):
    model = Prediction
    extra = 0
    fields = ["status", "is_current", "model_version", "created_at", "finished_at", "duration_ms", "attempts"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False


@admin.register(ECGRecord)
class ECGRecordAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["original_filename", "owner", "file_format", "size_bytes", "created_at"]
    list_filter = ["input_kind", "file_format", "created_at"]
    search_fields = ["original_filename", "owner__email", "note", "uuid"]
    readonly_fields = ["uuid", "file", "companion_file", "sha256", "size_bytes", "created_at"]
    raw_id_fields = ["owner"]
    inlines = [PredictionInline]


class BeatCountInline(admin.TabularInline):
    model = BeatCount
    extra = 0


class PredictionImageInline(admin.TabularInline):
    model = PredictionImage
    extra = 0
    readonly_fields = ["kind", "beat_index", "code", "probability", "file"]


class ReviewInline(admin.StackedInline):
    model = Review
    extra = 0
    raw_id_fields = ["doctor"]


@admin.register(Prediction)
class PredictionAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["record", "status", "is_current", "model_version", "beat_total", "heart_rate_bpm", "created_at", "duration_ms"]
    list_filter = ["status", "is_current", "model_version"]
    search_fields = ["record__original_filename", "record__owner__email", "uuid"]
    readonly_fields = ["uuid", "created_at", "queued_at", "started_at", "finished_at", "task_id", "summary", "beats"]
    raw_id_fields = ["record"]
    inlines = [BeatCountInline, PredictionImageInline, ReviewInline]
    audit_people = ("record__owner",)

    def audit_object_id(self, obj):
        return str(obj.record.uuid)


@admin.register(Review)
class ReviewAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["prediction", "doctor_name", "verdict", "corrected_code", "complete", "created_at"]
    list_filter = ["verdict"]
    raw_id_fields = ["prediction", "doctor"]
    audit_people = ("prediction__record__owner",)

    def audit_object_id(self, obj):
        return str(obj.prediction.record.uuid)
