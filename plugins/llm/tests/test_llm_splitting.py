from __future__ import annotations

from plugins.llm.splitting import open_fence, split_message


def test_short_text_is_one_message() -> None:
    assert split_message("hello") == ["hello"]


def test_long_prose_splits_at_paragraphs_under_the_limit() -> None:
    paragraph = "word " * 150  # 750 characters
    text = "\n\n".join(paragraph.strip() for _ in range(6))
    pieces = split_message(text)
    assert all(len(p) <= 2000 for p in pieces)
    assert len(pieces) == 3
    assert all(p.endswith("word") for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})" for i in range(400))
    text = "Here you go:\n```python\n" + code + "\n```\nDone."
    pieces = split_message(text)
    assert len(pieces) >= 2
    for piece in pieces:
        assert len(piece) <= 2000
        assert open_fence(piece) is None, "every message renders its code as code"
    assert pieces[1].startswith("```python\n")
    lines = [ln for p in pieces for ln in p.splitlines() if ln.startswith("print(")]
    assert lines == code.splitlines()


def test_unbroken_text_is_cut_hard() -> None:
    pieces = split_message("x" * 4500)
    assert [len(p) for p in pieces] == [1996, 1996, 508]


def test_earlier_pieces_do_not_change_as_text_grows() -> None:
    text = " ".join(f"w{i}" for i in range(1500))
    first = split_message(text[:3000])
    later = split_message(text)
    assert later[0] == first[0]
