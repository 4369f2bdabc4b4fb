from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "cmo.quality"
    label = "quality"
    verbose_name = "Quality and outcomes"
