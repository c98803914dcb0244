from django.apps import AppConfig


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"
