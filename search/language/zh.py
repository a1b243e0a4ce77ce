"""Chinese: the words of date phrases and of numbers, as data (search.dates builds its patterns
from them, search.relevance its number rivals). The same names as en.py, whose docstring says
how they are read; here words are written without spaces, and a number is followed by its
counter (2023年, 三只猫)."""

SPACED = False  # words touch: 2023年夏天的海边

# -- numbers ----------------------------------------------------------------------------------
NUMBERS = ("一", "两", "三", "四", "五", "六", "七", "八", "九", "十")  # one to ten, counting
NUMBER_ALIASES = {"二": "两", "兩": "两"}  # 二个人 and 兩個人 count as 两个人
ARTICLES = ()
NUMERALS = "〇一二三四五六七八九"  # digits 0-9: 二〇二三年
NUMERAL_ALIASES = {"零": "〇"}
TEN = "十"  # 十二月, 二十五日
LARGER_NUMERALS = "百千万"  # 二百: not a count of two
ORDINAL_PREFIXES = ("第",)  # 第二个: the second, not two
# A count is a numeral before one of these (两个, 三只, 五人); traditional forms beside simplified
MEASURE_WORDS = tuple("个個只隻条條张張辆輛位头頭匹棵朵本把台件人颗顆块塊名双雙支根片座艘架盏间群")

# -- calendar words -------------------------------------------------------------------------
YEAR_WORDS = ("年",)  # 2023年
NOT_A_YEAR_AFTER_YEAR_WORD = ("代", "级", "龄", "纪")  # 1990年代, 2021年级, 年龄, 年纪
MONTH_WORDS = ("月",)  # 6月, 十二月
MONTH_SUFFIXES = ("份",)  # 6月份
DAY_WORDS = ("日", "号")  # 15日, 15号
MONTH_NOT_AFTER = ("个",)  # 一个月: a month's length
MONTHS: dict[str, int] = {}  # months by name (en.py): Chinese numbers them
ORDINAL_SUFFIXES = ()
ORDINAL_ARTICLES = ()
DAY_OF = ()
SEASONS = {
    "春天": "spring",
    "春季": "spring",
    "夏天": "summer",
    "夏季": "summer",
    "秋天": "autumn",
    "秋季": "autumn",
    "冬天": "winter",
    "冬季": "winter",
}
# 2021年夏: right after a year, and only where the word ends (not 夏至, not 冬奥会)
SEASONS_AFTER_A_YEAR = {"春": "spring", "夏": "summer", "秋": "autumn", "冬": "winter"}
FESTIVALS = {  # as en.py's
    "平安夜": (12, 24, 1),
    "圣诞节": (12, 24, 2),
    "圣诞": (12, 24, 2),
    "跨年": (12, 31, 2),
    "元旦": (1, 1, 1),
    "情人节": (2, 14, 1),
    "万圣节": (10, 31, 1),
    "劳动节": (5, 1, 5),
    "五一": (5, 1, 5),
    "国庆节": (10, 1, 7),
    "国庆": (10, 1, 7),
    "春节": ("new year", -1, 7),  # 除夕 to the sixth day
    "过年": ("new year", -1, 7),
    "除夕": ("new year", -1, 1),
    "元宵节": ("new year", 14, 1),
    "元宵": ("new year", 14, 1),
    "端午节": ("dragon boat", 0, 1),
    "端午": ("dragon boat", 0, 1),
    "七夕": ("qixi", 0, 1),
    "中秋节": ("mid-autumn", 0, 1),
    "中秋": ("mid-autumn", 0, 1),
}

# -- relative words (as en.py's) ------------------------------------------------------------
RELATIVE = {
    "今天": ("day", 0),
    "昨天": ("day", -1),
    "前天": ("day", -2),
    "大前天": ("day", -3),
    "这周": ("week", 0),
    "本周": ("week", 0),
    "这星期": ("week", 0),
    "这个星期": ("week", 0),
    "上周": ("week", -1),
    "上星期": ("week", -1),
    "上个星期": ("week", -1),
    "上礼拜": ("week", -1),
    "上个礼拜": ("week", -1),
    "上上周": ("week", -2),
    "这个月": ("month", 0),
    "本月": ("month", 0),
    "上个月": ("month", -1),
    "上上个月": ("month", -2),
    "今年": ("year", 0),
    "去年": ("year", -1),
    "前年": ("year", -2),
    "大前年": ("year", -3),
}
# A weekday of a week said: prefix, measure word (optional), week word, weekday: 上周六,
# 这个星期天, 上上周末
WEEK_PREFIXES = {"上上": -2, "上": -1, "这": 0, "本": 0}
WEEK_MEASURES = ("个",)
WEEK_WORDS = ("周", "星期", "礼拜")
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
WEEKEND = ("末",)
AGO_UNITS = {"天": "day", "日": "day", "周": "week", "星期": "week", "个月": "month", "年": "year"}
AGO = ("前",)  # 三天前
MODIFIERS: dict[str, str] = {}  # last/this before a season (Chinese says 去年冬天)

# -- words around a phrase ------------------------------------------------------------------
RANGE_WORDS = ("到", "至")
AND_WORDS = ("和", "与", "及", "、")
OR_WORDS = ("或",)
BETWEEN_BEFORE = ()
BETWEEN_AFTER = ("之间",)  # 2019年和2021年之间: one range
JOINS = ("的",)
OPEN_BEFORE = {
    "从": "since",
    "自从": "since",
    "自": "since",
    "直到": "until",
    "截至": "until",
    "截止": "until",
    "截止到": "until",
    "到": "until",
}
OPEN_AFTER = {
    "以来": "since",
    "以后": "since",
    "之后": "since",
    "至今": "since",
    "到现在": "since",
    "以前": "before",
    "之前": "before",
    "为止": "until",
}
OPEN_AFTER_AT_WORD_END = {"前": "before", "后": "since"}  # 2019年后, not 2019年后院 (a backyard)
PREPOSITIONS = ("从", "自从", "自", "在", "于")
TAKEN = ()
AFTER_A_PHRASE = (
    "以来",
    "以后",
    "之后",
    "以前",
    "之前",
    "之间",
    "期间",
    "的时候",
    "时候",
    "那天",
    "拍摄的",
    "拍的",
    "的",
    "时",
)
MONTH_CUES = ()
NOT_A_YEAR_BEFORE = ("第", "编号")  # 第2023: a number
# After a bare number: a count, a price, a room or a time, not a year (2023号, 2019元)
NOT_A_YEAR_AFTER = tuple("年号室房层楼路元块米个张次件届级班岁克分点")
BC = ("公元前",)  # 公元前2021年: a year BC, which the calendar here lacks
WORD_ENDS = "的拍和与或及"  # where a short word ends (2021年夏的, not 夏至), beside punctuation
DAY_ENDS = "早晚上下中凌到至去在了"  # and a weekday's (上周六晚上, not 上周六合彩)
