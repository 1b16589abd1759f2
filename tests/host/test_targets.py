import pytest

from fleetflame.errors import InputError
from fleetflame.host.targets import TileSelector, parse_target


def test_all_and_agave() -> None:
    assert parse_target("all").all_tiles
    agave = parse_target("agave")
    assert agave.agave and agave.agave_only


def test_kind_alone_means_index_zero_as_in_fdctl() -> None:
    assert parse_target("verify").selectors == (TileSelector("verify", 0),)


def test_lists_globs_and_indexes() -> None:
    target = parse_target("verify:*, quic,net:1,verify:*")
    assert target.selectors == (TileSelector("verify", None), TileSelector("quic", 0), TileSelector("net", 1))
    assert target.text == "verify:*,quic,net:1"
    assert target.slug == "verify-all+quic+net-1"


def test_agave_combined_with_tiles_is_not_agave_only() -> None:
    target = parse_target("agave,verify:0")
    assert target.agave and not target.agave_only


@pytest.mark.parametrize(
    "text, named",
    [
        ("verify:x", "'verify:x'"),
        ("verify:-1", "'verify:-1'"),
        ("verfy:*", "did you mean 'verify'"),
        ("bogus:1", "'bogus'"),
        ("verify;rm -rf /", "'verify;rm -rf /'"),
        ("$(reboot)", "'$(reboot)'"),
        ("VERIFY:1", "'VERIFY:1'"),
        ("verify:1,", "empty word"),
        ("", "empty word"),
    ],
)
def test_bad_words_are_refused_and_named(text: str, named: str) -> None:
    with pytest.raises(InputError) as info:
        parse_target(text)
    assert named in str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_selector_matching() -> None:
    assert TileSelector("verify", None).matches("verify", 7)
    assert not TileSelector("verify", 1).matches("verify", 2)
    assert not TileSelector("verify", None).matches("quic", 0)
