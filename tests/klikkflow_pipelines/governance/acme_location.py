"""The sample tenant project as KlikkFlow loads it: ``acme_pipelines`` governed for ``$KLIKKFLOW_TENANT``.

The code location of the daemon test's workspace (its working directory puts the
tenant project on ``sys.path``).
"""

import os

import acme_pipelines.definitions

from klikkflow_pipelines.governance import govern_definitions
from klikkflow_pipelines.tenancy.config import load_tenant

defs = govern_definitions(
    acme_pipelines.definitions.defs,
    load_tenant(os.environ["KLIKKFLOW_TENANT"]),
    "acme_pipelines/definitions.py",
)
