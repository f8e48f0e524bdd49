"""The /api/v1 endpoints. Views translate HTTP to selector calls; they never query a student
model. Each declares its route rule and enforces it through ``RulePermission``."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.core import signing
from django.utils.http import urlencode
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from studentvault.access.guards import rule
from studentvault.access.policy import scope_denial
from studentvault.core.categories import RESTRICTED_CATEGORIES, DataCategory
from studentvault.records import selectors
from studentvault.records.codes import code_set

from . import serializers as docs
from .authentication import StaffSessionAuthentication, VendorTokenAuthentication
from .errors import ErrorSerializer, api_exception_handler
from .permissions import RulePermission, api_actor, refusal
from .throttling import ActorRateThrottle

CURSOR_SALT = "studentvault.api.students.cursor"
SCHOOL_CODE = re.compile(r"^\d{4}$")
MAX_LIMIT = 200
ERRORS = {status: ErrorSerializer for status in (400, 401, 403, 404, 429)}


class Invalid(exceptions.ValidationError):
    """400 naming the parameter at fault."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__({field: [exceptions.ErrorDetail(message, code)]})


class ApiView(APIView):
    """Base of every endpoint: Bearer or session authentication, the rule, throttling, JSON."""

    authentication_classes: Any = [
        VendorTokenAuthentication,
        StaffSessionAuthentication,
    ]
    permission_classes: Any = [RulePermission]
    throttle_classes: Any = [ActorRateThrottle]
    renderer_classes: Any = [JSONRenderer]
    parser_classes: Any = [JSONParser]

    def get_exception_handler(self) -> Any:
        return api_exception_handler


def _refuse_unreachable(request: Request) -> None:
    """403 with the reason when the caller reaches no student in either student category."""
    actor = api_actor(request)
    denials = [scope_denial(actor, c) for c in selectors.API_STUDENT_CATEGORIES]
    if all(d is not None for d in denials):
        first = denials[-1]
        assert first is not None
        raise refusal(first.value)


def _decode_cursor(raw: str) -> int:
    try:
        after = signing.loads(raw, salt=CURSOR_SALT)
    except signing.BadSignature:
        raise Invalid("cursor", "The cursor is not one this API issued.") from None
    if not isinstance(after, int) or after < 0:
        raise Invalid("cursor", "The cursor is not one this API issued.")
    return after


