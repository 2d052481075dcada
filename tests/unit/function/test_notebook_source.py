"""Folder and archive notebooks: the path rule, archive bombs, links, and the request field."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from notebook_launcher.function.errors import InvalidRequestError, NotebookFetchError
from notebook_launcher.function.notebook_source import SourceLimits, _unpack, folder_name
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.settings import Settings
from notebook_launcher.oci_facts.archive_paths import link_target, member_problem, shown_name

LIMITS = SourceLimits(max_files=10, max_bytes=1000, max_file_bytes=600, max_depth=2)
SETTINGS = Settings(
    project_id="ocid1.datascienceproject.oc1.iad.aaaa",
    compartment_id="ocid1.compartment.oc1..aaaa",
    log_group_id="ocid1.loggroup.oc1.iad.aaaa",
    output_folder="oci://out@ns/runs",
)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("C:/x", "absolute"),
        ("a\\b", "backslash"),
        ("a//b", "empty"),
        ("a/./b", "'.'"),
        ("a\nb", "control"),
        ("", "empty"),
        ("n" * 100_000, "a path longer than 1024 bytes"),
        (f"data/{'s' * 256}", "a path segment longer than 255 bytes"),
        (f"{'é' * 128}.txt", "a path segment longer than 255 bytes"),  # 260 bytes in UTF-8
    ],
)
def test_unsafe_member_names(name: str, problem: str) -> None:
    found = member_problem(name)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    "name",
    ["report.ipynb", "./report.ipynb", "data/x.csv", "data/", "s" * 255, "/".join(["d" * 200] * 5)],
)
def test_safe_member_names(name: str) -> None:
    assert member_problem(name) is None


def test_link_targets_must_stay_inside() -> None:
    assert link_target("data/link", "../utils.py") == "utils.py"
    assert link_target("link", "data/x.csv") == "data/x.csv"
    assert link_target("data/link", "../../etc/passwd") is None
    assert link_target("link", "/etc/passwd") is None
    assert link_target("link", "..") is None


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_zip_bomb_is_refused_by_declared_sizes() -> None:
    bomb = _zip({"nb.ipynb": b"{}", "a.bin": b"\0" * 500, "b.bin": b"\0" * 500})
    assert len(bomb) < 1000
    with pytest.raises(NotebookFetchError, match=r"more than 1000 bytes .*NL_SOURCE_MAX_BYTES"):
        _unpack(bomb, "bomb.zip", LIMITS)
    with pytest.raises(NotebookFetchError, match="'big' is 601 bytes; NL_SOURCE_MAX_FILE_BYTES"):
        _unpack(_zip({"big": b"\0" * 601}), "big.zip", LIMITS)


def test_zip_that_lies_about_a_size_is_refused() -> None:
    data = bytearray(_zip({"nb.ipynb": b"0123456789"}))
    # Shrink the declared size in the central directory: reading stops there, the CRC fails.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (4).to_bytes(4, "little")
    with pytest.raises(NotebookFetchError, match="cannot be unpacked"):
        _unpack(bytes(data), "liar.zip", LIMITS)


def test_gzip_bomb_stops_at_the_limit() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo("huge")
        info.size = 10_000_000
        archive.addfile(info, io.BytesIO(b"\0" * info.size))
    data = out.getvalue()
    assert len(data) < 20_000
    with pytest.raises(NotebookFetchError, match="unpacks to more than NL_SOURCE_MAX_BYTES"):
        _unpack(data, "bomb.tar.gz", LIMITS)


def test_links_inside_ship_as_copies_and_depth_is_bounded() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        real = tarfile.TarInfo("lib/utils.py")
        real.size = 3
        archive.addfile(real, io.BytesIO(b"x=1"))
        link = tarfile.TarInfo("utils.py")
        link.type = tarfile.SYMTYPE
        link.linkname = "lib/utils.py"
        archive.addfile(link)
    assert _unpack(out.getvalue(), "t.tar.gz", LIMITS) == {
        "lib/utils.py": b"x=1",
        "utils.py": b"x=1",
    }
    with pytest.raises(NotebookFetchError, match="3 folders deep; NL_SOURCE_MAX_DEPTH is 2"):
        _unpack(_zip({"a/b/c/d.txt": b"x"}), "deep.zip", LIMITS)


def test_folder_names_have_no_dots() -> None:
    assert folder_name("sales.tar.gz") == "sales"
    assert folder_name("my report v1.2") == "my_report_v1_2"
    assert folder_name("...") == "source"


def test_notebook_path_is_checked_and_only_for_a_folder_or_archive() -> None:
    def problems(body: str) -> dict[str, str]:
        with pytest.raises(InvalidRequestError) as caught:
            parse_request(body.encode(), SETTINGS)
        return {p.field: p.message for p in caught.value.details}

    assert (
        "'..'"
        in problems('{"noteBook": "oci://b@n/f/", "notebookPath": "../x.ipynb"}')["notebookPath"]
    )
    assert (
        "a .ipynb"
        in problems('{"noteBook": "oci://b@n/f/", "notebookPath": "x.py"}')["notebookPath"]
    )
    assert (
        "only with a folder or archive"
        in problems('{"noteBook": "oci://b@n/x.ipynb", "notebookPath": "x.ipynb"}')["notebookPath"]
    )
    parsed = parse_request(b'{"noteBook": "oci://b@n/a.zip", "notebookPath": "x.ipynb"}', SETTINGS)
    assert parsed.notebookPath == "x.ipynb"


def test_a_tar_gz_entry_with_a_100000_character_name_is_refused_naming_it_truncated() -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo("n" * 100_000)  # a PAX header carries the long name
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(NotebookFetchError) as refused:
        _unpack(out.getvalue(), "long.tar.gz", SourceLimits(10, 1_000_000, 1000, 2))
    message = str(refused.value)
    assert f"'{'n' * 40}...' is refused: a path longer than 1024 bytes" in message
    assert len(message) < 200


def test_a_refusal_quotes_a_long_name_cut_and_a_short_one_whole() -> None:
    assert shown_name("report.ipynb") == "'report.ipynb'"
    assert shown_name("x" * 43) == repr("x" * 43)
    assert shown_name("x" * 44) == repr("x" * 40 + "...")
