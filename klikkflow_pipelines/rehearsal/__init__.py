"""The production rehearsal (``make rehearse``): the production shape end to end on one machine.

A private PostgreSQL cluster with password authentication and per-tenant roles, an S3-compatible
server, secrets as Kubernetes-Secret-shaped env files, the gateway, one daemon and code server per
tenant location, run workers (Dagster's DefaultRunLauncher standing in for the K8sRunLauncher) and
the audit checkpointer, each process with only the environment its pod would have. Two tenants'
sample workflows are triggered by schedule, webhook, file drop and a launch through the gateway;
:func:`klikkflow_pipelines.rehearsal.run.rehearse` returns the checks' results.
"""
