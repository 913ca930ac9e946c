"""Form widgets written in Python where Django's per-option templates cost too much."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.safestring import SafeString

from fleetsite.ui import html_text


class QuickSelect(forms.Select):
    """A `<select>` with the same HTML as Django's, its options joined in Python.

    Django renders every option through two template includes: the hosts list's filter bar
    (about forty options) spent 3.5 ms a page there, more than on its 100 rows. Grouped
    choices still go through Django's templates.
    """

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        choices = list(self.choices)
        if any(isinstance(label, (list, tuple)) for _, label in choices):
            return super().render(name, value, attrs, renderer)
        selected = {str(item) for item in self.format_value(value)}
        options = "".join(
            f'<option value="{html_text(option)}"{" selected" if str(option) in selected else ""}>'
            f"{html_text(label)}</option>"
            for option, label in choices
        )
        return SafeString(
            f'<select name="{html_text(name)}"{_attributes(self.build_attrs(self.attrs, attrs))}>{options}</select>'
        )


class QuickInput(forms.TextInput):
    """An `<input>` (text by default; `input_type` for search or hidden) with the same HTML as Django's.

    Django writes each input through two templates, 0.1 ms apiece: the hosts filter bar has
    two of them on every page.
    """

    def __init__(self, attrs: dict[str, Any] | None = None, input_type: str | None = None) -> None:
        super().__init__(attrs)
        if input_type is not None:
            self.input_type = input_type

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        value = self.format_value(value)
        shown = "" if value is None else f' value="{html_text(value)}"'
        return SafeString(
            f'<input type="{html_text(self.input_type)}" name="{html_text(name)}"{shown}'
            f"{_attributes(self.build_attrs(self.attrs, attrs))}>"
        )


def _attributes(attrs: dict[str, Any]) -> str:
    """Attributes in the order given, as django/forms/widgets/attrs.html writes them."""
    return "".join(
        f" {name}" if value is True else f' {name}="{html_text(value)}"'
        for name, value in attrs.items()
        if value is not False
    )
