"""Place a free-text Taoyuan address in one of the city's 13 districts. Pure Python: no Django.

Only the administrative position of an address counts: the city or county, then the district (區) or
its pre-2014 town (市/鄉/鎮), read from the start of the address. Road names never count, because many
roads are named after other places (蘆竹區桃園街, 觀音區八德一街, 臺北市八德路). When the administrative
part is missing or could mean two things, the answer is ``unknown`` with a reason: a wrong district is
worse than none, since the result routes citizens' cases to a district office.

Accepted forms, after folding full-width characters, removing spaces and writing 台 as 臺:

- ``[ZIP][臺灣|臺灣省|中華民國|Taiwan][桃園市|桃園|桃園縣]XX區…`` (3, 5 or 6-digit ZIP);
- ``XX區…`` without the city (the 13 district names are unique in Taiwan);
- pre-2014 forms ``桃園縣XX市/鄉/鎮…``, and ``XX市/鄉/鎮…`` without the county, except bare ``桃園市``,
  which is both today's city and the old city that became 桃園區;
- English forms such as ``No. 100, Zhongzheng Rd., Zhongli Dist., Taoyuan City``, in Hanyu Pinyin,
  Tongyong Pinyin or Wade-Giles spelling, and old ones such as ``Zhongli City, Taoyuan County``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citygov.core.text.normalize import collapse_spaces, remove_spaces, to_halfwidth, unify_tai

UNKNOWN = "unknown"


class Reason:
    """Stable machine codes for :attr:`Location.reason`: the first four placed the address, the rest did not."""

    EXPLICIT_DISTRICT = "explicit_district"
    MISSING_CITY = "missing_city"
    PRE2014_FORM = "pre2014_form"
    ENGLISH_FORM = "english_form"
    EMPTY = "empty"
    OUTSIDE_TAOYUAN = "outside_taoyuan"
    AMBIGUOUS = "ambiguous"
    NO_DISTRICT = "no_district"


@dataclass(frozen=True)
class TaoyuanDistrict:
    """One of Taoyuan's 13 districts with its official 8-digit town code and MOI town id."""

    code: str
    name_zh: str
    name_en: str
    town_id: str
    #: Lower-case romanisations seen in English addresses (Hanyu, Tongyong, Wade-Giles), hyphens removed.
    romanisations: tuple[str, ...]

    @property
    def base(self) -> str:
        """The name without 區 (中壢區 → 中壢): also the pre-2014 town's name before 市/鄉/鎮."""
        return self.name_zh[:-1]


DISTRICTS: tuple[TaoyuanDistrict, ...] = (
    TaoyuanDistrict("68000010", "桃園區", "Taoyuan District", "H01", ("taoyuan",)),
    TaoyuanDistrict("68000020", "中壢區", "Zhongli District", "H03", ("zhongli", "jhongli", "chungli")),
    TaoyuanDistrict("68000030", "大溪區", "Daxi District", "H02", ("daxi", "dasi", "tahsi", "tashi")),
    TaoyuanDistrict("68000040", "楊梅區", "Yangmei District", "H04", ("yangmei",)),
    TaoyuanDistrict("68000050", "蘆竹區", "Luzhu District", "H05", ("luzhu", "lujhu", "luchu")),
    TaoyuanDistrict("68000060", "大園區", "Dayuan District", "H06", ("dayuan", "tayuan")),
    TaoyuanDistrict("68000070", "龜山區", "Guishan District", "H07", ("guishan", "gueishan", "kueishan", "kweishan")),
    TaoyuanDistrict("68000080", "八德區", "Bade District", "H08", ("bade", "pate")),
    TaoyuanDistrict("68000090", "龍潭區", "Longtan District", "H09", ("longtan", "lungtan")),
    TaoyuanDistrict("68000100", "平鎮區", "Pingzhen District", "H10", ("pingzhen", "pingjhen", "pingchen")),
    TaoyuanDistrict("68000110", "新屋區", "Xinwu District", "H11", ("xinwu", "sinwu", "hsinwu")),
    TaoyuanDistrict("68000120", "觀音區", "Guanyin District", "H12", ("guanyin", "kuanyin")),
    TaoyuanDistrict("68000130", "復興區", "Fuxing District", "H13", ("fuxing", "fusing", "fuhsing")),
)

