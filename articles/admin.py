from django import forms
from django.contrib import admin
from django.db import models
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from articles.models import BEAT_CODE_CHOICES, Article, ArticleBeatCode, ArticleReference


class ArticleAdminForm(forms.ModelForm):
    # Shown as checkboxes; stored as ArticleBeatCode rows so they stay queryable.
    codes = forms.MultipleChoiceField(
        label="Beat classes covered",
        choices=BEAT_CODE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Article
        fields = "__all__"
        widgets = {"body": forms.Textarea(attrs={"rows": 30, "style": "font-family: monospace; width: 100%"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["codes"] = list(self.instance.beat_codes.values_list("code", flat=True))


class ArticleReferenceInline(admin.TabularInline):
    model = ArticleReference
    extra = 1
    fields = ["position", "name", "url"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    inlines = [ArticleReferenceInline]
    list_display = ["title", "kind", "code_list", "published", "reviewed_on", "updated_at"]
    list_filter = ["kind", "published", "beat_codes__code"]
    list_editable = ["published"]
    search_fields = ["title", "summary", "body"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["related_conditions"]
    readonly_fields = ["preview", "updated_at"]
    actions = ["publish", "unpublish"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "kind", "codes", "summary", "published", "reviewed_on"]}),
        ("Content", {"fields": ["body", "preview"], "description": "Markdown. Save to refresh the preview."}),
        ("Links", {"fields": ["related_conditions"]}),
        ("History", {"fields": ["updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("beat_codes")

    @admin.display(description="Beat classes")
    def code_list(self, obj):
        return ", ".join(obj.codes) or "—"

    @admin.display(description="Preview (as saved, sanitised)")
    def preview(self, obj):
        if not obj.pk:
            return "Save the article to see a preview."
        return format_html(
            '<div style="max-width: 48rem; border: 1px solid #ccc; padding: 1rem; background: #fff; color: #222">{}</div>'
            '<p><a href="{}" target="_blank">Open the page as readers see it</a></p>',
            mark_safe(obj.body_html),  # already sanitised by articles.markdown
            obj.get_absolute_url(),
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        article = form.instance
        wanted = set(form.cleaned_data.get("codes") or [])
        article.beat_codes.exclude(code__in=wanted).delete()
        existing = set(article.beat_codes.values_list("code", flat=True))
        ArticleBeatCode.objects.bulk_create(ArticleBeatCode(article=article, code=c) for c in sorted(wanted - existing))

    @admin.action(description="Publish selected articles")
    def publish(self, request, queryset):
        queryset.update(published=True)

    @admin.action(description="Unpublish selected articles")
    def unpublish(self, request, queryset):
        queryset.update(published=False)
