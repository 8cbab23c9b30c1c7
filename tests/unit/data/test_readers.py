"""Reading a user's table: the delimiter of a text file is sniffed from its content and suffix."""
from __future__ import annotations

import pytest

from privib.data.readers import sniff_delimiter


@pytest.mark.parametrize("text,suffix,expected", [
    ("a,b,c\n1,2,3\n4,5,6\n", ".csv", ","),
    ("a;b;c\n1,5;2;3\n4;5;6\n", ".csv", ";"),
    ("a\tb\n1\t2\n", ".tsv", "\t"),
    ("a|b\n1|2\n3|4\n", ".txt", "|"),
])
def test_sniff_delimiter(text, suffix, expected):
    assert sniff_delimiter(text, suffix, complete=True) == expected
