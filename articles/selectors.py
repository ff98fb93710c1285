"""Reads for articles: links for predicted beat classes, the list with search and filters, one article."""

from django.db.models import Count, Prefetch, Q
from django.http import Http404

from articles.models import Article, ArticleBeatCode
from ml.classes import BY_CODE, BY_SYMBOL


def _normalise_codes(codes):
    """Return known beat codes in first-seen order; MIT-BIH symbols ("/", "!") map to their codes."""
    seen = []
    for raw in codes or ():
        raw = str(raw).strip()
        code = raw if raw in BY_CODE else getattr(BY_SYMBOL.get(raw), "code", None)
        if code and code not in seen:
            seen.append(code)
    return seen


def article_links_for_codes(*, codes):
    """Return, for each beat code, its published article and the conditions linked to it.

    Each item is ``{code, title, url, conditions: [{title, url}]}``, in the order of ``codes``;
    codes without a published beat-class article are left out. Two queries whatever the input.
    """
    wanted = _normalise_codes(codes)
    if not wanted:
        return []
    conditions = Prefetch(
        "article__related_conditions",
        queryset=Article.objects.published().order_by("title").only("title", "slug"),
        to_attr="published_conditions",
    )
    rows = (
        ArticleBeatCode.objects.filter(
            code__in=wanted, article__published=True, article__kind=Article.Kind.BEAT_CLASS
        )
        .select_related("article")
        .prefetch_related(conditions)
        .order_by("code", "article__title")
    )
    by_code = {}
    for row in rows:
        by_code.setdefault(row.code, row.article)  # the first title wins if two articles share a code
    links = []
    for code in wanted:
        article = by_code.get(code)
        if article is None:
            continue
        links.append(
            {
                "code": code,
                "title": article.title,
                "url": article.get_absolute_url(),
                "conditions": [
                    {"title": c.title, "url": c.get_absolute_url()} for c in article.published_conditions
                ],
            }
        )
    return links


def article_list(*, user=None, query="", kind="", code=""):
    """Return the articles ``user`` may read, filtered by search text, kind and beat code.

    Every word of ``query`` must appear in the title, summary or body (case-insensitive).
    """
    qs = Article.objects.visible_to(user).prefetch_related("beat_codes")
    for word in (query or "").split()[:8]:
        qs = qs.filter(Q(title__icontains=word) | Q(summary__icontains=word) | Q(body__icontains=word))
    if kind in Article.Kind.values:
        qs = qs.filter(kind=kind)
    if code:
        normalised = _normalise_codes([code])
        if not normalised:
            return qs.none()
        qs = qs.filter(beat_codes__code=normalised[0])
    return qs.order_by("kind", "title").distinct()


def article_get(*, user=None, slug):
    """Return the article with ``slug`` or raise Http404 (drafts are visible to staff only)."""
    qs = Article.objects.visible_to(user).prefetch_related(
        "beat_codes",
        "references",
        Prefetch("related_conditions", queryset=Article.objects.visible_to(user).order_by("title")),
        Prefetch("related_from", queryset=Article.objects.visible_to(user).order_by("title")),
    )
    try:
        return qs.get(slug=slug)
    except Article.DoesNotExist:
        raise Http404("No such article.") from None


def article_most_read(*, start=None, end=None, limit=10):
    """Return published articles annotated with ``reads`` in [start, end), most read first."""
    window = Q()
    if start is not None:
        window &= Q(views__viewed_at__gte=start)
    if end is not None:
        window &= Q(views__viewed_at__lt=end)
    return (
        Article.objects.published()
        .annotate(reads=Count("views", filter=window))
        .filter(reads__gt=0)
        .order_by("-reads", "title")
        .values("title", "slug", "reads")[:limit]
    )
