"""The access gateway: sign-in (OIDC, local accounts with TOTP MFA), sessions, API tokens,
per-tenant RBAC on every GraphQL operation, rate limits, metrics and audit, in front of
each tenant's Dagster webserver mounted in-process at ``/t/<tenant>/``.
"""
