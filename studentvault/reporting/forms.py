"""The staff form that chooses a report, a school year, a rule set and subgroups."""

from __future__ import annotations

from typing import Any

from django import forms

from studentvault.reporting.disclosure import get_rule_set, rule_set_names

from .aggregates import SUBGROUPS
from .reports import REPORTS


class ReportRunForm(forms.Form):
    """Validated choices for ``services.report_run``; unknown names are refused here."""

    report = forms.ChoiceField(choices=[(d.name, d.title) for d in REPORTS.values()])
    school_year = forms.IntegerField(
        min_value=2000, max_value=2100, help_text="Ending year (2027 = 2026-27)"
    )
    rule_set = forms.ChoiceField(choices=[])
    subgroups = forms.MultipleChoiceField(
        choices=[(s.code, s.label) for s in SUBGROUPS.values()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: the report's default subgroups",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["rule_set"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, name) for name in rule_set_names()]
        field.initial = get_rule_set().name
