"""Article pages: the searchable list and one article."""

from django.core.paginator import Paginator
from django.shortcuts import render

from articles.forms import ArticleSearchForm
from articles.selectors import article_get, article_list
from articles.services import article_record_view


def article_list_view(request):
    form = ArticleSearchForm(request.GET or None)
    form.is_valid()  # an invalid filter is dropped; the valid ones still apply
    filters = getattr(form, "cleaned_data", {})
    articles = article_list(
        user=request.user,
        query=filters.get("q", ""),
        kind=filters.get("kind", ""),
        code=filters.get("code", ""),
    )
    page = Paginator(articles, 20).get_page(request.GET.get("page"))
    querystring = request.GET.copy()
    querystring.pop("page", None)
    return render(
        request,
        "articles/article_list.html",
        {"form": form, "page_obj": page, "articles": page.object_list, "querystring": querystring.urlencode()},
    )


def article_detail_view(request, slug):
    article = article_get(user=request.user, slug=slug)
    article_record_view(article=article)
    return render(request, "articles/article_detail.html", {"article": article})
