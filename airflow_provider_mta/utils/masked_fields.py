"""Template fields that hold phone numbers, rendered for the task but stored and shown masked.

Airflow stores each template field's rendered value, as the task holds it after rendering, in the metadata
table ``rendered_task_instance_fields`` (the Rendered Templates tab). An operator with this mixin keeps the
rendered values of ``masked_template_fields`` in a private attribute and leaves a masked view (every number
keeps its last 4 digits) in the field; it reads the real values with :meth:`unmasked`, so what is sent is exact.
This works the same on every Airflow 3 release: it changes the task's fields, not how Airflow serializes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_REAL = "_mta_unmasked_fields"
_VIEWS = "_mta_masked_views"


class MaskedTemplateFields:
    """Mixin for operators: call :meth:`_restore_unmasked` before rendering and :meth:`_mask_rendered` after."""

    masked_template_fields: Sequence[str] = ()

    def masked_view(self, name: str, value: Any) -> Any:
        """The masked form of the rendered field ``name`` (default: recipients, each masked)."""
        from airflow_provider_mta.core.masking import mask_recipients

        return mask_recipients(value)

    def unmasked(self, name: str) -> Any:
        """The rendered value of ``name``: the field itself when the task was not rendered, or when something
        assigned the field after rendering (its masked view is no longer there)."""
        real: dict[str, Any] = self.__dict__.get(_REAL) or {}
        views: dict[str, Any] = self.__dict__.get(_VIEWS) or {}
        current = getattr(self, name)
        if name in real and name in views and current is views[name]:
            return real[name]
        return current

    def _restore_unmasked(self) -> None:
        """Put the real values back (rendering again renders them, not their masked view)."""
        real: dict[str, Any] = self.__dict__.pop(_REAL, None) or {}
        views: dict[str, Any] = self.__dict__.pop(_VIEWS, None) or {}
        for name, value in real.items():
            if name in views and getattr(self, name) is views[name]:  # not reassigned since
                setattr(self, name, value)

    def _mask_rendered(self) -> None:
        real = {name: getattr(self, name) for name in self.masked_template_fields}
        views = {name: self.masked_view(name, value) for name, value in real.items()}
        for name, view in views.items():
            setattr(self, name, view)
        self.__dict__[_REAL] = real
        self.__dict__[_VIEWS] = views


class MaskedRendering(MaskedTemplateFields):
    """:class:`MaskedTemplateFields` that also renders around the masking (operators that render nothing else
    specially); one that renders some field its own way overrides ``_do_render_template_fields`` instead."""

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        """Render as Airflow does (mapped tasks too), then keep the real values and leave the masked views."""
        if parent is not self:
            super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)  # type: ignore[misc]
            return
        self._restore_unmasked()
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)  # type: ignore[misc]
        self._mask_rendered()
