"""Need-to-know authorization: roles, grants, the decision point, guards and the matrix.

The public interface is ``studentvault.access.policy`` (``may``, ``student_scope_filter``,
``visible_students``, ``contract_fields``) and ``studentvault.access.guards`` (``rule``); see
docs/architecture-access.md.
"""
