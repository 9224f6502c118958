"""Teachers: defaults, recipe overrides, the requests they build and the triples they record."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jre.kinds.base import StrictModel
from jre.kinds.teacher import Teacher, detect_lang
from jre.plugin_manager import get_plugins
from jre.reasoning import generation_from_text


def _settings(name, **options):
    teacher = get_plugins().get("teacher", name)
    return teacher, teacher.settings(teacher.parse_config(options))


def test_builtin_teachers_and_their_defaults():
    _, r1 = _settings("r1")
    _, oss = _settings("oss")
    _, oss_h = _settings("oss-h")
    assert r1.model == "deepseek-ai/DeepSeek-R1-0528" and r1.prefilled_think is True
    assert (oss.model, oss.reasoning_effort, oss.reasoning_format) == ("openai/gpt-oss-120b", "medium", "harmony")
    assert oss_h.reasoning_effort == "high" and oss_h.chat_template_kwargs == {"reasoning_effort": "high"}
    assert oss.identity() != oss_h.identity()


def test_recipe_overrides_and_unknown_keys():
    _, s = _settings("oss-h", model="local/gpt-oss", temperature=0.7, max_tokens=1024, seed=3,
                     engine="vllm")
    assert (s.model, s.sampling.temperature, s.sampling.max_tokens, s.sampling.seed, s.engine) == \
        ("local/gpt-oss", 0.7, 1024, 3, "vllm")
    assert s.sampling.top_p == 1.0 and s.reasoning_effort == "high"
    with pytest.raises(ValidationError):
        get_plugins().get("teacher", "r1").parse_config({"temprature": 0.5})


def test_request_carries_sampling_effort_and_system_prompt():
    teacher, s = _settings("oss", system_prompt="Be brief.")
    req = teacher.request(s, "seed-1", "What is 3+4?", 4)
    assert req.id == "seed-1" and req.sampling.n == 4
    assert req.messages == [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "What is 3+4?"}]
    assert req.chat_template_kwargs == {"reasoning_effort": "medium"}
    assert teacher.request(s, "x", "q", 1, system_prompt="").messages[0]["role"] == "user"


def test_triple_records_provenance_and_trace_language():
    teacher, s = _settings("r1", temperature=0.5)
    gen = generation_from_text("3と4を足すと7になります。\n</think>\n\n答えは7です。", prefilled=True,
                               finish_reason="stop", prompt_tokens=5, completion_tokens=20)
    t = teacher.triple(s, triple_id="t1", instruction="3+4は？", generation=gen, lang_in="ja",
                       domain="stem", source="fixture", meta={"seed_id": "s"})
    assert (t.trace, t.response, t.lang_in, t.lang_trace, t.teacher) == \
        ("3と4を足すと7になります。", "答えは7です。", "ja", "ja", "r1")
    assert t.meta["sampling"]["temperature"] == 0.5 and t.meta["think_closed"] is True
    assert t.meta["seed_id"] == "s" and t.meta["model"] == "deepseek-ai/DeepSeek-R1-0528"


def test_replay_splits_stored_answers():
    teacher, s = _settings("replay", label="r1")
    assert teacher.uses_engine is False and s.name == "r1"
    gen = teacher.replay(s, "<think>\nstep\n</think>\n\nanswer")
    assert (gen.reasoning, gen.content, gen.think_closed) == ("step", "answer", True)
    assert teacher.replay(s, None) is None


def test_detect_lang():
    assert detect_lang("We add three and four.") == "en"
    assert detect_lang("まず3と4を足します。then") == "ja"
    assert detect_lang(None) is None and detect_lang("") is None


def test_a_third_party_teacher_with_its_own_options_works():
    class GreetConfig(StrictModel):
        greeting: str = "hello"

    class Greeter(Teacher):
        name = "greeter"
        model = "org/greeter-7b"
        config_model = GreetConfig

    s = Greeter().settings(GreetConfig())
    assert (s.model, s.engine, s.sampling.temperature) == ("org/greeter-7b", "openai", 0.6)
    assert Greeter().request(s, "a", "hi", 2).sampling.n == 2
