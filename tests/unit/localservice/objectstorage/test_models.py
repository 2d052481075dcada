"""The local Object Storage backend: object names it refuses and those it stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.objectstorage.models import LOCAL_NAMESPACE, ObjectStore


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "a//b", "./a", ""])
def test_object_names_that_leave_the_bucket_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidParameterError):
        ObjectStore(tmp_path).object_path(LOCAL_NAMESPACE, "bucket", name)


@pytest.mark.parametrize("name", ["x" * 256, "a/" + "b" * 300, "é" * 513])
def test_object_names_the_disk_or_oci_cannot_hold_are_refused(tmp_path: Path, name: str) -> None:
    store = ObjectStore(tmp_path)
    with pytest.raises(InvalidParameterError, match="objectName"):
        store.put(LOCAL_NAMESPACE, "bucket", name, b"x")
    with pytest.raises(InvalidParameterError, match="objectName"):
        store.head(LOCAL_NAMESPACE, "bucket", name)


def test_an_object_name_of_255_bytes_per_segment_is_stored(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    name = "a" * 255 + "/" + "b" * 255
    assert store.put(LOCAL_NAMESPACE, "bucket", name, b"x").size == 1
    assert store.head(LOCAL_NAMESPACE, "bucket", name).size == 1
