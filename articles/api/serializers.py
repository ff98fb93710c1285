from rest_framework import serializers

from articles.models import Article, ArticleReference


class ArticleReferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = ArticleReference
        fields = ["name", "url"]


class ArticleLinkSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Article
        fields = ["slug", "title", "url"]


class ArticleListSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    beat_codes = serializers.ListField(source="codes", child=serializers.CharField(), read_only=True)

    class Meta:
        model = Article
        fields = ["slug", "title", "summary", "kind", "beat_codes", "url", "reviewed_on", "updated_at"]


class ArticleDetailSerializer(ArticleListSerializer):
    body_html = serializers.CharField(read_only=True, help_text="Sanitised HTML rendered from body.")
    references = ArticleReferenceSerializer(many=True, read_only=True)
    related_conditions = ArticleLinkSerializer(many=True, read_only=True)

    class Meta(ArticleListSerializer.Meta):
        fields = [*ArticleListSerializer.Meta.fields, "body", "body_html", "references", "related_conditions"]
