from rest_framework.routers import SimpleRouter

from articles.api.views import ArticleViewSet

app_name = "articles-api"

router = SimpleRouter()
router.register("articles", ArticleViewSet, basename="article")
urlpatterns = router.urls