_BY_BASE = {d.base: d for d in DISTRICTS}
_BY_ROMANISATION = {name: d for d in DISTRICTS for name in d.romanisations}


@dataclass(frozen=True)
class Location:
    """Where an address lies: the district, or ``unknown`` with the reason it could not be placed.

    ``reason`` is a stable code (see :class:`Reason`); ``detail`` is one sentence for people, Chinese then
    English; ``normalized`` is the address as the parser read it.
    """

    district_code: str | None
    district: str
    reason: str
    detail: str
    normalized: str

    @property
    def is_known(self) -> bool:
        """Whether the address was placed in a district."""
        return self.district_code is not None


# --- Chinese forms -------------------------------------------------------------------------------

_BASES = "|".join(sorted(_BY_BASE, key=len, reverse=True))
_DISTRICT_AT = re.compile(rf"({_BASES})區")
# Pre-2014 towns: several were upgraded over the years (鄉 → 鎮 → 市), so any of the three may follow a name.
_OLD_TOWN_AT = re.compile(rf"({_BASES})[市鄉鎮]")

# Counties and cities other than Taoyuan, after 台 → 臺 (臺北縣 etc. are the pre-2010 names).
_OTHER_CITY_NAMES = ("臺北", "新北", "臺中", "臺南", "高雄", "基隆", "新竹", "嘉義", "苗栗", "彰化", "南投",
                     "雲林", "屏東", "宜蘭", "花蓮", "臺東", "澎湖", "金門", "連江")
_OTHER_CITY_AT = re.compile(rf"({'|'.join(_OTHER_CITY_NAMES)})[市縣]")
# Without 市/縣 only when a township-level unit follows at once (臺北大安區), so a bare road name such as
# 高雄路 is not mistaken for a city.
_OTHER_CITY_BARE_AT = re.compile(rf"({'|'.join(_OTHER_CITY_NAMES)})[^\d路街道段巷弄號]{{1,3}}[區鄉鎮市]")

# Things that may precede the administrative part; stripped repeatedly, in any order.
_LEADING_NOISE = (
    re.compile(r"[,、:;.\-]+"),
    re.compile(r"(?:通訊|戶籍|居住|聯絡|寄送)?(?:地址|住址):?"),
    # A ZIP code of 3, 5 or 6 digits (3+2 or 3+3); never 4 or 7+, which would be something else.
    re.compile(r"[(\[]?\d{3}(?:\d{3}|\d{2})?[)\]]?(?=\D)"),
    re.compile(r"中華民國|臺灣省|臺灣|taiwan|\(?r\.?o\.?c\.?\)?", re.IGNORECASE),
)
_SEPARATORS = ",、"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def _strip_leading_noise(text: str) -> str:
    changed = True
    while changed and text:
        changed = False
        for pattern in _LEADING_NOISE:
            match = pattern.match(text)
            if match and match.end() > 0:
                text = text[match.end():]
                changed = True
    return text


def _found(district: TaoyuanDistrict, reason: str, detail: str, normalized: str) -> Location:
    return Location(district_code=district.code, district=district.name_zh, reason=reason, detail=detail,
                    normalized=normalized)


def _unknown(reason: str, detail: str, normalized: str) -> Location:
    return Location(district_code=None, district=UNKNOWN, reason=reason, detail=detail, normalized=normalized)


