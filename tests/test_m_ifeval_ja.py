"""M-IFEval-Ja: each Japanese checker on responses of known verdicts, the shared checkers
against lm-eval's own IFEval checker, and the benchmark end to end through the eval stage."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jre.errors import UserError
from jre.lib import ifeval_ja

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402

CASES = [  # (id, kwargs, passing response, failing response)
    ("ja:letters:hiragana_only", {}, "ふじさんは たかい やま、ー！", "ふじさんは高い"),
    ("ja:letters:katakana_only", {}, "フジサン・タカイ ﾔﾏ。", "フジサンは"),
    ("ja:letters:no_hiragana", {}, "富士山ハ高イ山デス", "富士山は"),
    ("ja:letters:no_katakana", {}, "富士山はたかい", "富士山はﾀｶｲ"),
    ("ja:letters:kanji", {"kanji_limit": 3, "relation": "未満"}, "富士はやま", "富士山はやま"),
    ("ja:letters:kanji", {"kanji_limit": 3, "relation": "以上"}, "富士山", "富士"),
    ("ja:letters:furigana", {}, "富士山（ふじさん）は高（たか）い", "富士山（ふじさん）は高い"),
    ("ja:letters:kansuuji", {}, "三千七百七十六メートル", "3776メートル"),
    ("ja:startend:sentence_unified_end", {"ending": "です"},
     "山です。「高いね」と言うのです！", "山です。高いね。"),
    ("ja:startend:quotation", {}, "「富士山です」", "富士山です"),
    ("ja:startend:end_checker", {"end_phrase": "他にご質問はありますか？"},
     "以上です。他にご質問はありますか？」", "他にご質問はありますか？以上です。"),
    ("ja:punctuation:no_period", {}, "富士山です", "富士山です。"),
    ("ja:punctuation:no_comma", {}, "富士山です。", "富士山、です"),
    ("ja:detectable_format:title", {}, "『山の詩』\n本文", "『 』\n本文"),
    ("ja:detectable_format:number_bullet_lists", {"num_bullets": 2}, "・一つ\n・二つ", "・一つ"),
    ("ja:detectable_format:constrained_response", {}, "答え: いいえ、違います。", "いいえ"),
    ("ja:keywords:letter_frequency", {"letter": "か", "let_frequency": 2, "let_relation": "以上"},
     "かカ", "か"),
    ("ja:keywords:existence", {"keywords": ["富士", "山"]}, "富士は山", "富士は川"),
    ("ja:keywords:frequency", {"keyword": "山", "frequency": 2, "relation": "未満"}, "山と川", "山と山"),
    ("ja:detectable_format:number_numbered_lists", {"num_items": 2}, "1. 山\n2. 川", "1. 山\n2.川"),
    ("ja:detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "《山》と《川》", "《山》と《 》"),
    ("ja:detectable_format:multiple_sections", {"section_spliter": "章", "num_sections": 2},
     "第1章 山\n第２章 川", "第1章 山\n第2節 川"),
    ("ja:detectable_content:postscript", {"postscript_marker": "追伸"}, "本文\n追伸：またね", "本文"),
    ("ja:detectable_content:postscript", {"postscript_marker": "P.S."}, "本文\np.s. またね", "本文 PS"),
    ("ja:length_constraints:number_letters", {"num_letters": 5, "relation": "以上"}, "富士山です", "富士山"),
    ("ja:length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "次に"},
     "山です。\n\n「次に川です。", "山です。\n\nそして次に川です。"),
    ("ja:length_constraints:number_sentences", {"num_sentences": 3, "relation": "以上"},
     "山です。川です!\n海の\nそばです", "山です。川の\nそばです"),
    ("ja:keywords:forbidden_words", {"forbidden_words": ["猫"]}, "猫舌です", "猫が好きです"),
    ("ja:detectable_format:nominal_ending", {"count": 2},
     "美しい山。静かな川。「走る犬。」", "美しい山。川が流れる。「静かな海。」"),
]


@pytest.mark.parametrize(("iid", "kwargs", "good", "bad"), CASES)
def test_japanese_checkers(iid: str, kwargs: dict, good: str, bad: str) -> None:
    assert ifeval_ja.check(iid, good, kwargs)
    assert not ifeval_ja.check(iid, bad, kwargs)
    assert not ifeval_ja.check(iid, "  \n", kwargs)  # an empty response follows nothing


@pytest.mark.parametrize(("iid", "kwargs", "texts"), [
    ("ja:detectable_format:json_format", {}, ['{"a": 1}', "```json\n[1]\n```", "はい"]),
    ("ja:detectable_content:number_placeholders", {"num_placeholders": 2},
     ["[名前]と[場所]", "[名前]だけ"]),
    ("ja:combination:two_responses", {}, ["一つ目******二つ目", "同じ******同じ", "一つ"]),
    ("ja:combination:repeat_prompt", {"prompt_to_repeat": "山を説明して"},
     ["山を説明して\n山は高い", "山は高い"]),
    ("ja:length_constraints:number_paragraphs", {"num_paragraphs": 2},
     ["山\n***\n川", "山\n***\n***\n川", "山"]),
    ("ja:language:response_language", {"language": "ja"},
     ["富士山は日本で一番高い山です。", "Mount Fuji is the highest mountain in Japan."]),
])
def test_shared_checkers_match_lm_eval(iid: str, kwargs: dict, texts: list[str]) -> None:
    from lm_eval.tasks.ifeval import instructions

    verdicts = []
    for text in texts:
        peer = getattr(instructions, ifeval_ja.SHARED[iid])(iid)
        peer.build_description(**kwargs)
        expected = bool(text.strip() and peer.check_following(text))
        assert ifeval_ja.check(iid, text, kwargs) == expected
        verdicts.append(expected)
    assert True in verdicts and False in verdicts  # each case exercises both verdicts


def test_loose_drops_a_preamble_line() -> None:
    text = "以下が回答です：\n「富士山です」"
    assert not ifeval_ja.check("ja:startend:quotation", text, {})
    assert ifeval_ja.check_loose("ja:startend:quotation", text, {})
    assert ifeval_ja.check_loose("ja:punctuation:no_period", "**富士山です**", {})
    assert not ifeval_ja.check_loose("ja:punctuation:no_period", "富士。\n山。\n川。", {})



def test_m_ifeval_ja_end_to_end(tmp_path: Path) -> None:
    script = evalkit.write_script(tmp_path, {
        "1001": ["<think>\nひらがな\n</think>\n\nふじさんは にほんで いちばん たかい やまです"],
        "1002": ["日本には四季があります。春は暖かいです。"],
        "1003": ["以下が紹介です：\n「私の好きな料理は[料理名]で、[店名]で食べます」"],
    })
    recipe = evalkit.write_recipe(
        tmp_path, [{"name": "m_ifeval_ja", "path": str(FIXTURES / "m_ifeval_ja.jsonl")}],
        {"name": "scripted", "script": script, "model": "scripted-model"})
    evalkit.run_eval(recipe)
    res = evalkit.results(tmp_path, "m_ifeval_ja")
    assert res["metric"] == "instruction_strict"
    assert res["metrics"] == pytest.approx({"instruction_strict": 3 / 6, "instruction_loose": 4 / 6,
                                            "prompt_strict": 1 / 3, "prompt_loose": 2 / 3})
    rows = {r["item_id"]: r["score"] for r in evalkit.details(tmp_path, "m_ifeval_ja")}
    assert rows["1003"] == {"strict": [1, 0], "loose": [1, 1]}
    assert "ja:letters:furigana" in res["instructions_supported"]


def test_unsupported_instruction_is_refused() -> None:
    from jre.plugin_manager import get_plugins

    bench = get_plugins().get("benchmark", "m_ifeval_ja")
    rows = [{"key": 1, "prompt": "p", "instruction_id_list": ["ja:detectable_format:rephrase"],
             "kwargs": [{}]}]
    with pytest.raises(UserError, match="rephrase"):
        bench.items(rows, None)


def test_missing_kwarg_is_a_user_error() -> None:
    with pytest.raises(UserError, match="kanji_limit"):
        ifeval_ja.check("ja:letters:kanji", "山", {"kanji_limit": None, "relation": "未満"})
