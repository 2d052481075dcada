"""func.yaml must never touch the operator's function configuration on `fn deploy`.

What the platform does (fnproject/cli commands/deploy.go `updateFunction`: func.yaml's `config`
becomes the function's config and is sent with every deploy; fnproject/fn_go
provider/oracle/shim/fns.go `UpdateFn` + shim/common.go `mergeConfig` for the OCI provider): on
an existing function the CLI reads the current config and, for each key in func.yaml, deletes it
when the value is empty and overwrites it otherwise. `oci_deploy_merge` below is that rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from notebook_launcher.function.settings import KEYS

ROOT = Path(__file__).resolve().parents[3]


def oci_deploy_merge(current: dict[str, str], sent: dict[str, str]) -> dict[str, str]:
    """The function config after `fn deploy` updates an existing OCI function."""
    merged = dict(current)
    for key, value in sent.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def func_yaml() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "func.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_the_merge_model_erases_empty_and_overwrites_set_keys() -> None:
    current = {
        "NL_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.p",
        "NL_SHAPE": "VM.Standard3.Flex",
    }
    after = oci_deploy_merge(current, {"NL_PROJECT_ID": "", "NL_SHAPE": "VM.Standard.E4.Flex"})
    assert after == {"NL_SHAPE": "VM.Standard.E4.Flex"}


def test_a_redeploy_leaves_every_operator_key_as_the_operator_set_it() -> None:
    sent = func_yaml().get("config") or {}
    assert isinstance(sent, dict)
    operator = {key: f"operator-value-of-{key}" for key in KEYS}
    after = oci_deploy_merge(operator, {str(k): str(v) for k, v in sent.items()})
    erased = sorted(set(operator) - set(after))
    overwritten = sorted(k for k in operator if k in after and after[k] != operator[k])
    assert not erased, f"fn deploy would erase {erased}"
    assert not overwritten, f"fn deploy would overwrite {overwritten}"
    # Any key at all in `config:` is sent on every deploy and overwrites what the operator set.
    assert not sent, f"func.yaml's config: block would be sent on every deploy: {sorted(sent)}"
