from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.api"
    label = "api"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers the OpenAPI security schemes
