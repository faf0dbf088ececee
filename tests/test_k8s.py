"""The PyTorch project's `k8s/pytorchjob.yaml`: a valid PyTorchJob (every key known to the Kubeflow
Training SDK's typed model, round trip equal), whose command runs the project's train; and that command,
given the environment the operator sets in each pod (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK), trains
two ranks to the same weights on this machine (no cluster needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dlpick.project import render
from tests.ports import reserved_port


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render.render("pytorch", "tabular-classification", tmp_path_factory.mktemp("k8s") / "k8s-demo").project_dir


def manifest(project: Path) -> dict:
    return yaml.safe_load((project / "k8s" / "pytorchjob.yaml").read_text())


def test_the_manifest_is_a_pytorchjob_the_training_sdk_reads_without_loss(project: Path):
    pytest.importorskip("kubeflow.training", reason="the Kubeflow Training SDK validates the manifest")
    from kubeflow.training import ApiClient

    data = manifest(project)
    client = ApiClient()
    job = client._ApiClient__deserialize(data, "KubeflowOrgV1PyTorchJob")  # noqa: SLF001 - the SDK's own reader
    assert job.kind == "PyTorchJob" and job.api_version == "kubeflow.org/v1"
    assert client.sanitize_for_serialization(job) == data, "a key the PyTorchJob model does not know was dropped"
    replicas = job.spec.pytorch_replica_specs
    assert set(replicas) == {"Master", "Worker"} and replicas["Master"].replicas == 1


def test_the_manifest_runs_the_projects_own_train_in_the_image_the_dockerfile_builds(project: Path):
    package = json.loads((project / ".cookiecutter.json").read_text())["package_name"]
    for spec in manifest(project)["spec"]["pytorchReplicaSpecs"].values():
        (container,) = spec["template"]["spec"]["containers"]
        assert container["command"][:3] == ["python", "-m", f"{package}.train"]
        assert container["image"].split(":")[0] == project.name
    assert "FROM python:" in (project / "Dockerfile").read_text()


@pytest.mark.integration
def test_the_operators_environment_is_all_train_needs(project: Path, tmp_path: Path):
    pytest.importorskip("torch")
    command = manifest(project)["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["command"]
    run = tmp_path / "run"
    argv = [sys.executable, *command[1:], "--smoke", "--device", "cpu", "--out", str(run)]  # --out: the last wins
    # MASTER_PORT: rank 0 binds it; a port outside the automatic range cannot be taken meanwhile
    with reserved_port() as master_port:
        port = str(master_port)
        pods = [
            subprocess.Popen(
                argv,
                cwd=project,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={
                    **os.environ,
                    "PYTHONPATH": "src",
                    "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": port,
                    "WORLD_SIZE": "2",
                    "RANK": str(rank),
                },
            )  # fmt: skip
            for rank in (0, 1)
        ]
        outputs = [pod.communicate(timeout=600)[0] for pod in pods]
        assert [pod.returncode for pod in pods] == [0, 0], "\n".join(out[-2000:] for out in outputs)
    ranks = [json.loads(p.read_text()) for p in sorted(run.glob("rank-*.json"))]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
