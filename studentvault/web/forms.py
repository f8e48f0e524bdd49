"""Forms of the staff UI."""

from __future__ import annotations

from typing import Any

from django import forms

from studentvault.records.codes import code_set


class StudentSearchForm(forms.Form):
    """Exact search by SASID, local ID, or last name with birth date; school and grade filters."""

    sasid = forms.RegexField(
        regex=r"^\s*\d{10}\s*$",
        required=False,
        max_length=12,
        error_messages={"invalid": "A SASID has exactly 10 digits."},
    )
    local_id = forms.CharField(required=False, max_length=20)
    last_name = forms.CharField(required=False, max_length=60)
    birth_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="YYYY-MM-DD"
    )
    school = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    grade_level = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, schools: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        school: Any = self.fields["school"]
        school.choices = [("", "Any school"), *schools]
        grade: Any = self.fields["grade_level"]
        grade.choices = [("", "Any grade"), *code_set("grade_level").choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("last_name")) != bool(data.get("birth_date")):
            raise forms.ValidationError(
                "Search by name needs both the last name and the birth date."
            )
        return data


class PurposeForm(forms.Form):
    """Why the reader needs restricted categories; recorded in the audit log."""

    purpose = forms.ChoiceField(choices=code_set("access_purpose").choices)
    details = forms.CharField(required=False, max_length=200, widget=forms.TextInput())
