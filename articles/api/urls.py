app_name = "articles-api"
urlpatterns = []
