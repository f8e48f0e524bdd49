"""Small synthetic import files for the web and browser tests (students of the access world).

Kept out of conftest.py so test modules can import it by a name no other folder uses.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from studentvault.records.district_files import FILES, columns_of

STUDENT_COLUMNS = columns_of(next(spec for spec in FILES if spec.file == "students.csv"))


def student_row(n: int, **changes: str) -> dict[str, str]:
    """A students.csv row for access_world's synthetic student ``n`` (gender as a code: the
    world stores the letters F/M, so importing this row for a stored student changes it)."""
    row = {column: "" for column in STUDENT_COLUMNS}
    row.update(
        district_code="9999",
        sasid=f"{1000000000 + n}",
        local_id=f"L{n}",
        first_name=f"Synthetic{n}",
        last_name="Student",
        birth_date=(dt.date(2012, 1, 1) + dt.timedelta(days=n)).isoformat(),
        gender="01" if n % 2 else "02",
        hispanic_latino="0",
        american_indian_alaska_native="0",
        asian="0",
        black_african_american="0",
        white="1",
        native_hawaiian_pacific_islander="0",
        federal_race_ethnicity="05",
        language_background="eng",
        directory_opt_out="0",
        media_opt_out="0",
        military_recruiter_opt_out="0",
    )
    row.update(changes)
    return row


def students_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STUDENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def small_students_file() -> bytes:
    """One stored student changed (n = 1) and two new ones (n = 40, 41)."""
    return students_csv([student_row(1), student_row(40), student_row(41)])