def _locate_chinese(normalized: str) -> Location:
    text = _strip_leading_noise(normalized)

    # A district with 區 right at the start: no city written, but the 13 names are unique in Taiwan.
    match = _DISTRICT_AT.match(text)
    if match:
        district = _BY_BASE[match.group(1)]
        return _found(district, Reason.MISSING_CITY,
                      f"未寫縣市 {match.group(0)} → {district.name_zh} (district without city)", normalized)

    for prefix, kind in (("桃園市", "city"), ("桃園縣", "county")):
        if text.startswith(prefix):
            return _after_city(prefix, kind, text[len(prefix):].lstrip(_SEPARATORS), normalized)

    # An old town without the county (中壢市…, 龜山鄉…). 桃園市 never gets here: it was taken as the city.
    match = _OLD_TOWN_AT.match(text)
    if match:
        district = _BY_BASE[match.group(1)]
        return _found(district, Reason.PRE2014_FORM,
                      f"舊制地址 {match.group(0)} → {district.name_zh} (pre-2014 form without county)", normalized)

    if text.startswith("桃園"):
        return _after_city("桃園", "bare", text[2:].lstrip(_SEPARATORS), normalized)

    match = _OTHER_CITY_AT.match(text)
    bare = _OTHER_CITY_BARE_AT.match(text)
    if match or bare:
        city = match.group(0) if match else bare.group(1)
        return _unknown(Reason.OUTSIDE_TAOYUAN, f"非桃園市地址：{city} (outside Taoyuan City)", normalized)

    return _unknown(Reason.NO_DISTRICT, "找不到桃園市的行政區 (no Taoyuan district found)", normalized)


def _after_city(prefix: str, kind: str, rest: str, normalized: str) -> Location:
    """Read what follows 桃園市 (``city``), 桃園縣 (``county``) or a bare 桃園 (``bare``)."""
    match = _DISTRICT_AT.match(rest)
    if match:
        district = _BY_BASE[match.group(1)]
        note = {"city": "explicit district",
                "county": "explicit district after the old county name",
                "bare": "explicit district, 市 omitted"}[kind]
        return _found(district, Reason.EXPLICIT_DISTRICT,
                      f"寫明行政區 {prefix}{match.group(0)} → {district.name_zh} ({note})", normalized)

    match = _OLD_TOWN_AT.match(rest)
    if match:
        district = _BY_BASE[match.group(1)]
        note = "pre-2014 county form" if kind == "county" else "pre-2014 town name"
        return _found(district, Reason.PRE2014_FORM,
                      f"舊制地址 {prefix}{match.group(0)} → {district.name_zh} ({note})", normalized)

    if kind == "county":
        return _unknown(Reason.NO_DISTRICT, "只寫舊制桃園縣，未寫鄉鎮市 (桃園縣 without a town)", normalized)
    if kind == "city":
        # Before 2014, 桃園市 was the county's seat, today's 桃園區; since 2014 it is the whole city.
        return _unknown(Reason.AMBIGUOUS,
                        "未寫行政區，桃園市可能是全市或舊制桃園市(今桃園區) "
                        "(district missing; 桃園市 may be the whole city or the pre-2014 city, now 桃園區)",
                        normalized)
    return _unknown(Reason.AMBIGUOUS,
                    "未寫行政區，桃園可能指全市或桃園區 (district missing; 桃園 may mean the city or 桃園區)",
                    normalized)


# --- English forms -------------------------------------------------------------------------------

_ROMAN = "|".join(sorted(_BY_ROMANISATION, key=len, reverse=True))
_EN_DISTRICT = re.compile(rf"\b({_ROMAN})\s*(?:district|dist)\b\.?")
_EN_OLD_TOWN = re.compile(rf"\b({_ROMAN})\s*(?:city|township|town|shiang|hsiang)\b")
_EN_TAOYUAN_COUNTY = re.compile(r"\btaoyuan\s*(?:county|hsien)\b")
_EN_TAOYUAN_CITY = re.compile(r"\btaoyuan\s*city\b")
_EN_OTHER_CITY = re.compile(
    r"\b(new\s*taipei|taipei|taichung|tainan|kaohsiung|keelung|hsinchu|chiayi|miaoli|changhua|nantou|yunlin|"
    r"pingtung|yilan|ilan|hualien|taitung|penghu|kinmen|lienchiang)\s*(?:city|county)\b")


