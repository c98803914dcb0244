"""Append-only records: once written, a decision or release is never changed or removed."""

from __future__ import annotations

from typing import Any

from django.db import models


class ImmutableRecordError(Exception):
    """Raised on any attempt to change or remove an append-only record."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecordError(f"{self.model.__name__} records cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(f"{self.model.__name__} records cannot be deleted.")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        # An upsert would rewrite existing rows; plain inserts are the only way in.
        if kwargs.get("update_conflicts"):
            raise ImmutableRecordError(f"{self.model.__name__} records cannot be rewritten.")
        return super().bulk_create(objs, *args, **kwargs)


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True
        # Django's internal manager must refuse rewrites too. Subclasses keep this by
        # declaring ``class Meta(AppendOnlyModel.Meta)``.
        base_manager_name = "objects"

    def save(self, *args: Any, **kwargs: Any) -> None:
        exists = self.pk is not None and type(self)._default_manager.filter(pk=self.pk).exists()
        if not self._state.adding or exists:
            raise ImmutableRecordError(
                f"{type(self).__name__} #{self.pk} is a permanent record; add a new one instead."
            )
        # Forced INSERT: an instance carrying an existing primary key must fail, not overwrite.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(f"{type(self).__name__} records cannot be deleted.")
