from django import template

from articles.selectors import article_links_for_codes as _links

register = template.Library()


@register.inclusion_tag("articles/includes/links_for_codes.html")
def article_links_for_codes(codes):
    """Render links to the articles for ``codes`` (an iterable of beat codes)."""
    return {"article_links": _links(codes=codes)}