def _locate_english(normalized: str) -> Location:
    # Hyphens and apostrophes vary between spellings (Chung-li, Pa-te); matching ignores them.
    text = re.sub(r"[-'’]", "", normalized.lower())
    districts = {_BY_ROMANISATION[m.group(1)] for m in _EN_DISTRICT.finditer(text)}
    has_county = bool(_EN_TAOYUAN_COUNTY.search(text))
    has_city = bool(_EN_TAOYUAN_CITY.search(text))
    other = _EN_OTHER_CITY.search(text)

    if other and not (has_city or has_county):
        return _unknown(Reason.OUTSIDE_TAOYUAN, f"非桃園市地址：{other.group(0).title()} (outside Taoyuan City)",
                        normalized)
    if len(districts) == 1:
        district = districts.pop()
        return _found(district, Reason.ENGLISH_FORM,
                      f"英文地址 {district.name_en} → {district.name_zh} (English form)", normalized)
    if len(districts) > 1:
        names = "、".join(sorted(d.name_zh for d in districts))
        return _unknown(Reason.AMBIGUOUS, f"寫了多個行政區：{names} (several districts named)", normalized)

    towns = {_BY_ROMANISATION[m.group(1)] for m in _EN_OLD_TOWN.finditer(text)}
    if not has_county:
        # Without "Taoyuan County", "Taoyuan City" is today's city (or the old one): it places nothing.
        towns.discard(_BY_ROMANISATION["taoyuan"])
    if len(towns) == 1:
        district = towns.pop()
        return _found(district, Reason.PRE2014_FORM,
                      f"舊制英文地址 → {district.name_zh} (pre-2014 English form)", normalized)
    if has_city and not towns:
        return _unknown(Reason.AMBIGUOUS,
                        "未寫行政區，Taoyuan City 可能是全市或舊制桃園市 "
                        "(district missing; Taoyuan City may be the whole city or the pre-2014 city)", normalized)
    if towns:
        names = "、".join(sorted(d.name_zh for d in towns))
        return _unknown(Reason.AMBIGUOUS, f"寫了多個鄉鎮市：{names} (several towns named)", normalized)
    return _unknown(Reason.NO_DISTRICT, "找不到桃園市的行政區 (no Taoyuan district found)", normalized)


# --- entry point ---------------------------------------------------------------------------------

def normalize_address(address: str) -> str:
    """The form the parser reads: NFKC half-width, 台 → 臺, and no spaces when the text has Chinese.

    Spaces carry no meaning in a Chinese address (``桃園市 觀音區 八德一街``), but they separate words
    in an English one, where they are only collapsed.

    >>> normalize_address("３３０ 台灣 桃園市　桃園區 縣府路１號")
    '330臺灣桃園市桃園區縣府路1號'
    """
    text = unify_tai(to_halfwidth(address or ""))
    if _CJK.search(text):
        return remove_spaces(text)
    return collapse_spaces(text).strip()


def locate_district(address: str) -> Location:
    """Place a Taoyuan address in its district from its administrative part, never from a road name.

    Parameters
    ----------
    address : str
        A free-text postal address, Chinese (new or pre-2014 form) or English.

    Returns
    -------
    Location
        The district's code and name, or ``district == "unknown"`` and ``district_code is None`` with a
        :class:`Reason` code (``empty``, ``outside_taoyuan``, ``ambiguous``, ``no_district``) and a detail.

    Examples
    --------
    >>> locate_district("桃園縣中壢市中華路一段550號").district
    '中壢區'
    >>> loc = locate_district("桃園市中正路100號")
    >>> (loc.district, loc.reason)
    ('unknown', 'ambiguous')
    """
    normalized = normalize_address(address)
    if not normalized:
        return _unknown(Reason.EMPTY, "地址空白 (empty address)", normalized)
    if _CJK.search(normalized):
        return _locate_chinese(normalized)
    if _LATIN.search(normalized):
        return _locate_english(normalized)
    return _unknown(Reason.NO_DISTRICT, "找不到桃園市的行政區 (no Taoyuan district found)", normalized)
