"""The vendor and staff REST API under /api/v1 (DRF, OpenAPI 3 by drf-spectacular).

Invariants:
- every view declares its route rule (``access_rule``, ``api=True``) and enforces it itself
  through ``permissions.RulePermission`` once DRF has authenticated the request;
- every read of student data goes through ``studentvault.records.selectors`` (authorized by
  ``access.policy``, audited; vendor releases recorded as FERPA 99.32 disclosures); no view
  queries a student model;
- every error is one JSON shape ``{"code", "detail", "field"}`` (``errors.api_exception_handler``);
- requests are throttled per actor (``throttling.ActorRateThrottle``).
"""
