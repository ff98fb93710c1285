from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    label = "usage"
    verbose_name = "Usage metrics"

    def ready(self):
        from usage import signals  # noqa: F401  (connects the activity receivers)
