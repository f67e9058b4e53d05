"""citygov.agencies.engine.address: Taoyuan address → district, never from a road name, never a guess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from citygov.agencies import reference
from citygov.agencies.engine.address import DISTRICTS, Location, locate_district

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLES = REPO_ROOT / "tests" / "data" / "address-samples.txt"

# Written out here rather than read from the engine, so a typo in the engine's table fails the tests.
CODES = {
    "桃園區": "68000010", "中壢區": "68000020", "大溪區": "68000030", "楊梅區": "68000040",
    "蘆竹區": "68000050", "大園區": "68000060", "龜山區": "68000070", "八德區": "68000080",
    "龍潭區": "68000090", "平鎮區": "68000100", "新屋區": "68000110", "觀音區": "68000120",
    "復興區": "68000130",
}


def _samples() -> list:
    params = []
    for number, line in enumerate(SAMPLES.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        address, expected, category = line.split("\t")
        params.append(pytest.param(address, expected, id=f"line{number}-{category}"))
    return params


SAMPLE_PARAMS = _samples()


def test_sample_file_has_all_220_addresses():
    assert len(SAMPLE_PARAMS) == 220


@pytest.mark.parametrize(("address", "expected"), SAMPLE_PARAMS)
def test_sample_addresses(address, expected):
    location = locate_district(address)
    assert location.district == expected
    assert location.district_code == CODES[expected]


def test_districts_table_matches_the_bundled_geojson():
    from_geojson = {(r.code, r.name_zh, r.name_en, r.town_id) for r in reference.read_districts()}
    from_engine = {(d.code, d.name_zh, d.name_en, d.town_id) for d in DISTRICTS}
    assert len(DISTRICTS) == 13
    assert from_engine == from_geojson
    assert {d.name_zh: d.code for d in DISTRICTS} == CODES


def test_pre2014_example_in_full():
    assert locate_district("桃園縣中壢市中正路100號") == Location(
        district_code="68000020", district="中壢區", reason="pre2014_form",
        detail="舊制地址 桃園縣中壢市 → 中壢區 (pre-2014 county form)", normalized="桃園縣中壢市中正路100號")


@pytest.mark.parametrize(("address", "district", "reason"), [
    pytest.param("桃園市中壢區中正路100號", "中壢區", "explicit_district", id="city-district"),
    pytest.param("桃園中壢區台貿一街18號", "中壢區", "explicit_district", id="missing-shi"),
    pytest.param("桃園縣中壢區中正路1號", "中壢區", "explicit_district", id="old-county-new-district"),
    pytest.param("中壢區元化路275號3樓", "中壢區", "missing_city", id="missing-city"),
    pytest.param("桃園區縣府路1號", "桃園區", "missing_city", id="missing-city-taoyuan-district"),
    pytest.param("  桃 園 市 中 壢 區 中 正 路 1 號 ", "中壢區", "explicit_district", id="spaces-between-every-char"),
    pytest.param("桃園市，中壢區中正路1號", "中壢區", "explicit_district", id="comma-after-city"),
    pytest.param("３２０桃園市中壢區中正路１號", "中壢區", "explicit_district", id="fullwidth-zip"),
    pytest.param("32001桃園市中壢區中正路1號", "中壢區", "explicit_district", id="zip-5-digits"),
    pytest.param("(330)桃園市桃園區縣府路1號", "桃園區", "explicit_district", id="zip-in-brackets"),
    pytest.param("330 台灣 桃園市桃園區縣府路1號", "桃園區", "explicit_district", id="zip-then-country"),
    pytest.param("Taiwan 桃園市大園區航站南路9號", "大園區", "explicit_district", id="english-country-prefix"),
    pytest.param("中華民國臺灣省桃園縣平鎮市環南路300號", "平鎮區", "pre2014_form", id="roc-province-prefix"),
    pytest.param("地址：桃園市龜山區文化一路1號", "龜山區", "explicit_district", id="label-prefix"),
    pytest.param("桃園市桃園區復興路180號B1", "桃園區", "explicit_district", id="road-named-fuxing"),
    pytest.param("桃園市蘆竹區桃園街108號", "蘆竹區", "explicit_district", id="road-named-taoyuan"),
    pytest.param("桃園市觀音區八德一街36號", "觀音區", "explicit_district", id="road-named-bade"),
    pytest.param("桃園市八德區中壢路1號", "八德區", "explicit_district", id="road-named-zhongli"),
])
def test_located_with_reason(address, district, reason):
    location = locate_district(address)
    assert (location.district, location.district_code, location.reason) == (district, CODES[district], reason)


@pytest.mark.parametrize(("address", "district"), [
    pytest.param("桃園縣桃園市中山路401號", "桃園區", id="taoyuan-shi"),
    pytest.param("桃園縣中壢市中華路一段550號", "中壢區", id="zhongli-shi"),
    pytest.param("桃園縣大溪鎮康莊路101號", "大溪區", id="daxi-zhen"),
    pytest.param("桃園縣楊梅鎮中山路1號", "楊梅區", id="yangmei-zhen"),
    pytest.param("桃園縣楊梅市中山路1號", "楊梅區", id="yangmei-shi"),
    pytest.param("桃園縣蘆竹鄉南崁路1號", "蘆竹區", id="luzhu-xiang"),
    pytest.param("桃園縣大園鄉中正東路1號", "大園區", id="dayuan-xiang"),
    pytest.param("桃園縣龜山鄉萬壽路二段50號", "龜山區", id="guishan-xiang"),
    pytest.param("桃園縣八德市介壽路1號", "八德區", id="bade-shi"),
    pytest.param("桃園縣龍潭鄉中正路1號", "龍潭區", id="longtan-xiang"),
    pytest.param("桃園縣平鎮市環南路300號", "平鎮區", id="pingzhen-shi"),
    pytest.param("桃園縣新屋鄉中山路1號", "新屋區", id="xinwu-xiang"),
    pytest.param("桃園縣觀音鄉中山路1號", "觀音區", id="guanyin-xiang"),
    pytest.param("桃園縣復興鄉澤仁村中正路1號", "復興區", id="fuxing-xiang"),
    pytest.param("台灣省桃園縣八德市介壽路1號", "八德區", id="province-prefix"),
    pytest.param("中壢市中華路一段1號", "中壢區", id="no-county-zhongli-shi"),
    pytest.param("龜山鄉萬壽路1號", "龜山區", id="no-county-guishan-xiang"),
    pytest.param("大溪鎮康莊路1號", "大溪區", id="no-county-daxi-zhen"),
    pytest.param("桃園市中壢市中正路1號", "中壢區", id="new-city-old-town"),
    pytest.param("桃園平鎮市環南路1號", "平鎮區", id="bare-taoyuan-old-town"),
])
def test_pre2014_forms(address, district):
    location = locate_district(address)
    assert (location.district, location.district_code, location.reason) == (district, CODES[district], "pre2014_form")


@pytest.mark.parametrize(("address", "district", "reason"), [
    pytest.param("No. 100, Zhongzheng Rd., Zhongli Dist., Taoyuan City 320, Taiwan (R.O.C.)", "中壢區",
                 "english_form", id="hanyu-dist"),
    pytest.param("No. 1, Xianfu Rd., Taoyuan District, Taoyuan City", "桃園區", "english_form", id="taoyuan-district"),
    pytest.param("No. 5, Taoyuan St., Luzhu Dist., Taoyuan City", "蘆竹區", "english_form", id="road-named-taoyuan"),
    pytest.param("No. 36, Bade 1st St., Guanyin Dist., Taoyuan City", "觀音區", "english_form", id="road-named-bade"),
    pytest.param("No. 1, Wenhua 1st Rd., Gueishan Dist., Taoyuan City", "龜山區", "english_form", id="tongyong"),
    pytest.param("ＮＯ. 1, Pingjhen Dist., Taoyuan City", "平鎮區", "english_form", id="fullwidth-tongyong"),
    pytest.param("No. 550, Sec. 1, Zhonghua Rd., Zhongli City, Taoyuan County", "中壢區", "pre2014_form",
                 id="old-city-county"),
    pytest.param("No. 401, Zhongshan Rd., Taoyuan City, Taoyuan County", "桃園區", "pre2014_form",
                 id="old-taoyuan-city-county"),
    pytest.param("Lungtan Township, Taoyuan County", "龍潭區", "pre2014_form", id="wade-giles-township"),
    pytest.param("No. 3, Chung-li City", "中壢區", "pre2014_form", id="hyphenated-no-county"),
])
def test_english_forms(address, district, reason):
    location = locate_district(address)
    assert (location.district, location.district_code, location.reason) == (district, CODES[district], reason)


@pytest.mark.parametrize(("address", "reason"), [
    pytest.param("桃園市中正路100號", "ambiguous", id="taoyuan-shi-without-district"),
    pytest.param("台灣桃園市中正路100號", "ambiguous", id="taoyuan-shi-with-country"),
    pytest.param("桃園市復興路180號", "ambiguous", id="taoyuan-shi-road-named-fuxing"),
    pytest.param("桃園市八德路1號", "ambiguous", id="taoyuan-shi-road-named-bade"),
    pytest.param("桃園市政府", "ambiguous", id="city-government-no-address"),
    pytest.param("桃園中正路100號", "ambiguous", id="bare-taoyuan"),
    pytest.param("Taoyuan City", "ambiguous", id="english-city-only"),
    pytest.param("Zhongli Dist., Bade Dist., Taoyuan City", "ambiguous", id="english-two-districts"),
    pytest.param("臺北市大安區信義路四段1號", "outside_taoyuan", id="taipei"),
    pytest.param("台北市八德路二段10號", "outside_taoyuan", id="taipei-bade-road"),
    pytest.param("新北市板橋區中山路一段161號", "outside_taoyuan", id="new-taipei"),
    pytest.param("新竹縣竹北市光明六路10號", "outside_taoyuan", id="hsinchu-county"),
    pytest.param("臺北縣板橋市中山路1號", "outside_taoyuan", id="old-taipei-county"),
    pytest.param("台北大安區信義路1號", "outside_taoyuan", id="taipei-without-shi"),
    pytest.param("300新竹市東區中華路1號", "outside_taoyuan", id="hsinchu-city-with-zip"),
    pytest.param("No. 1, Bade Rd., Zhongshan Dist., Taipei City", "outside_taoyuan", id="english-taipei"),
    pytest.param("", "empty", id="empty"),
    pytest.param("   \u3000\t", "empty", id="whitespace"),
    pytest.param("桃園縣中正路1號", "no_district", id="county-without-town"),
    pytest.param("中正路100號", "no_district", id="road-only"),
    pytest.param("復興路180號", "no_district", id="road-named-after-district"),
    pytest.param("八德路二段10號", "no_district", id="taipei-road-without-city"),
    pytest.param("大安區信義路1號", "no_district", id="other-city-district-without-city"),
    pytest.param("asdf qwer", "no_district", id="latin-garbage"),
    pytest.param("12345", "no_district", id="digits-only"),
    pytest.param("!!!???", "no_district", id="punctuation-only"),
    pytest.param("中壢", "no_district", id="district-name-without-qu"),
])
def test_unknown_with_reason(address, reason):
    location = locate_district(address)
    assert (location.district, location.district_code, location.reason) == ("unknown", None, reason)
    assert location.is_known is False


def test_ambiguous_detail_explains_the_old_city():
    location = locate_district("桃園市中正路100號")
    assert location.detail == ("未寫行政區，桃園市可能是全市或舊制桃園市(今桃園區) "
                               "(district missing; 桃園市 may be the whole city or the pre-2014 city, now 桃園區)")


def test_outside_detail_names_the_city():
    assert locate_district("台北市八德路二段10號").detail == "非桃園市地址：臺北市 (outside Taoyuan City)"


@pytest.mark.parametrize(("address", "normalized"), [
    pytest.param("桃園市 觀音區 八德一街 36號 2樓", "桃園市觀音區八德一街36號2樓", id="spaces-removed"),
    pytest.param("３３０台灣桃園市", "330臺灣桃園市", id="fullwidth-and-tai"),
    pytest.param("  Zhongli   Dist.,  Taoyuan City ", "Zhongli Dist., Taoyuan City", id="english-spaces-collapsed"),
])
def test_normalized_form(address, normalized):
    assert locate_district(address).normalized == normalized


def test_location_is_frozen():
    location = locate_district("中壢區中正路1號")
    with pytest.raises(AttributeError):
        location.district = "桃園區"
    assert location.district == "中壢區"


def test_engine_imports_without_django():
    script = (
        "import sys\n"
        "sys.modules['django'] = None\n"  # any `import django...` now raises ImportError
        "from citygov.agencies.engine.address import locate_district\n"
        "print(locate_district('桃園縣中壢市中正路100號').district_code)\n"
        "print(any(name == 'django' or name.startswith('django.') for name in sys.modules if sys.modules[name]))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["68000020", "False"]


_REASONS_PLACED = {"explicit_district", "missing_city", "pre2014_form", "english_form"}
_REASONS_UNKNOWN = {"empty", "outside_taoyuan", "ambiguous", "no_district"}


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_a_consistent_answer(text):
    location = locate_district(text)
    if location.district_code is None:
        assert (location.district, location.reason in _REASONS_UNKNOWN) == ("unknown", True)
    else:
        assert (CODES[location.district], location.reason in _REASONS_PLACED) == (location.district_code, True)
    assert location.detail


_TO_FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-()"}


@hypothesis_settings(max_examples=200, deadline=None)
@given(sample=st.sampled_from([p.values for p in SAMPLE_PARAMS]), data=st.data())
def test_spaces_fullwidth_and_tai_never_change_the_answer(sample, data):
    address, expected = sample
    spaced = "".join(ch + data.draw(st.sampled_from(["", " ", "\u3000"])) for ch in address)
    variant = spaced.translate(_TO_FULLWIDTH).replace("臺", "台")
    assert locate_district(variant).district == expected
