"""The real routes plus /bench/baseline/<id>/: the same kind of answer (one student row as
JSON, through DRF and the same middleware) with authorization, decryption and audit switched
off. It reads the stored columns as they are (ciphertext), asks no policy and writes no entry.
It exists only in this bench package, so production cannot route to it."""

from typing import Any

from django.db import connection
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from studentvault.access.guards import rule

COLUMNS = "id, first_name, last_name, birth_date, gender, sasid, local_id"


@rule(public=True, api=True)
class BaselineView(APIView):
    """One records_student row, no authorization, no decryption, no audit (bench only)."""

    authentication_classes: Any = []
    permission_classes: Any = [AllowAny]
    throttle_classes: Any = []
    renderer_classes: Any = [JSONRenderer]

    def get(self, request: Request, student_id: int) -> Response:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS} FROM records_student WHERE id = %s",  # noqa: S608 - constant
                [student_id],
            )
            row = cursor.fetchone()
        names = [c.strip() for c in COLUMNS.split(",")]
        values = [v.hex() if isinstance(v, bytes | memoryview) else str(v) for v in row or []]
        return Response(dict(zip(names, values, strict=False)))


urlpatterns = [
    path("bench/baseline/<int:student_id>/", BaselineView.as_view()),
    path("", include("config.urls")),
]
