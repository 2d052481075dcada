"""Target resolution: the local service by data dir or endpoint, or OCI by profile/region."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.console.errors import ConsoleError, ExitCode, TargetUnavailableError
from notebook_launcher.console.target import (
    LocalTarget,
    OciTarget,
    TargetOptions,
    parse_oci_uri,
    resolve_target,
)

TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancy"
USER = "ocid1.user.oc1..aaaaaaaauser"


def write_oci_config(path: Path, region: str = "us-ashburn-1", profile: str = "DEFAULT") -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    key_file = path.parent / "key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.write_text(
        f"[{profile}]\nuser={USER}\nfingerprint=aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99\n"
        f"tenancy={TENANCY}\nregion={region}\nkey_file={key_file}\n"
    )
    return path


def local_data_dir(tmp_path: Path, *, pid: int | None = None, with_service: bool = True) -> Path:
    data_dir = tmp_path / "ds"
    config = write_oci_config(data_dir / "oci" / "config")
    if with_service:
        info = {
            "endpoint": "http://127.0.0.1:4567",
            "pid": os.getpid() if pid is None else pid,
            "configFile": str(config),
            "namespace": "localns",
        }
        (data_dir / "service.json").write_text(json.dumps(info))
    return data_dir


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_without_a_service_json_the_error_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailableError) as caught:
        resolve_target(TargetOptions(data_dir=tmp_path / "nothing"))
    assert caught.value.message == (
        f"no local service at {tmp_path / 'nothing'}: start it with `make serve` "
        "(or `python -m notebook_launcher serve`)"
    )
    assert caught.value.exit_code == ExitCode.UNAVAILABLE


def test_a_stale_service_json_is_not_a_running_service(tmp_path: Path) -> None:
    data_dir = local_data_dir(tmp_path, pid=dead_pid())
    with pytest.raises(TargetUnavailableError, match="stale"):
        resolve_target(TargetOptions(data_dir=data_dir))


def test_the_running_service_of_the_data_dir(tmp_path: Path) -> None:
    data_dir = local_data_dir(tmp_path)
    target = resolve_target(TargetOptions(data_dir=data_dir))
    assert isinstance(target, LocalTarget)
    assert target.endpoint == "http://127.0.0.1:4567"
    assert target.namespace == "localns"
    assert target.compartment_id == TENANCY
    config = target.function_config("ocid1.datascienceproject.oc1.iad.p")
    assert config["OCI_ODSC_SERVICE_ENDPOINT"] == "http://127.0.0.1:4567"
    assert config["NL_OCI_CONFIG_FILE"] == str(data_dir / "oci" / "config")
    assert config["NL_COMPARTMENT_ID"] == TENANCY
    assert config["NL_ALLOW_LOCAL_NOTEBOOKS"] == "true"
    assert config["NL_OUTPUT_FOLDER"].startswith("oci://notebook-output@localns/")


def test_an_endpoint_uses_the_data_dirs_config_without_a_service_json(tmp_path: Path) -> None:
    data_dir = local_data_dir(tmp_path, with_service=False)
    target = resolve_target(TargetOptions(data_dir=data_dir, endpoint="http://10.0.0.5:8765/"))
    assert isinstance(target, LocalTarget)
    assert target.endpoint == "http://10.0.0.5:8765"
    assert target.config_file == data_dir / "oci" / "config"


def test_an_endpoint_without_a_config_to_sign_with_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailableError, match="no OCI config"):
        resolve_target(TargetOptions(data_dir=tmp_path, endpoint="http://127.0.0.1:1"))


def test_profile_or_region_selects_oci_with_the_users_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write_oci_config(tmp_path / ".oci" / "config", profile="WORK", region="eu-frankfurt-1")
    target = resolve_target(TargetOptions(profile="WORK"))
    assert isinstance(target, OciTarget)
    assert target.endpoint is None  # the region's
    assert target.config["region"] == "eu-frankfurt-1"
    assert target.describe() == "OCI (eu-frankfurt-1, profile WORK)"

    write_oci_config(tmp_path / ".oci" / "config", region="eu-frankfurt-1")
    target = resolve_target(TargetOptions(region="us-phoenix-1"))
    assert isinstance(target, OciTarget)
    assert target.config["region"] == "us-phoenix-1"
    assert target.datascience.base_client.endpoint.startswith(
        "https://datascience.us-phoenix-1.oci.oraclecloud.com"
    )


def test_a_missing_oci_profile_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(TargetUnavailableError, match="cannot use OCI profile 'NOPE'"):
        resolve_target(TargetOptions(profile="NOPE"))


def test_endpoint_and_profile_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConsoleError, match="--endpoint selects a local service"):
        resolve_target(TargetOptions(endpoint="http://127.0.0.1:1", profile="X"))


def test_local_objects_are_files_under_the_data_dir(tmp_path: Path) -> None:
    target = resolve_target(TargetOptions(data_dir=local_data_dir(tmp_path)))
    assert target.local_path("oci://bucket@ns/runs/r1/") == (
        tmp_path / "ds" / "objectstorage" / "ns" / "bucket" / "runs" / "r1"
    )
    assert target.local_path("https://h/x") is None


def test_parse_oci_uri() -> None:
    assert parse_oci_uri("oci://b@ns/a/b.ipynb") == ("b", "ns", "a/b.ipynb")
    assert parse_oci_uri("oci://b@ns") == ("b", "ns", "")
    assert parse_oci_uri("oci://nobucket/x") is None
    assert parse_oci_uri("https://b@ns/x") is None
