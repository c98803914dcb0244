from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases and shares"
    default_auto_field = "django.db.models.BigAutoField"
