import pytest
from hypothesis import given
from hypothesis import strategies as st

from citygov.security.engine.cpe import Cpe, CpeError, escape, parse, split_unescaped, unescape, vendor_product


def test_parse_escaped_product():
    cpe = parse("cpe:2.3:a:notepad-plus-plus:notepad\\+\\+:8.6.2:*:*:*:*:*:*:*")
    assert cpe.vendor == "notepad-plus-plus"
    assert cpe.product == "notepad++"
    assert cpe.version == "8.6.2"
    assert cpe.update == "*"


def test_build_escapes_special_characters():
    assert Cpe(vendor="microsoft", product="visual_c++", version="2010").formatted() == \
        "cpe:2.3:a:microsoft:visual_c\\+\\+:2010:*:*:*:*:*:*:*"
    assert escape("$0.99_kindle_books") == "\\$0.99_kindle_books"
    assert escape("jpeg2000/jbig2") == "jpeg2000\\/jbig2"


def test_escaped_colon_does_not_split():
    assert split_unescaped("a:b\\:c:d") == ["a", "b\\:c", "d"]
    assert parse("cpe:2.3:a:v:p\\:x:1").product == "p:x"


def test_short_names_are_padded_with_any():
    cpe = parse("cpe:2.3:o:linux:linux_kernel")
    assert (cpe.part, cpe.version, cpe.other) == ("o", "*", "*")


def test_logical_values_stay_bare():
    cpe = parse("cpe:2.3:a:microsoft:365_apps:-:*:*:*:enterprise:*:x64:*")
    assert cpe.version == "-"
    assert cpe.sw_edition == "enterprise"
    assert cpe.target_hw == "x64"
    assert cpe.formatted() == "cpe:2.3:a:microsoft:365_apps:-:*:*:*:enterprise:*:x64:*"


@pytest.mark.parametrize("bad", ["cpe:/a:microsoft:office:2019", "cpe:2.3:x:v:p", "cpe:2.3:a:v:p:1:2:3:4:5:6:7:8:9",
                                 "cpe:2.3:a:v:p\\", 42])
def test_invalid_strings_raise(bad):
    with pytest.raises(CpeError):
        parse(bad)


def test_vendor_product_shortcut():
    assert vendor_product("cpe:2.3:a:don_ho:notepad\\+\\+:*") == ("don_ho", "notepad++")
    with pytest.raises(CpeError):
        vendor_product("cpe:2.3:a")


def test_with_version_keeps_other_fields():
    cpe = Cpe(vendor="oracle", product="jre", target_hw="x64").with_version("1.8.0", "update_381")
    assert cpe.formatted() == "cpe:2.3:a:oracle:jre:1.8.0:update_381:*:*:*:*:x64:*"


VALUE = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12).filter(
    lambda s: s not in ("*", "-"))


@given(vendor=VALUE, product=VALUE, version=VALUE)
def test_build_then_parse_round_trips(vendor, product, version):
    cpe = Cpe(vendor=vendor, product=product, version=version)
    assert parse(cpe.formatted()) == cpe
    assert unescape(escape(product)) == product
