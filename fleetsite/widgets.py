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
        return select_html(name, choices, self.format_value(value), self.build_attrs(self.attrs, attrs))


def select_html(name: str, choices: list[tuple[Any, Any]], selected: Any, attrs: dict[str, Any]) -> SafeString:
    """A `<select>` of flat `choices` as Django writes it, `selected` being one value or a list of them."""
    chosen = {str(item) for item in selected} if isinstance(selected, (list, tuple)) else {str(selected)}
    options = "".join(
        f'<option value="{html_text(option)}"{" selected" if str(option) in chosen else ""}>{html_text(label)}</option>'
        for option, label in choices
    )
    return SafeString(f'<select name="{html_text(name)}"{_attributes(attrs)}>{options}</select>')


def _attributes(attrs: dict[str, Any]) -> str:
    """Attributes in the order given, as django/forms/widgets/attrs.html writes them."""
    return "".join(
        f" {name}" if value is True else f' {name}="{html_text(value)}"'
        for name, value in attrs.items()
        if value is not False
    )
