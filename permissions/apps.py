from django.apps import AppConfig


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .accounts.signin import signed_in_elsewhere

        # A sign-in by some other page (a host project's): marked at once for whoever
        # needs no second factor, so their first Safeshare page costs no more than the next.
        user_logged_in.connect(signed_in_elsewhere, dispatch_uid="safeshare-signed-in-elsewhere")
