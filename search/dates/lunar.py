"""Days of the Chinese lunar calendar, 1990-2050, as MMDD of the Gregorian year.

Made by tools/lunar_tables.py from the lengths of the calendar's months it carries (its
docstring says where they came from); `python tools/lunar_tables.py --check` says whether
this file is what it makes. Do not edit by hand: change the data there and --write."""

from __future__ import annotations

FIRST, LAST = 1990, 2050


def _table(days: str) -> dict[int, str]:
    return dict(zip(range(FIRST, LAST + 1), days.split(), strict=True))


LUNAR_NEW_YEAR = _table(  # 1st of the 1st month: 春节
    """0127 0215 0204 0123 0210 0131 0219 0207 0128 0216 0205 0124 0212 0201 0122 0209 0129
    0218 0207 0126 0214 0203 0123 0210 0131 0219 0208 0128 0216 0205 0125 0212 0201 0122
    0210 0129 0217 0206 0126 0213 0203 0123 0211 0131 0219 0208 0128 0215 0204 0124 0212
    0201 0122 0210 0130 0217 0206 0126 0214 0202 0123"""
)
DRAGON_BOAT = _table(  # 5th of the 5th month: 端午节
    """0528 0616 0605 0624 0613 0602 0620 0609 0530 0618 0606 0625 0615 0604 0622 0611 0531
    0619 0608 0528 0616 0606 0623 0612 0602 0620 0609 0530 0618 0607 0625 0614 0603 0622
    0610 0531 0619 0609 0528 0616 0605 0624 0612 0601 0620 0610 0530 0618 0607 0527 0614
    0603 0622 0611 0531 0619 0608 0529 0615 0604 0623"""
)
QIXI = _table(  # 7th of the 7th month: 七夕
    """0826 0816 0805 0824 0813 0802 0820 0809 0828 0817 0806 0825 0815 0804 0822 0811 0731
    0819 0807 0826 0816 0806 0823 0813 0802 0820 0809 0828 0817 0807 0825 0814 0804 0822
    0810 0829 0819 0808 0826 0816 0805 0824 0812 0801 0820 0810 0828 0817 0807 0826 0814
    0803 0822 0811 0731 0819 0808 0827 0816 0805 0823"""
)
MID_AUTUMN = _table(  # 15th of the 8th month: 中秋节
    """1003 0922 0911 0930 0920 0909 0927 0916 1005 0924 0912 1001 0921 0911 0928 0918 1006
    0925 0914 1003 0922 0912 0930 0919 0908 0927 0915 1004 0924 0913 1001 0921 0910 0929
    0917 1006 0925 0915 1003 0922 0912 1001 0919 0908 0927 0916 1004 0924 0913 1002 0920
    0910 0928 0917 1005 0925 0915 1004 0922 0911 0930"""
)
LUNAR = {  # by the name a festival's anchor gives (search.language's tables)
    "new year": LUNAR_NEW_YEAR,
    "dragon boat": DRAGON_BOAT,
    "qixi": QIXI,
    "mid-autumn": MID_AUTUMN,
}
