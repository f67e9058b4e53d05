"""The default governed vocabularies: business themes and usage scenarios (editable once loaded).

Themes adapt the EU Data Theme NAL used by DCAT-AP (``eu_code``) to a Taiwanese city's departments:
public safety, land and urban planning, tourism, labour and population get their own theme. Scenarios
are the uses a map layer or dataset serves (防災, 都市計畫, 觀光, ...). Each term lists the keywords
the suggester's rules look for. Pure data, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

THEME = "theme"
SCENARIO = "scenario"
AXES = (THEME, SCENARIO)


@dataclass(frozen=True)
class DefaultTerm:
    """A vocabulary term as shipped: axis, code, labels, EU theme code (themes) and rule keywords."""

    axis: str
    code: str
    label_zh: str
    label_en: str
    eu_code: str
    keywords: tuple[str, ...]


THEMES = (
    DefaultTerm(THEME, "TRAN", "交通", "Transport", "TRAN",
                ("交通", "停車", "公車", "捷運", "道路", "號誌", "路線", "車站", "站位", "自行車", "youbike", "車位",
                 "運輸", "計程車", "機車", "違規", "拖吊", "車輛", "高鐵")),
    DefaultTerm(THEME, "ENVI", "環境", "Environment", "ENVI",
                ("環境", "空氣", "水質", "污染", "汙染", "垃圾", "回收", "噪音", "環保", "排水", "河川", "廢棄物",
                 "清潔", "溫室", "水庫", "雨水", "污水", "下水道", "自來水")),
    DefaultTerm(THEME, "SOCI", "社會福利", "Social welfare", "SOCI",
                ("社會福利", "社福", "身心障礙", "長照", "老人", "兒童", "托育", "低收入", "救助", "照顧", "保母",
                 "婦女", "家庭", "志工", "弱勢", "安養", "社區")),
    DefaultTerm(THEME, "HEAL", "衛生醫療", "Health", "HEAL",
                ("衛生", "醫療", "醫院", "診所", "藥局", "疫苗", "疾病", "登革熱", "健康", "食品", "藥品", "傳染",
                 "病例", "篩檢", "預防接種", "醫事")),
    DefaultTerm(THEME, "EDUC", "教育文化體育", "Education, culture and sport", "EDUC",
                ("教育", "學校", "國小", "國中", "高中", "學生", "圖書館", "文化", "藝文", "古蹟", "博物館", "展覽",
                 "體育", "運動", "場館", "補習班", "幼兒園")),
    DefaultTerm(THEME, "ECON", "經濟產業", "Economy and industry", "ECON",
                ("經濟", "產業", "工廠", "商業", "公司登記", "商號", "市場", "工業區", "招商", "創業", "能源",
                 "電力")),
    DefaultTerm(THEME, "AGRI", "農業", "Agriculture", "AGRI",
                ("農業", "農地", "農產", "農會", "畜牧", "漁業", "寵物", "動物", "果菜", "有機", "林業", "埤塘")),
    DefaultTerm(THEME, "FINA", "財政稅務", "Finance and taxation", "ECON",
                ("財政", "稅", "稅捐", "地價稅", "房屋稅", "預算", "決算", "歲入", "歲出", "公債", "規費")),
    DefaultTerm(THEME, "GOVE", "政府行政", "Government and public sector", "GOVE",
                ("人事", "公務人員", "統計", "主計", "採購", "研考", "施政", "陳情", "新聞", "會議", "公文", "政風",
                 "資訊", "里長", "組織")),
    DefaultTerm(THEME, "SAFE", "公共安全", "Public safety and justice", "JUST",
                ("警察", "治安", "犯罪", "竊盜", "交通事故", "消防", "火災", "救護", "防災", "避難", "災害", "119",
                 "監視器", "詐騙", "法律", "消防栓")),
    DefaultTerm(THEME, "LAND", "土地與都市計畫", "Land and urban planning", "REGI",
                ("土地", "地政", "地籍", "地價", "實價登錄", "不動產", "都市計畫", "都市更新", "建築", "建照", "使用執照",
                 "重劃", "區段徵收", "公共工程", "測量", "門牌", "地目")),
    DefaultTerm(THEME, "TOUR", "觀光休閒", "Tourism and leisure", "",
                ("觀光", "旅遊", "景點", "旅館", "民宿", "遊客", "節慶", "休閒", "步道", "夜市")),
    DefaultTerm(THEME, "LABO", "勞動就業", "Labour and employment", "SOCI",
                ("勞工", "勞動", "就業", "職業訓練", "失業", "工資", "職災", "外籍勞工", "勞資")),
    DefaultTerm(THEME, "POPU", "人口與戶政", "Population and civil affairs", "SOCI",
                ("人口", "戶政", "戶籍", "出生", "死亡", "結婚", "離婚", "遷入", "遷出", "村里", "宗教", "殯葬",
                 "墓", "原住民", "客家")),
)

SCENARIOS = (
    DefaultTerm(SCENARIO, "DISASTER", "防災", "Disaster prevention", "",
                ("防災", "避難", "災害", "淹水", "水災", "地震", "土石流", "消防", "火災", "疏散", "救災", "防汛")),
    DefaultTerm(SCENARIO, "PLANNING", "都市計畫", "Urban planning", "",
                ("都市計畫", "都市更新", "土地使用", "分區", "重劃", "區段徵收", "建築", "地籍", "公共設施")),
    DefaultTerm(SCENARIO, "TOURISM", "觀光", "Tourism", "",
                ("觀光", "旅遊", "景點", "旅館", "民宿", "遊客", "夜市", "步道", "節慶")),
    DefaultTerm(SCENARIO, "MOBILITY", "交通出行", "Mobility", "",
                ("停車", "公車", "捷運", "自行車", "youbike", "路線", "站位", "道路", "交通")),
    DefaultTerm(SCENARIO, "CARE", "社會照顧", "Social care", "",
                ("長照", "老人", "身心障礙", "托育", "兒童", "照顧", "救助", "安養")),
    DefaultTerm(SCENARIO, "HEALTH", "公共衛生", "Public health", "",
                ("疫苗", "登革熱", "傳染", "醫院", "診所", "藥局", "衛生", "病例")),
    DefaultTerm(SCENARIO, "ENVMON", "環境監測", "Environmental monitoring", "",
                ("空氣", "水質", "噪音", "監測", "污染", "汙染", "測站")),
    DefaultTerm(SCENARIO, "BUSINESS", "產業投資", "Business and investment", "",
                ("招商", "工業區", "公司登記", "商業", "產業", "創業")),
    DefaultTerm(SCENARIO, "SAFETY", "治安", "Public order", "",
                ("治安", "竊盜", "犯罪", "監視器", "警察", "詐騙")),
    DefaultTerm(SCENARIO, "LEARNING", "教育學習", "Learning", "",
                ("學校", "圖書館", "補習班", "幼兒園", "教育")),
)

DEFAULTS = THEMES + SCENARIOS
