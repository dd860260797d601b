from django.apps import AppConfig


class FixConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.fix"
    label = "fix"
