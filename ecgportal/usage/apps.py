from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "ecgportal.usage"
    label = "usage"
    verbose_name = "Usage metrics"
