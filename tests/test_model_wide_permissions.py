"""A model-wide permission would defeat every object check: the drift command reports it."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from permissions.grants import model_wide_holders


def test_nobody_holds_a_model_wide_permission_after_ordinary_use(submitted, lead, practitioner):
    assert model_wide_holders() == []


def test_a_model_wide_permission_given_directly_is_reported(practitioner, capsys):
    practitioner.user_permissions.add(Permission.objects.get(codename="view_share"))

    assert model_wide_holders() == [(practitioner.pk, "cases.view_share")]
    with pytest.raises(CommandError, match="model-wide"):
        call_command("sync_permissions", "--fix")
    assert f"user #{practitioner.pk} holds cases.view_share" in capsys.readouterr().out


def test_a_model_wide_permission_through_a_group_is_reported(colleague):
    group = Group.objects.create(name="Everyone")
    group.permissions.add(Permission.objects.get(codename="view_case"))
    colleague.groups.add(group)

    assert model_wide_holders() == [(colleague.pk, "cases.view_case")]


def test_a_superuser_is_reported(lead):
    lead.is_superuser = True
    lead.save(update_fields=["is_superuser"])

    assert model_wide_holders() == [(lead.pk, "superuser")]
