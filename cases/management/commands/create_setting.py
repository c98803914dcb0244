"""The first step of a real installation: a setting and its lead, with no superuser and no
shell. The lead chooses a password from the link printed, then sets up their second factor
and everything else of the setting from its pages."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from cases.choices import CalendarRegion, OrganisationKind
from cases.errors import RuleViolation
from cases.services import setting_create
from permissions.accounts.passwords import first_password_link


def _key(text: str) -> str:
    # "England and Wales", "england-and-wales" and "england_wales" are one key.
    return "".join(word for word in re.split(r"[^a-z]+", text.lower()) if word != "and")


def _choice(given: str, choices: type[OrganisationKind] | type[CalendarRegion], what: str) -> str:
    """A choice as typed on a command line: its value ("england_wales"), with hyphens
    ("england-and-wales"), or its label, in any case."""
    wanted = _key(given)
    for value, label in choices.choices:
        if wanted in {_key(str(value)), _key(str(label)), _key(str(label).split(" (")[0])}:
            return str(value)
    listed = ", ".join(slugify(str(label).split(" (")[0]) for _, label in choices.choices)
    raise CommandError(f"{given!r} is not a {what} Safeshare knows. Choose one of: {listed}.")


class Command(BaseCommand):
    help = (
        "Create a setting and its Designated Safeguarding Lead, and print a one-time link with "
        "which the lead chooses a password (then sets up their authenticator app)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The setting's name, as its staff and families know it.")
        parser.add_argument(
            "--kind",
            required=True,
            help="One of: " + ", ".join(v.replace("_", "-") for v in OrganisationKind.values),
        )
        parser.add_argument(
            "--region",
            default="england-and-wales",
            help="Whose bank holidays count: england-and-wales (default), scotland, "
            "northern-ireland.",
        )
        parser.add_argument(
            "--public-authority",
            action="store_true",
            help="A maintained school, academy, NHS body or council (its lawful basis for "
            "sharing is usually public task).",
        )
        parser.add_argument("--timezone", default="Europe/London")
        parser.add_argument("--lead-email", required=True, help="The lead's work email.")
        parser.add_argument("--lead-name", required=True, help="The lead's full name.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organisation, lead = setting_create(
                name=options["name"],
                kind=_choice(options["kind"], OrganisationKind, "kind of setting"),
                calendar_region=_choice(options["region"], CalendarRegion, "calendar region"),
                is_public_authority=options["public_authority"],
                timezone=options["timezone"],
                lead_email=options["lead_email"],
                lead_name=options["lead_name"],
            )
        except RuleViolation as refused:
            raise CommandError(" ".join(refused.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{organisation} is set up, with {options['lead_name'].strip()} as its "
                f"Designated Safeguarding Lead (username {lead.get_username()})."
            )
        )
        if lead.has_usable_password():
            # Their account is older than this setting (they lead another): a link here
            # would let whoever reads this output choose their password.
            self.stdout.write("They already have an account: they sign in with it as before.")
            return
        self.stdout.write(
            "Send the lead this link (it works once, for a limited time). They choose a "
            "password, then set up an authenticator app at their first sign-in:"
        )
        self.stdout.write(first_password_link(lead))
