"""Plain-language articles about beat classes and the cardiovascular conditions linked to them."""

from django.db import models
from django.urls import reverse

from ml.classes import BEAT_CLASSES

BEAT_CODE_CHOICES = [(c.code, f"{c.code} · {c.name}") for c in BEAT_CLASSES]


class ArticleQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published=True)

    def visible_to(self, user):
        """Return the articles ``user`` may read: staff also see drafts."""
        if user is not None and user.is_authenticated and user.is_staff:
            return self
        return self.published()


class Article(models.Model):
    class Kind(models.TextChoices):
        BEAT_CLASS = "beat_class", "Beat class"
        CONDITION = "condition", "Condition"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True)
    summary = models.CharField(max_length=400, help_text="One or two sentences shown in lists and search results.")
    body = models.TextField(help_text="Markdown. HTML is sanitised when shown; scripts never run.")
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    related_conditions = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="related_from",
        limit_choices_to={"kind": Kind.CONDITION},
        help_text="Conditions this beat class is associated with (linked from results).",
    )
    reviewed_on = models.DateField(null=True, blank=True, help_text="When a clinician last reviewed the content.")
    published = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "title"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("articles:detail", kwargs={"slug": self.slug})

    @property
    def body_html(self):
        """Return the body rendered from Markdown and sanitised."""
        from articles.markdown import render_markdown

        return render_markdown(self.body)

    @property
    def codes(self):
        """Return the beat codes this article covers (uses a prefetch when present)."""
        return sorted(bc.code for bc in self.beat_codes.all())


class ArticleBeatCode(models.Model):
    """One beat class an article covers; a table (not JSON) so it is queryable on every backend."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="beat_codes")
    code = models.CharField(max_length=4, choices=BEAT_CODE_CHOICES, db_index=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["article", "code"], name="article_beat_code_unique")]

    def __str__(self):
        return self.code


class ArticleReference(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="references")
    name = models.CharField(max_length=200, help_text="The source, e.g. 'NHS — Atrial fibrillation'.")
    url = models.URLField(max_length=500)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class ArticleView(models.Model):
    """One read of a published article; counted per period for the "most read" metric."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="views")
    viewed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["article", "viewed_at"])]
