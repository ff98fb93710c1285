from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import permissions, viewsets
from rest_framework.exceptions import ValidationError

from articles.api.serializers import ArticleDetailSerializer, ArticleListSerializer
from articles.forms import ArticleSearchForm
from articles.selectors import article_get, article_list
from ecgportal.api_schema import form_parameters

LIST_PARAMETERS = form_parameters(ArticleSearchForm, {
    "q": "Words to find in title, summary or body.",
    "code": "Beat class code: N, L, R, A, V, P, VF or E.",
})


@extend_schema_view(list=extend_schema(parameters=LIST_PARAMETERS))
class ArticleViewSet(viewsets.ReadOnlyModelViewSet):
    """Read the published articles (public, like the pages)."""

    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"

    def get_queryset(self):
        form = ArticleSearchForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        filters = form.cleaned_data
        return article_list(
            user=self.request.user,
            query=filters.get("q", ""),
            kind=filters.get("kind", ""),
            code=filters.get("code", ""),
        )

    def get_object(self):
        return article_get(user=self.request.user, slug=self.kwargs["slug"])

    def get_serializer_class(self):
        return ArticleDetailSerializer if self.action == "retrieve" else ArticleListSerializer
