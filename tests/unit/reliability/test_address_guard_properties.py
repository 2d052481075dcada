"""The fetch guard decides on the address a host resolves to, however the address is spelled.

IPv4 literals have many spellings the resolver accepts (one integer, hex, octal, short
forms, IPv4-mapped IPv6); an allow/deny decision made on the text instead of the address
would let `https://0xa9fea9fe/` reach the metadata service. A connection attempt is a
tripwire here: a refused address must be refused before any socket is opened.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notebook_launcher.function.errors import NotebookFetchError
from notebook_launcher.function.notebook_fetch import fetch_notebook
from notebook_launcher.function.settings import Settings
from tests.unit.reliability.strategies import fuzz_settings

GUARDED = Settings()


class WouldConnectError(Exception):
    """The fetch got past the guard and tried to open a connection."""


def _tripwire(address: tuple[object, ...], *args: object, **kwargs: object) -> socket.socket:
    raise WouldConnectError(address)


def _dotted(parts: list[int], render: Callable[[int], str]) -> str:
    return ".".join(render(p) for p in parts)


def ipv4_spellings(address: ipaddress.IPv4Address) -> list[str]:
    """URL hosts that the system resolver reads as `address`."""
    value = int(address)
    octets = list(address.packed)
    return [
        str(address),
        str(value),  # one 32-bit integer
        hex(value),  # 0xa9fea9fe
        f"0{value:o}",  # one octal integer
        _dotted(octets, lambda o: f"0{o:o}"),  # 0251.0376.0251.0376
        _dotted(octets, hex),  # 0xa9.0xfe.0xa9.0xfe
        f"{octets[0]}.{value & 0xFFFFFF}",  # a.bcd (class A short form)
        f"{octets[0]}.{octets[1]}.{value & 0xFFFF}",  # a.b.cd
        f"[::ffff:{address}]",  # IPv4-mapped IPv6
        f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]",
    ]


def outcome(url: str) -> str:
    """'refused' by the guard, or 'connect' when the fetch went on to open a socket."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "create_connection", _tripwire)
        try:
            fetch_notebook(url, GUARDED, None)
        except WouldConnectError:
            return "connect"
        except NotebookFetchError as exc:
            assert "non-public address" in exc.message, exc.message
            return "refused"
    raise AssertionError(f"{url} neither refused nor fetched")


# Addresses drawn mostly from the ranges that matter, plus anywhere at all.
INTERNAL_V4 = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
]


@st.composite
def ipv4_addresses(draw: st.DrawFn) -> ipaddress.IPv4Address:
    if draw(st.booleans()):
        network = ipaddress.IPv4Network(draw(st.sampled_from(INTERNAL_V4)))
        offset = draw(st.integers(0, network.num_addresses - 1))
        return network[offset]
    return ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))


@fuzz_settings(max_examples=150)
@given(ipv4_addresses(), st.integers(0, 9))
def test_every_spelling_of_an_ipv4_address_gets_the_same_decision(
    address: ipaddress.IPv4Address, spelling: int
) -> None:
    host = ipv4_spellings(address)[spelling]
    expected = "connect" if address.is_global else "refused"
    assert outcome(f"https://{host}/notebook.ipynb") == expected, host


@fuzz_settings(max_examples=60)
@given(
    st.sampled_from(["::1/128", "fc00::/7", "fe80::/10", "::/128", "2001:db8::/32"]),
    st.integers(0, 2**64),
    st.booleans(),
)
def test_internal_ipv6_addresses_are_refused(network: str, offset: int, exploded: bool) -> None:
    net = ipaddress.IPv6Network(network)
    address = net[offset % net.num_addresses]
    host = address.exploded if exploded else address.compressed
    assert outcome(f"https://[{host}]/notebook.ipynb") == "refused"


def test_the_tripwire_sees_a_public_address() -> None:
    # Without this, a guard that refused everything would pass the properties above.
    assert outcome("https://[2606:4700:4700::1111]/n.ipynb") == "connect"
    assert outcome("https://0x01010101/n.ipynb") == "connect"
