"""What a typed query means: the date phrases in it as date ranges, and the rest as the text to
embed. `parse` and `Query` (search.dates.phrases); the words of each language are data
(search.language's tables), the grammar code (tokens, grammar), the calendar apart (calendar;
lunar, made by tools/lunar_tables.py).

    parse("2023年夏天 海边")               -> Query("海边", 2023-06-01, 2023-09-01)
    parse("去年的猫", today=2026-11-24)     -> Query("猫", 2025-01-01, 2026-01-01)
    parse("上个月15号", today=2026-11-24)   -> Query("", 2026-10-15, 2026-10-16)
    parse("beach photos from last summer") -> Query("beach photos", <last June 1>, <September 1>)

Ranges are half-open, [after, before), as `Library.search` filters (`after` inclusive, `before`
exclusive). What is understood, in Chinese and English:

- years (2023, 2023年, 二〇二三年; 19年 before a season, a month or a festival: 19年夏天), months
  (2023年6月, June 2023, in June, 6月), days (2023年6月15日, June 15, 2023-06-15); a month or day
  without a year is the latest one that has begun;
- seasons with a year or a relative word (2023年夏天, 2023年夏, 去年冬天, summer 2023, last
  summer): spring March-May, summer June-August, autumn September-November, winter December to
  February (the winter of 2023 begins in December 2023); `hemisphere="south"` swaps them;
- relative phrases: 今年 去年 前年 大前年 上上个月 上个月 这个月 上周 这周 上周六 上周末 昨天 前天
  今天 N天前 N年前, this year, last year, the year before last, last/this month, last/this week,
  last/this weekend, yesterday, today, N days (weeks, months, years) ago; weeks begin on Monday.
  Each is a unit and an offset, resolved with the words beside it: a day of a month said so
  (上个月15号, 3个月前的1号, the 15th of last month), today in a year (去年今天, 2020年的今天: this
  day that year), a season or a month of a year (去年冬天, 三年前的夏天, June two years ago);
- ranges: 2019到2021年, 2023年3月至5月, from 2018 to 2020, between 2018 and 2020, June to August
  2023 (a side without a year takes the other's; two years the wrong way round, "from 2025 to
  2018", are read the right way; months without one, 12月到2月 or "from December to February",
  are the latest such stretch that has begun); open ones: since 2020, 2020年以来, 2021年至今,
  from 2021 onwards, 2021 to now; before 2020, 2020年以前, 2020年前; until 2020, 到2020年为止,
  截至2020年 (2020 included); after a festival, 2020年春节后;
- festivals with a year or a relative word: 圣诞节 / Christmas (24-25 December), 平安夜 / Christmas
  Eve, 元旦 / New Year's Day, 跨年 / New Year's Eve, 情人节 / Valentine's Day, 万圣节 / Halloween,
  劳动节 / 五一 (1-5 May), 国庆 (1-7 October), Easter (computed); and from the tables of lunar
  dates (1990-2050): 春节 / Chinese (Lunar) New Year (除夕 to the sixth day), 除夕, 元宵节 /
  Lantern Festival, 端午节 / Dragon Boat Festival, 七夕 / Qixi, 中秋节 / Mid-Autumn Festival.

Left in the text, because they describe the look as much as the date: a season or festival
without a year ("夏天的海边", "Christmas tree"), decades ("the 1990s look", "90年代"). A number is
not a year when it is part of a word, a name or a longer number (2023号房间, room 2023, v2023,
2023x, 12023年), nor, written without 年, when it lies in the future. A year alone is a date
within 1800 to 2200 (1000年的古树, 5000年的文明 are ages); with a month, a day, a season or a
festival, or at an end of a range whose other end is within those (1900年到9999年), it is any the
calendar has, 1 to 9999: 9999年12月31日 is that day, and a range that runs to the end of 9999
ends at `datetime.max`. A day, month or year that does not exist (2023年2月29日, 2021年13月,
6月0日, 0000年, after 9999年12月31日, 上个月31号 after a month of 30 days), a year BC
(公元前2021年) or too far back to count (3000 years ago, 3000年前) leaves the whole phrase as
typed. A day of the month alone (15号, the 15th) is words.
Full-width digits (２０２１年) are digits. Several date phrases (2019年和2021年, "2019 and
2021") are each a range, in `ranges`; `after` and `before` span them all; after "and", a
month takes the year of the phrase before it (2023年6月和7月), a season that of a season
(2018年的夏天和秋天). Two phrases at most: a third (2018年夏天和秋天和冬天) stays words.

Dates are read in the first MAX_QUERY_CHARS characters (the rest stays text), in a time that
grows with the length of the text, not its square: no pattern is retried from every digit of a
number or every space of a run, and the words before a phrase are looked for just before it.
"""

from search.dates.phrases import MAX_QUERY_CHARS, Query, parse

__all__ = ["MAX_QUERY_CHARS", "Query", "parse"]
