"""OCIDs and timestamps as OCI writes them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from notebook_launcher.localservice.ids import format_time, is_ocid, new_ocid


def test_times_are_utc_milliseconds_with_z() -> None:
    moment = datetime(2026, 11, 22, 1, 6, 29, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(moment) == "2026-11-22T00:06:29.123Z"


def test_new_ocids_have_oci_shape() -> None:
    ocid = new_ocid("datasciencejob")
    assert ocid.startswith("ocid1.datasciencejob.oc1.iad.")
    assert is_ocid(ocid, "datasciencejob")
    assert not is_ocid(ocid, "datasciencejobrun")
    assert is_ocid("ocid1.tenancy.oc1..abc", "tenancy")
    assert not is_ocid("ocid1.tenancy.oc1..", "tenancy")
    assert not is_ocid(42, "tenancy")
