"""WMT20 rows whose translation values are lists (as some copies store them)."""

from __future__ import annotations

from jre.plugins.benchmarks.wmt20 import WMT20EnJa, WMT20JaEn


def test_list_values_take_their_first_element():
    rows = [{"translation": {"en": ["The cat sleeps.", "A cat is sleeping."], "ja": ["猫が寝ている。"]}},
            {"translation": {"en": "It rains.", "ja": "雨が降る。"}}]
    en_ja = WMT20EnJa().items(rows, None)
    assert [i.data["source"] for i in en_ja] == ["The cat sleeps.", "It rains."]
    assert [i.data["reference"] for i in en_ja] == ["猫が寝ている。", "雨が降る。"]
    ja_en = WMT20JaEn().items(rows, None)
    assert ja_en[0].data == {"source": "猫が寝ている。", "reference": "The cat sleeps."}
