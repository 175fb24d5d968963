"""Service-level behaviour of the ui plugin, on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from plugins.ui import compliance, grow, quiz, strains
from plugins.ui.models import QuizAnswer, QuizAttempt, QuizQuestion, Strain
from plugins.ui.plugin import UIPlugin

GUILD, MEMBER = 111, 222


async def test_seed_ships_forty_plus_real_strains_and_is_idempotent(db):
    first = await strains.seed_strains()
    assert first >= 40
    assert await strains.seed_strains() == 0
    assert await Strain.all().count() == first
    blue = await strains.find_strain("blue dream")
    assert blue is not None and blue.type == "hybrid" and blue.thc_max > blue.thc_min
    assert blue.effects and blue.flavors
    assert blue.source_url.startswith("https://www.leafly.com/strains/")
    every = await Strain.all()
    assert all(s.source_url.startswith("https://") and s.effects and s.flavors for s in every)
    assert {s.type for s in every} == {"indica", "sativa", "hybrid"}


async def test_plugin_seed_loads_strains_and_starter_quiz_once(db):
    plugin = UIPlugin()
    added = await plugin.seed()
    questions = await QuizQuestion.filter(guild_id=None)
    assert len(questions) >= 15
    assert {q.category for q in questions} == set(quiz.QUIZ_CATEGORIES)
    assert added == await Strain.all().count() + len(questions)
    assert await plugin.seed() == 0


def test_name_key_and_prefix_bounds():
    assert strains.name_key("OG Kush") == "ogkush"
    assert strains.name_key("Ｇｏｒｉｌｌａ Glue #4") == "gorillaglue4"
    assert strains.name_key("Crème Brûlée") == "cremebrulee"
    assert strains.prefix_upper_bound("abc") == "abd"
    assert strains.prefix_upper_bound("ab9") == "aba"
    assert strains.prefix_upper_bound("azz") == "b"
    assert strains.prefix_upper_bound("zz") is None


async def test_autocomplete_matches_prefixes_in_order_and_ignores_odd_input(db):
    await strains.seed_strains()
    names = [s.name for s in await strains.autocomplete_strains("bl")]
    assert names == ["Blueberry", "Blue Dream"]  # ordered by key: "blueberry" < "bluedream"
    assert [s.name for s in await strains.autocomplete_strains("og k")] == ["OG Kush"]
    assert [s.name for s in await strains.autocomplete_strains("ＯＧ")][:1] == ["OG Kush"]
    assert len(await strains.autocomplete_strains("")) == strains.AUTOCOMPLETE_LIMIT
    assert await strains.autocomplete_strains("🌿🔥") == []
    assert await strains.autocomplete_strains("z" * 200) == []
    assert await strains.autocomplete_strains("a\u0000\u202e\u200bk") != []  # "ak" -> AK-47


async def test_autocomplete_prefix_range_is_exact_at_alphabet_edges(db):
    for name in ("Zz Top", "Zz9", "Zza", "Z9", "Y"):
        await Strain.create(**strains.StrainFields(name, "hybrid", (1, 2), (0, 1), ["Happy"],
                                                   ["Sweet"]).columns())
    assert [s.name for s in await strains.autocomplete_strains("zz")] == ["Zz9", "Zza", "Zz Top"]
    assert [s.name for s in await strains.autocomplete_strains("z9")] == ["Z9"]


async def test_recommend_puts_gentle_strains_first_for_beginners(db):
    await strains.seed_strains()
    beginner = await strains.recommend("Relaxed", "beginner")
    expert = await strains.recommend("Relaxed", "experienced")
    assert beginner and expert
    assert all("Relaxed" in s.effects for s in beginner + expert)
    assert beginner[0].thc_max <= 20
    assert max(s.thc_max for s in expert) >= max(s.thc_max for s in beginner)


@pytest.mark.parametrize("raw", ["-3", "1e9", "six ounces", "-3 g", "1e9 g", "0 g", "oz",
                                 "1/2 oz", "1,5 oz", "3 kg", "", "28"])
def test_bad_amounts_say_the_expected_format(raw):
    with pytest.raises(ValueError) as caught:
        compliance.parse_amount(raw)
    assert "“1 oz”" in str(caught.value) and "“28 g”" in str(caught.value)


@pytest.mark.parametrize(("raw", "grams"), [("1 oz", 28.3495), ("28 g", 28), ("3.5 grams", 3.5),
                                            ("6 OZ", 170.097)])
def test_amounts_in_grams_and_ounces(raw, grams):
    assert float(compliance.parse_amount(raw).grams) == pytest.approx(grams)


def test_check_plan_cites_nj_rules_for_each_part():
    over = compliance.check_plan(compliance.parse_amount("7 oz"), "Central Park", True,
                                 "a friend")
    verdicts = {f.topic: f.verdict for f in over}
    assert verdicts == {"Possession": "illegal", "Place": "illegal", "Driving": "illegal",
                        "Purchase": "illegal"}
    ok = compliance.check_plan(compliance.parse_amount("1 oz"), "at home", False,
                               "licensed dispensary")
    assert {f.verdict for f in ok} == {"ok"}
    text = compliance.render_findings(ok)
    assert "6 oz" in text and "Source:" in text and "not legal advice" in text
    assert "Home cultivation is not permitted" in text


def test_grow_choices_accept_free_text_and_explain_options():
    pick = grow.chooser(grow.MEDIUMS, "medium")
    assert pick("Coco coir") == "coco"
    assert pick("DWC") == "hydro"
    with pytest.raises(ValueError, match="soil, coco, hydro"):
        pick("rockwool maybe")


def test_grow_guide_always_carries_the_nj_note():
    plan = grow.GrowPlan("yield", "beginner", "tent", "soil", "led")
    text = grow.render_guide(plan, [])
    assert "home cultivation is not permitted for recreational users" in text
    assert "Medium — soil" in text and len(text) <= 4096


async def test_daily_attempt_limit(db):
    await quiz.seed_questions()
    for _ in range(quiz.DAILY_ATTEMPTS):
        await quiz.start_attempt(GUILD, MEMBER, None, rng=random.Random(1))
    with pytest.raises(quiz.QuizError, match="attempts for today"):
        await quiz.start_attempt(GUILD, MEMBER, None)
    # Yesterday's attempts do not count today.
    await QuizAttempt.filter(user_id=MEMBER).update(
        started_at=datetime.now(UTC) - timedelta(days=1))
    _attempt, questions = await quiz.start_attempt(GUILD, MEMBER, "nj_law")
    assert len(questions) == quiz.QUESTIONS_PER_QUIZ
    assert {q.category for q in questions} == {"nj_law"}


async def test_one_answer_per_question_in_the_database(db):
    await quiz.seed_questions()
    attempt, questions = await quiz.start_attempt(GUILD, MEMBER, None)
    q = questions[0]
    correct, _ = await quiz.record_answer(attempt.id, MEMBER, q.id, q.correct)
    assert correct
    with pytest.raises(quiz.QuizError, match="already answered"):
        await quiz.record_answer(attempt.id, MEMBER, q.id, q.wrong[0])
    assert await QuizAnswer.filter(attempt_id=attempt.id).count() == 1
    plugin = UIPlugin()
    exported = await plugin.export_user_data(MEMBER)
    assert len(exported["quiz_answers"]) == 1 and len(exported["quiz_attempts"]) == 1
    await QuizQuestion.filter(id=q.id).update(created_by=MEMBER)
    assert await plugin.delete_user_data(MEMBER) == 3
    assert await QuizQuestion.filter(created_by=MEMBER).count() == 0
    assert await QuizAttempt.filter(user_id=MEMBER).count() == 0


def test_quiz_question_validation():
    assert quiz.parse_category("NJ law") == "nj_law"
    with pytest.raises(ValueError):
        quiz.parse_category("astrology")
    with pytest.raises(ValueError):
        quiz.parse_wrong_answers("a\nb\nc\nd")
    with pytest.raises(quiz.QuizError):
        quiz.build_question({"category": "safety", "question": "Q?", "correct": "Yes",
                             "wrong": ["yes"]})


def test_strain_field_parsers():
    assert strains.parse_percent_range("18-24") == (18, 24)
    assert strains.parse_percent_range("0.5 %") == (0.5, 0.5)
    for bad in ("24-18", "-3", "1e9", "lots"):
        with pytest.raises(ValueError):
            strains.parse_percent_range(bad)
    assert strains.parse_word_list("relaxed, happy,\nrelaxed") == ["Relaxed", "Happy"]
    with pytest.raises(ValueError):
        strains.parse_source_url("javascript:alert(1)")
