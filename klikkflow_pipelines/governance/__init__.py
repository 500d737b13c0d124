"""Governance of tenant code: every Definitions a tenant runs passes :func:`govern_definitions`."""

from klikkflow_pipelines.governance.wrap import govern_definitions

__all__ = ["govern_definitions"]
