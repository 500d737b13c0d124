"""Governance of tenant code: every Definitions a tenant runs passes :func:`govern_definitions`."""

from klikkflow_pipelines.governance.findings import GovernanceFinding, ungoverned_assets
from klikkflow_pipelines.governance.wrap import govern_definitions

__all__ = ["GovernanceFinding", "govern_definitions", "ungoverned_assets"]
