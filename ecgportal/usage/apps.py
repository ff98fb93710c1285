from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "ecgportal.usage"
    label = "usage"
    verbose_name = "Usage metrics"

    def ready(self):
        from ecgportal.usage import signals  # noqa: F401  (connects the activity receivers)
