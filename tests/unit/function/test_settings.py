"""The function's configuration is checked like a request: a bad default fails loudly."""

from __future__ import annotations

import pytest

from notebook_launcher.function.errors import ConfigurationError
from notebook_launcher.function.settings import KEYS, Settings


def test_defaults_and_parsing() -> None:
    settings = Settings.from_config(
        {"NL_OCPUS": "2", "NL_ALLOW_HTTP": "true", "NL_NOTEBOOK_HOSTS": "a.com, *.b.org"}
    )
    assert settings.ocpus == 2.0 and settings.allow_http is True
    assert settings.notebook_hosts == ("a.com", "*.b.org")
    assert settings.conda_env == "generalml_p311_cpu_x86_64_v1"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NL_OUTPUT_FOLDER", "oci://bucket/runs"),
        ("NL_PROJECT_ID", "ocid1.datasciencejob.oc1.iad.aaaa"),
        ("NL_COMPARTMENT_ID", "not-an-ocid"),
        ("NL_CONDA_ENV", "not a slug!"),
        ("NL_SHAPE", "Standard.E4"),
        ("NL_OCPUS", "many"),
        ("NL_BLOCK_STORAGE_GBS", "-5"),
    ],
)
def test_bad_values_are_configuration_errors(key: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=key):
        Settings.from_config({key: value})


def test_every_key_is_documented_in_readme() -> None:
    """The README's table is the one reference (func.yaml must carry no config: see
    tests/unit/deploy/test_func_yaml.py)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    readme = (root / "README.md").read_text()
    for key in KEYS:
        assert f"`{key}`" in readme, key