def _limit(raw: str) -> int:
    if not raw:
        return selectors.API_PAGE_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid("limit", f"The page size is a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


@rule(authenticated=True, api=True)
class StudentListView(ApiView):
    """Students in the caller's reach, by id; filter by school (state code) and grade."""

    @extend_schema(
        operation_id="students_list",
        parameters=[
            OpenApiParameter("school", OpenApiTypes.STR, description="School state code"),
            OpenApiParameter("grade", OpenApiTypes.STR, description="Grade level code"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="Opaque next-page cursor"),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Page size, 1 to {MAX_LIMIT} (default 50)"
            ),
        ],
        responses={200: docs.student_page_serializer(), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        school = request.query_params.get("school", "")
        grade = request.query_params.get("grade", "")
        cursor = request.query_params.get("cursor", "")
        if school and not SCHOOL_CODE.match(school):
            raise Invalid("school", "A school is named by its 4-digit state code.")
        if grade and grade not in code_set("grade_level"):
            raise Invalid("grade", "Unknown grade level code.")
        after = _decode_cursor(cursor) if cursor else 0
        limit = _limit(request.query_params.get("limit", ""))
        _refuse_unreachable(request)
        try:
            page = selectors.api_student_page(
                actor=api_actor(request),
                school_code=school,
                grade_level=grade,
                after_id=after,
                limit=limit,
            )
        except selectors.FilterNotAllowed as problem:
            raise Invalid(problem.field, str(problem), "filter_not_allowed") from None
        next_url = None
        if page.next_after is not None:
            query = {k: v for k, v in (("school", school), ("grade", grade)) if v}
            if limit != selectors.API_PAGE_LIMIT:
                query["limit"] = str(limit)
            query["cursor"] = signing.dumps(page.next_after, salt=CURSOR_SALT)
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(query)}")
        return Response({"next": next_url, "results": page.students})


@rule(authenticated=True, api=True)
class StudentDetailView(ApiView):
    """One student's own fields the caller may receive."""

    @extend_schema(
        operation_id="students_retrieve", responses={200: docs.student_serializer(), **ERRORS}
    )
    def get(self, request: Request, student_id: int) -> Response:
        try:
            body = selectors.api_student_detail(actor=api_actor(request), student_id=student_id)
        except selectors.StudentNotFound:
            _refuse_unreachable(request)  # 403 with the reason when nobody is reachable
            raise exceptions.NotFound("No such student in your reach.") from None
        return Response(body)


class CategoryView(ApiView):
    """A student's records of one category (subclasses name the category)."""

    category: ClassVar[DataCategory]

    def get(self, request: Request, student_id: int) -> Response:
        purpose = request.query_params.get("purpose", "")
        if purpose and purpose not in code_set("access_purpose"):
            raise Invalid("purpose", "Unknown purpose code (code set access_purpose).")
        try:
            found = selectors.api_student_category(
                actor=api_actor(request),
                student_id=student_id,
                category=self.category,
                purpose=purpose,
            )
        except selectors.StudentNotFound:
            raise exceptions.NotFound("No such student in your reach.") from None
        except selectors.PurposeRequired:
            raise Invalid(
                "purpose",
                "This category is restricted: state a purpose (code set access_purpose).",
                "purpose_required",
            ) from None
        return Response(
            {
                "student": found.student_id,
                "category": found.category.value,
                "fields": found.fields,
                "records": found.records,
            }
        )


def _category_view(category: DataCategory, slug: str) -> type[CategoryView]:
    parameters = []
    if category in RESTRICTED_CATEGORIES:
        parameters.append(
            OpenApiParameter(
                "purpose",
                OpenApiTypes.STR,
                enum=[code for code, _ in code_set("access_purpose").choices],
                description="Why you need this restricted category (staff; logged)",
            )
        )
    schema = extend_schema(
        operation_id=f"students_{slug.replace('-', '_')}",
        parameters=parameters,
        responses={200: docs.category_serializer(category), **ERRORS},
    )

    def get(self: CategoryView, request: Request, student_id: int) -> Response:
        return CategoryView.get(self, request, student_id)

    view = type(
        f"{category.name.title().replace('_', '')}View",
        (CategoryView,),
        {
            "category": category,
            "get": schema(get),
            "__doc__": f"A student's {category.label} records the caller may receive.",
        },
    )
    return rule(student_data=category, api=True)(view)


CATEGORY_VIEWS: dict[str, type[CategoryView]] = {
    slug: _category_view(category, slug)
    for slug, category in (
        ("enrollments", DataCategory.ENROLLMENT),
        ("programs", DataCategory.PROGRAMS),
        ("special-education", DataCategory.SPECIAL_EDUCATION),
        ("english-learners", DataCategory.ENGLISH_LEARNERS),
        ("assessments", DataCategory.ASSESSMENTS),
        ("courses", DataCategory.COURSES),
    )
}


@rule(authenticated=True, api=True)
class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema, for authenticated callers only."""

    authentication_classes = ApiView.authentication_classes
    permission_classes = ApiView.permission_classes
    throttle_classes = ApiView.throttle_classes
    serve_public = True

    def get_exception_handler(self) -> Any:
        return api_exception_handler

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if response.status_code >= 400:  # errors in the API's JSON shape, never YAML
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


@rule(authenticated=True, api=True)
class NotFoundView(ApiView):
    """Any other path under /api/: 401 without credentials, else 404, in the API's shape."""

    @extend_schema(exclude=True)
    def get(self, request: Request, rest: str = "") -> Response:
        raise exceptions.NotFound("No such API resource.")
