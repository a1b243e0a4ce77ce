"""Date phrases in queries (search.query.parse): a table of phrases to ranges in Chinese and
English for a fixed today, the text that is left to embed, and words that only look like dates;
relative phrases that compose (上个月15号, 去年今天); the language detector and the tables of
words each language brings (search.language); the lunar tables and the script that makes them."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from search import language
from search.dates.calendar import easter
from search.dates.lunar import DRAGON_BOAT, LUNAR_NEW_YEAR, MID_AUTUMN, QIXI
from search.query import Query, parse

TODAY = date(2026, 11, 24)  # a Tuesday


def d(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


# (query, text left, after, before): ranges are [after, before)
TABLE = [
    # years
    ("2023年 海边", "海边", "2023-01-01", "2024-01-01"),
    ("二〇二三年的雪", "雪", "2023-01-01", "2024-01-01"),
    ("cat 2023", "cat", "2023-01-01", "2024-01-01"),
    ("photos from 2019", "photos", "2019-01-01", "2020-01-01"),
    # months and days
    ("2023年6月 生日", "生日", "2023-06-01", "2023-07-01"),
    ("2023年6月15日", "", "2023-06-15", "2023-06-16"),
    ("2023年12月31号 烟花", "烟花", "2023-12-31", "2024-01-01"),
    ("June 2023", "", "2023-06-01", "2023-07-01"),
    ("June 15, 2023 wedding", "wedding", "2023-06-15", "2023-06-16"),
    ("15th of June 2023", "", "2023-06-15", "2023-06-16"),
    ("2023-06-15", "", "2023-06-15", "2023-06-16"),
    ("2023/6 trip", "trip", "2023-06-01", "2023-07-01"),
    ("6月的花", "花", "2026-06-01", "2026-07-01"),  # without a year: the latest begun
    ("十二月的雪", "雪", "2025-12-01", "2026-01-01"),  # December has not begun yet this year
    ("dogs in march", "dogs", "2026-03-01", "2026-04-01"),
    ("last June", "", "2026-06-01", "2026-07-01"),
    # seasons
    ("2023年夏天 海边", "海边", "2023-06-01", "2023-09-01"),
    ("2023年冬天", "", "2023-12-01", "2024-03-01"),
    ("去年冬天的雪", "雪", "2025-12-01", "2026-03-01"),
    ("今年春天", "", "2026-03-01", "2026-06-01"),
    ("beach photos from last summer", "beach photos", "2026-06-01", "2026-09-01"),
    ("summer of 2021", "", "2021-06-01", "2021-09-01"),
    ("autumn 2020 leaves", "leaves", "2020-09-01", "2020-12-01"),
    ("fall 2020", "", "2020-09-01", "2020-12-01"),
    ("2021年夏 海", "海", "2021-06-01", "2021-09-01"),
    ("2022年冬奥会", "冬奥会", "2022-01-01", "2023-01-01"),  # 冬 begins a word: not winter
    ("2023年前后的照片", "前后的照片", "2023-01-01", "2024-01-01"),  # around 2023: not before
    ("２０２１年夏天", "", "2021-06-01", "2021-09-01"),  # full-width digits
    ("１２月到２月", "", "2025-12-01", "2026-03-01"),
    ("this winter", "", "2025-12-01", "2026-03-01"),  # December has not begun: the last one
    # relative
    ("去年的猫", "猫", "2025-01-01", "2026-01-01"),
    ("今年", "", "2026-01-01", "2027-01-01"),
    ("前年的照片", "照片", "2024-01-01", "2025-01-01"),
    ("大前年", "", "2023-01-01", "2024-01-01"),
    ("上个月 公园", "公园", "2026-10-01", "2026-11-01"),
    ("这个月", "", "2026-11-01", "2026-12-01"),
    ("上周的晚饭", "晚饭", "2026-11-16", "2026-11-23"),
    ("上周六的晚饭", "晚饭", "2026-11-21", "2026-11-22"),
    ("上周六晚上", "晚上", "2026-11-21", "2026-11-22"),
    ("上周一起吃饭", "一起吃饭", "2026-11-16", "2026-11-23"),  # 一起 is together: last week
    ("这周日本旅行", "日本旅行", "2026-11-23", "2026-11-30"),
    ("上个星期天", "", "2026-11-22", "2026-11-23"),
    ("上周末 公园", "公园", "2026-11-21", "2026-11-23"),
    ("这周六", "", "2026-11-28", "2026-11-29"),
    ("上上周日", "", "2026-11-15", "2026-11-16"),
    ("park last weekend", "park", "2026-11-21", "2026-11-23"),
    ("上上个月", "", "2026-09-01", "2026-10-01"),
    ("昨天", "", "2026-11-23", "2026-11-24"),
    ("前天", "", "2026-11-22", "2026-11-23"),
    ("三年前", "", "2023-01-01", "2024-01-01"),
    ("5天前", "", "2026-11-19", "2026-11-20"),
    ("3个月前", "", "2026-08-01", "2026-09-01"),
    ("this year", "", "2026-01-01", "2027-01-01"),
    ("last year's beach", "beach", "2025-01-01", "2026-01-01"),
    ("the year before last", "", "2024-01-01", "2025-01-01"),
    ("last month", "", "2026-10-01", "2026-11-01"),
    ("dinner last week", "dinner", "2026-11-16", "2026-11-23"),
    ("this week", "", "2026-11-23", "2026-11-30"),
    ("yesterday's dinner", "dinner", "2026-11-23", "2026-11-24"),
    ("two days ago", "", "2026-11-22", "2026-11-23"),
    ("2 years ago", "", "2024-01-01", "2025-01-01"),
    # ranges
    ("2019到2021年", "", "2019-01-01", "2022-01-01"),
    ("2019年至2021年 旅行", "旅行", "2019-01-01", "2022-01-01"),
    ("2023年3月到5月", "", "2023-03-01", "2023-06-01"),
    ("from 2018 to 2020", "", "2018-01-01", "2021-01-01"),
    ("from 2025 to 2018", "", "2018-01-01", "2026-01-01"),  # both years said: read either way
    ("2021年到2019年的海", "海", "2019-01-01", "2022-01-01"),
    ("between 2018 and 2020", "", "2018-01-01", "2021-01-01"),
    ("2018-2020 mountains", "mountains", "2018-01-01", "2021-01-01"),
    ("June to August 2023", "", "2023-06-01", "2023-09-01"),
    ("between June and August", "", "2026-06-01", "2026-09-01"),
    ("12月到2月的雪", "雪", "2025-12-01", "2026-03-01"),  # the end month after the start
    ("12月到2020年2月", "", "2019-12-01", "2020-03-01"),  # the start in the year before
    ("2019年12月到2月", "", "2019-12-01", "2020-03-01"),  # the end in the year after
    ("November 2023 to March", "", "2023-11-01", "2024-04-01"),
    ("11月到12月", "", "2026-11-01", "2027-01-01"),  # begun this November, not 14 months
    ("5月1日到6月1日", "", "2026-05-01", "2026-06-02"),
    ("December to February 2020", "", "2019-12-01", "2020-03-01"),
    ("snow from December to February", "snow", "2025-12-01", "2026-03-01"),
    ("since 2020", "", "2020-01-01", None),
    ("2020年以来的狗", "狗", "2020-01-01", None),
    ("before 2020", "", None, "2020-01-01"),
    ("2020年之前的照片", "照片", None, "2020-01-01"),
    ("after 2020", "", "2021-01-01", None),
    ("从2018到2020的海", "海", "2018-01-01", "2021-01-01"),  # 从 opens no end of a range
    ("2020年前的照片", "照片", None, "2020-01-01"),  # a year 年前: before it, not 2020 years ago
    ("until 2020", "", None, "2021-01-01"),
    ("photos taken until 2020", "photos", None, "2021-01-01"),
    ("到2020年为止的猫", "猫", None, "2021-01-01"),
    ("截至2020年", "", None, "2021-01-01"),
    ("海边 2021年至今", "海边", "2021-01-01", None),
    ("2021年6月至今", "", "2021-06-01", None),
    ("cats from 2021 onwards", "cats", "2021-01-01", None),
    ("2021 to now", "", "2021-01-01", None),
    ("2020年春节后", "", "2020-01-24", None),
    ("2019年后的猫", "猫", "2019-01-01", None),
    ("2019年后院", "后院", "2019-01-01", "2020-01-01"),  # 后院: a backyard, not "after"
    ("photos from christmas 2019 to new year 2020", "photos", "2019-12-24", "2020-01-02"),
    # festivals
    ("2023年圣诞节", "", "2023-12-24", "2023-12-26"),
    ("Christmas 2022 dinner", "dinner", "2022-12-24", "2022-12-26"),
    ("last Christmas", "", "2025-12-24", "2025-12-26"),  # this year's has not begun
    ("去年平安夜", "", "2025-12-24", "2025-12-25"),
    ("2024年春节", "", "2024-02-09", "2024-02-16"),  # 除夕 to the sixth day
    ("Chinese New Year 2024", "", "2024-02-09", "2024-02-16"),
    ("2023年国庆 长城", "长城", "2023-10-01", "2023-10-08"),
    ("Halloween 2021", "", "2021-10-31", "2021-11-01"),
    ("2023年中秋节 月饼", "月饼", "2023-09-29", "2023-09-30"),
    ("去年中秋", "", "2025-10-06", "2025-10-07"),
    ("Mid-Autumn Festival 2024", "", "2024-09-17", "2024-09-18"),
    ("2024年端午节 龙舟", "龙舟", "2024-06-10", "2024-06-11"),
    ("2024年元宵节", "", "2024-02-24", "2024-02-25"),
    ("2024年除夕", "", "2024-02-09", "2024-02-10"),
    ("七夕 2023", "", "2023-08-22", "2023-08-23"),
    ("Easter 2021", "", "2021-04-04", "2021-04-05"),
    ("last Easter", "", "2026-04-05", "2026-04-06"),
]


@pytest.mark.parametrize("query, text, after, before", TABLE)
def test_date_phrases_become_ranges(query, text, after, before):
    q = parse(query, today=TODAY)
    assert (q.text, q.after, q.before) == (text, d(after), d(before))
    assert q.phrases  # what the page shows as a chip


@pytest.mark.parametrize(
    "query",
    [
        "海边的日落",
        "2023号房间",  # a room number
        "room 2023",
        "v2023 release",  # part of a word
        "2023x",
        "the 1990s look",  # decades describe a look
        "90年代的风格",
        "夏天的海边",  # a season alone describes the look
        "summer",
        "圣诞树",  # so does a festival alone
        "Christmas tree",
        "中秋节的月亮",
        "happy new year",
        "photos of 2019-nCoV",  # a year inside a name
        "2060年中秋节",  # beyond the lunar tables
        "March of the penguins",  # a month's name alone may be a title, a name or a verb
        "June",
        "may flowers",
        "2077 cyberpunk",  # a bare year in the future is not a date
        "3 dogs",
        "三个月亮",
        "2023年2月29日",  # no such day: left as typed
        "2021年13月的猫",  # no such month: not the year 2021 either
        "2021年0月",
        "2021年6月0日",
        "2021年6月32日 猫",
        "公元前2021年",  # BC
        "3000 years ago",  # before any calendar here
        "10000年前的猫",
        "9999999999999999999 days ago",
        "2023年12月15日到12月10日",  # a range the wrong way round, not a year long
        "June 15 to June 10",
        "上个月到3月",  # last month to March: not into next year
        "1990年代的风格",
        "15号的电影",  # a day of the month alone: a number
        "the 15th floor",
        "第15号",
        "上上个月31号",  # September has 30 days: no such day, so none of it is a date
        "",
    ],
)
def test_words_that_only_look_like_dates_are_left_alone(query):
    assert parse(query, today=TODAY) == Query(query)


@pytest.mark.parametrize(
    "today, query, after, before",
    [
        (date(2026, 1, 5), "上个月", "2025-12-01", "2026-01-01"),  # a month at year end
        (date(2026, 1, 5), "last month", "2025-12-01", "2026-01-01"),
        (date(2026, 1, 1), "last week", "2025-12-22", "2025-12-29"),
        (date(2026, 1, 1), "昨天", "2025-12-31", "2026-01-01"),
        (date(2024, 3, 1), "昨天", "2024-02-29", "2024-03-01"),  # leap years
        (date(2023, 3, 1), "yesterday", "2023-02-28", "2023-03-01"),
        (date(2026, 1, 5), "2024年2月29日", "2024-02-29", "2024-03-01"),
        (date(2026, 1, 5), "2024年2月", "2024-02-01", "2024-03-01"),
        (date(2026, 7, 10), "last summer", "2025-06-01", "2025-09-01"),  # during a summer
        (date(2026, 7, 10), "this summer", "2026-06-01", "2026-09-01"),
        (date(2026, 1, 20), "this winter", "2025-12-01", "2026-03-01"),
        (date(2026, 1, 20), "last winter", "2024-12-01", "2025-03-01"),
        (date(2026, 12, 25), "last Christmas", "2025-12-24", "2025-12-26"),
        (date(2026, 12, 31), "2026年12月", "2026-12-01", "2027-01-01"),
        (date(2026, 12, 10), "12月到2月", "2026-12-01", "2027-03-01"),  # begun: runs into 2027
        (date(2026, 1, 15), "from December to February", "2025-12-01", "2026-03-01"),
    ],
)
def test_relative_phrases_at_the_edges_of_months_and_years(today, query, after, before):
    q = parse(query, today=today)
    assert (q.after, q.before) == (d(after), d(before))


def test_southern_hemisphere_swaps_the_seasons():
    north = parse("2023年夏天", today=TODAY)
    south = parse("2023年夏天", today=TODAY, hemisphere="south")
    assert (north.after, north.before) == (d("2023-06-01"), d("2023-09-01"))
    assert (south.after, south.before) == (d("2023-12-01"), d("2024-03-01"))
    winter = parse("winter 2023 beach", today=TODAY, hemisphere="south")
    assert (winter.text, winter.after, winter.before) == ("beach", d("2023-06-01"), d("2023-09-01"))
    with pytest.raises(ValueError, match="hemisphere"):
        parse("2023", hemisphere="east")


def test_a_date_phrase_in_quotes_is_words():
    """ "today" in quotes is the word on a sign, not a filter; the phrases outside still are."""
    assert parse('"today"', today=TODAY) == Query('"today"')
    q = parse("招牌上写着“去年” 去年", today=TODAY)
    assert q.text == "招牌上写着“去年”" and q.phrases == ("去年",)
    assert parse('"today', today=TODAY).phrases == ("today",)  # no closing quote: a date


@pytest.mark.parametrize(
    "query, after, before",
    [
        ("from 2019 to 2030", "2019-01-01", "2031-01-01"),
        ("between 2020 and 2030", "2020-01-01", "2031-01-01"),
        ("2019-2030", "2019-01-01", "2031-01-01"),
        ("since 2030", "2030-01-01", None),
        ("in 2030", "2030-01-01", "2031-01-01"),
    ],
)
def test_a_year_to_come_is_a_year_where_a_date_word_leads_it(query, after, before):
    """A range that ends in a year to come was cut to its first year ("to 2030" left as words);
    a number past this year alone is still a number (room 2030)."""
    q = parse(query, today=TODAY)
    assert (q.text, q.after, q.before) == ("", d(after), before and d(before))


def test_text_that_is_only_a_date_leaves_nothing_to_embed():
    for query in ["2023年", "去年", "last summer", "  2019到2021年 ", "from 2018 to 2020"]:
        q = parse(query, today=TODAY)
        assert q.text == "" and q.after is not None


def test_several_phrases_are_each_a_range_and_span_them_all():
    """Each phrase its own range (the photos of any of them are searched), after and before the
    range that spans them; a word that only joins them goes too."""
    q = parse("2023年夏天 和 2024年冬天 的海", today=TODAY)
    assert (q.text, q.after, q.before) == ("海", d("2023-06-01"), d("2025-03-01"))
    assert q.phrases == ("2023年夏天", "2024年冬天")
    assert q.ranges == ((d("2023-06-01"), d("2023-09-01")), (d("2024-12-01"), d("2025-03-01")))
    years = ((d("2019-01-01"), d("2020-01-01")), (d("2021-01-01"), d("2022-01-01")))
    for typed in ("2019年和2021年的猫", "cats from 2019 and 2021", "2019年、2021年 猫"):
        q = parse(typed, today=TODAY)
        assert q.ranges == years and q.text in ("猫", "cats"), typed
    for typed in ("between 2019 and 2021", "2019年和2021年之间"):  # a range, not two years
        assert parse(typed, today=TODAY).ranges == ((d("2019-01-01"), d("2022-01-01")),)
    june_july = ((d("2023-06-01"), d("2023-07-01")), (d("2023-07-01"), d("2023-08-01")))
    assert parse("2023年6月和7月", today=TODAY).ranges == june_july  # July takes 2023
    assert parse("June and July 2023", today=TODAY).ranges == june_july
    summer_autumn = ((d("2018-06-01"), d("2018-09-01")), (d("2018-09-01"), d("2018-12-01")))
    for typed in ("2018年的夏天和秋天", "summer and autumn 2018", "2018年夏天、秋天"):
        assert parse(typed, today=TODAY).ranges == summer_autumn, typed  # autumn takes 2018
    q = parse("2018年夏天和秋天和冬天", today=TODAY)  # two phrases at most: the third is words
    assert (q.text, q.ranges) == ("和冬天", summer_autumn)
    q = parse("2019年和秋天的树叶", today=TODAY)  # a season takes a year from a season only
    assert (q.text, q.ranges) == ("和秋天的树叶", ((d("2019-01-01"), d("2020-01-01")),))
    for typed in ("after 2019 and before 2021", "2020年以后、2021年以前"):  # open ends: one range
        q = parse(typed, today=TODAY)
        assert (q.phrases, q.ranges) == ((typed,), ((d("2020-01-01"), d("2021-01-01")),)), typed
    q = parse("2019 and christmas tree", today=TODAY)  # a festival alone borrows no year
    assert (q.text, q.ranges) == ("and christmas tree", ((d("2019-01-01"), d("2020-01-01")),))


@pytest.mark.parametrize(
    "typed, text, first, last",
    [
        ("19年夏天的海边", "海边", "2019-06-01", "2019-08-31"),
        ("23年国庆", "", "2023-10-01", "2023-10-07"),
        ("21年5月的照片", "照片", "2021-05-01", "2021-05-31"),
        ("95年春节", "", "1995-01-30", "1995-02-05"),  # a year to come is the century before
    ],
)
def test_a_year_by_its_last_two_digits(typed, text, first, last):
    """19年夏天, as people say it: where a season, a month or a festival follows."""
    q = parse(typed, today=TODAY)
    assert (q.text, [(str(a), str(b)) for _, a, b in q.days()]) == (text, [(first, last)])


@pytest.mark.parametrize("typed", ["19年的猫", "结婚19年", "v19年夏天", "19岁生日"])
def test_two_digits_and_year_alone_are_words(typed):  # 19年 may be nineteen years
    assert parse(typed, today=TODAY).text == typed


def test_today_defaults_to_today():
    today = date.today()  # read once: a second reading may fall after New Year's midnight
    assert parse("今年", today=today).after == datetime(today.year, 1, 1)
    assert parse("今年").after.year in (today.year, today.year + 1)  # parse's own, just after


# (query, text left, after, before) with TODAY: a relative word keeps its unit and offset until
# the phrase is read whole, so it anchors the words beside it
COMPOSED = [
    ("上个月15号的生日", "生日", "2026-10-15", "2026-10-16"),
    ("上个月的15号", "", "2026-10-15", "2026-10-16"),
    ("这个月1号以来", "", "2026-11-01", None),
    ("3个月前的1号", "", "2026-08-01", "2026-08-02"),
    ("上上个月三十号", "", "2026-09-30", "2026-10-01"),
    ("the 15th of last month", "", "2026-10-15", "2026-10-16"),
    ("party on the 1st of this month", "party", "2026-11-01", "2026-11-02"),
    ("去年今天", "", "2025-11-24", "2025-11-25"),
    ("去年的今天 海边", "海边", "2025-11-24", "2025-11-25"),
    ("2020年的今天", "", "2020-11-24", "2020-11-25"),
    ("三年前的今天", "", "2023-11-24", "2023-11-25"),
    ("三年前的夏天", "", "2023-06-01", "2023-09-01"),
    ("Christmas 2 years ago", "", "2024-12-24", "2024-12-26"),
]


@pytest.mark.parametrize("query, text, after, before", COMPOSED)
def test_relative_phrases_compose(query, text, after, before):
    q = parse(query, today=TODAY)
    assert (q.text, q.after, q.before) == (text, d(after), d(before))
    assert len(q.phrases) == 1


def test_this_day_last_year_on_a_leap_day():
    """29 February a year on or back is the 28th, the day that year has."""
    q = parse("去年今天", today=date(2024, 2, 29))
    assert (q.after, q.before) == (d("2023-02-28"), d("2023-03-01"))
    q = parse("上个月15号", today=date(2026, 1, 5))  # a month at year end
    assert (q.after, q.before) == (d("2025-12-15"), d("2025-12-16"))


@pytest.mark.parametrize(
    "text, detected",
    [
        ("海边的日落", "zh"),
        ("兩個人", "zh"),
        ("ねこ", "ja"),  # kana alone: Japanese, not English
        ("カメラ", "ja"),
        ("猫の写真", "ja"),  # Han characters with kana
        ("고양이", "ko"),
        ("beach at sunset", "en"),
        ("crème brûlée", "en"),
        ("2023", "other"),
        ("кошка", "other"),
        ("", "other"),
        ("迈克尔・杰克逊", "zh"),  # a katakana middle dot in a Chinese name is no kana
    ],
)
def test_one_detector_tells_the_language_by_script(text, detected):
    assert language.detect(text) == detected


def test_every_language_table_names_the_same_words():
    """A new language's table (search/language/ja.py, say) names everything en.py does, each of
    the same type, so the grammar and the number rivals read it without a change."""
    expected = {n: type(v) for n, v in vars(language.en).items() if n.isupper()}
    for code, table in language.TABLES.items():
        own = {n: type(v) for n, v in vars(table).items() if n.isupper()}
        assert own == expected, code


def test_the_lunar_tables_are_what_their_script_makes():
    """search/dates/lunar.py is made by tools/lunar_tables.py from the data it carries."""
    script = Path(__file__).resolve().parents[1] / "tools" / "lunar_tables.py"
    done = subprocess.run(
        [sys.executable, script, "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_lunar_new_year_table():
    """1990-2050, each new year 21 January to 20 February, 354 to 385 days after the last (a
    lunar year of 12 or 13 months); spot checks against published dates."""
    assert min(LUNAR_NEW_YEAR) <= 1990 and max(LUNAR_NEW_YEAR) >= 2040
    days = [date(y, int(v[:2]), int(v[2:])) for y, v in sorted(LUNAR_NEW_YEAR.items())]
    assert all(date(x.year, 1, 21) <= x <= date(x.year, 2, 20) for x in days)
    gaps = {(b - a).days for a, b in zip(days, days[1:], strict=False)}
    assert gaps <= {354, 355, 383, 384, 385}
    known = {1990: "0127", 2000: "0205", 2008: "0207", 2020: "0125", 2023: "0122", 2026: "0217"}
    assert all(LUNAR_NEW_YEAR[y] == v for y, v in known.items())


@pytest.mark.parametrize(
    "table, month, day, known",
    [
        (DRAGON_BOAT, 5, 5, {2020: "0625", 2023: "0622", 2024: "0610"}),
        (QIXI, 7, 7, {2023: "0822", 2024: "0810"}),
        (MID_AUTUMN, 8, 15, {2008: "0914", 2020: "1001", 2023: "0929", 2024: "0917"}),
    ],
)
def test_the_other_lunar_tables(table, month, day, known):
    """1990-2050, each as far after that year's lunar new year as its lunar month and day say
    (months of 29 or 30 days, and at most one leap month before it), a lunar year after the
    last; spot checks against published dates."""
    assert sorted(table) == sorted(LUNAR_NEW_YEAR) == list(range(1990, 2051))

    def day_of(y, mmdd):
        return date(y, int(mmdd[:2]), int(mmdd[2:]))

    for y in table:
        after = (day_of(y, table[y]) - day_of(y, LUNAR_NEW_YEAR[y])).days
        assert (month - 1) * 29 + day - 1 <= after <= month * 30 + day - 1, y
    days = [day_of(y, v) for y, v in sorted(table.items())]
    assert {(b - a).days for a, b in zip(days, days[1:], strict=False)} <= {354, 355, 383, 384, 385}
    assert all(table[y] == v for y, v in known.items())


def test_easter():
    known = {
        2000: (4, 23),
        2008: (3, 23),
        2019: (4, 21),
        2021: (4, 4),
        2024: (3, 31),
        2038: (4, 25),
    }
    assert all(easter(y) == date(y, *md) for y, md in known.items())
