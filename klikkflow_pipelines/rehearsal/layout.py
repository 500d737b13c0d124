"""Where the rehearsal keeps everything: one working directory, one folder per role.

```
<workdir>/operator/     KLIKKFLOW_HOME of the operator's commands (platform init, tenant create):
                        platform/secrets/*.env (the Secrets), platform/detokenize/ (gateway keys),
                        platform/audit-signing.key (the checkpointer's Secret)
<workdir>/tenants/      KLIKKFLOW_TENANTS_DIR: the rehearsal's tenant files and events/ files
<workdir>/deploy/       KLIKKFLOW_DEPLOY_DIR: the rendered manifests and Helm values
<workdir>/pods/<name>/  one folder per pod: HOME, KLIKKFLOW_HOME (the pod's /tmp), DAGSTER_HOME
<workdir>/witness/      the checkpointer's witness volume
<workdir>/postgres/     the private PostgreSQL cluster (owned by the postgres OS user when run as root)
<workdir>/logs/         every process's output, prefixed with its name
```

A tenant's daemon, code servers and run workers share the tenant's pod folder: it stands in for a
volume they all mount (the onboarding inbox the file-arrival sensor watches and the run reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """The paths of one rehearsal working directory."""

    root: Path

    @property
    def operator_home(self) -> Path:
        """KLIKKFLOW_HOME of the operator's commands (the Secrets' env files, the key files)."""
        return self.root / "operator"

    @property
    def tenants_dir(self) -> Path:
        """KLIKKFLOW_TENANTS_DIR: the rehearsal's tenant files and their events files."""
        return self.root / "tenants"

    @property
    def deploy_dir(self) -> Path:
        """KLIKKFLOW_DEPLOY_DIR: the manifests and Helm values the CLI renders."""
        return self.root / "deploy"

    @property
    def postgres_dir(self) -> Path:
        """The private PostgreSQL cluster (data directory, socket, log)."""
        return self.root / "postgres"

    @property
    def witness_dir(self) -> Path:
        """The checkpointer's witness volume."""
        return self.root / "witness"

    @property
    def log_file(self) -> Path:
        """Every process's output, each line prefixed with the process's name."""
        return self.root / "logs" / "processes.log"

    @property
    def drops_dir(self) -> Path:
        """Where sample files are written before they are moved into an inbox (atomically)."""
        return self.root / "drops"

    @property
    def workspaces_dir(self) -> Path:
        """The gateway's workspaces (the mounted ConfigMap): one gRPC workspace per tenant."""
        return self.pod("gateway") / "workspaces"

    @property
    def detokenize_dir(self) -> Path:
        """The detokenize private keys (the gateway's mounted Secret), as ``tenant create`` wrote them."""
        return self.operator_home / "platform" / "detokenize"

    @property
    def signing_key_file(self) -> Path:
        """The checkpoint signing key (the checkpointer's mounted Secret)."""
        return self.operator_home / "platform" / "audit-signing.key"

    def pod(self, name: str) -> Path:
        """The folder of one pod (``gateway``, ``checkpointer``, or a tenant id)."""
        return self.root / "pods" / name

    def pod_home(self, name: str) -> Path:
        """HOME and KLIKKFLOW_HOME of a pod (its writable ``/tmp`` in the image)."""
        return self.pod(name) / "home"

    def onboarding_inbox(self, tenant_id: str) -> Path:
        """The tenant's onboarding inbox as its pods see it (the template's default under KLIKKFLOW_HOME)."""
        return self.pod_home(tenant_id) / "klikkflow" / "tenants" / tenant_id / "inbox" / "onboarding"

    def dagster_home(self, tenant_id: str) -> Path:
        """DAGSTER_HOME of a tenant's daemon, code servers and run workers (its instance ConfigMap)."""
        return self.pod(tenant_id) / "dagster_home"

    def create(self) -> Layout:
        """Make the directories (the operator's and the pods' homes private to this user)."""
        for path in (self.tenants_dir / "events", self.deploy_dir, self.witness_dir, self.drops_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.operator_home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self
