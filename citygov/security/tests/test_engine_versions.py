import pytest

from citygov.security.engine.versions import (
    clean,
    compare,
    debian_upstream,
    java_version,
    sort_key,
    split_patch_level,
)


@pytest.mark.parametrize(("left", "right", "expected"), [
    ("1.1.1k", "1.1.1w", -1),
    ("1.1.1w", "1.1.1", 1),
    ("6.23", "6.3", 1),
    ("6.22", "6.23", -1),
    ("7.0", "7", 0),
    ("2.0rc1", "2.0", -1),
    ("2.0", "2.0.beta", 1),
    ("131.0.6778.140", "131.0.6778.86", 1),
    ("9.2p1", "9.2p2", -1),
    ("9.3", "9.2p1", 1),
    ("1.8.0_381", "1.8.0_202", 1),
    ("24.005.20320", "23.008.20470", 1),
])
def test_compare(left, right, expected):
    assert compare(left, right) == expected
    assert compare(right, left) == -expected
    # The tuple key used by matching orders the same way.
    assert (sort_key(left) > sort_key(right)) - (sort_key(left) < sort_key(right)) == expected


def test_debian_epoch_and_revision_are_dropped():
    assert debian_upstream("1:9.2p1-2+deb12u3") == "9.2p1"
    assert debian_upstream("2:4.17.12+dfsg-0+deb12u1") == "4.17.12"
    assert debian_upstream("1:3.2.2-6.el9_5") == "3.2.2"
    assert debian_upstream("15.10-0+deb12u1") == "15.10"


def test_patch_level_moves_to_update():
    assert split_patch_level("9.2p1") == ("9.2", "p1")
    assert split_patch_level("1.9.13p3") == ("1.9.13", "p3")
    assert split_patch_level("3.0.15") == ("3.0.15", "")


def test_java_update_style():
    assert java_version("java 8 update 381 64-bit", "8.0.3810.9") == ("1.8.0", "update_381")
    assert java_version("jre", "1.8.0_202") == ("1.8.0", "update_202")
    assert java_version("java se development kit 17.0.9", "17.0.9.0") is None


def test_clean_display_versions():
    assert clean("Version 3.5.2") == "3.5.2"
    assert clean(" v2.6.8 (build 1234) ") == "2.6.8"
    assert clean("") == ""


def test_clean_takes_the_first_version_token():
    assert clean("ad 8.0.8") == "8.0.8"
    assert clean("none") == ""
