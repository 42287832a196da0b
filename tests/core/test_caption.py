from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from core.caption import hashtags, parse_caption


def test_first_line_is_title_and_the_rest_is_description() -> None:
    meta = parse_caption(
        "Sunset in Bali\nFilmed on the beach.\n\nSecond paragraph.", fallback_title="f"
    )
    assert meta.title == "Sunset in Bali"
    assert meta.description == "Filmed on the beach.\n\nSecond paragraph."


def test_leading_blank_lines_are_skipped_to_find_the_title() -> None:
    meta = parse_caption("\n\n   \nTitle\nBody", fallback_title="f")
    assert meta.title == "Title"
    assert meta.description == "Body"


def test_no_caption_uses_the_file_name() -> None:
    for caption in (None, "", "   \n\t\n"):
        meta = parse_caption(caption, fallback_title="holiday_clip")
        assert meta.title == "holiday_clip"
        assert meta.description == ""
        assert meta.tags == ()


def test_hashtags_anywhere_become_tags_in_order() -> None:
    meta = parse_caption(
        "My trip #travel\nDay one #旅行 and #vlog_2024\n#2024", fallback_title="f"
    )
    assert meta.tags == ("travel", "旅行", "vlog_2024", "2024")


def test_title_keeps_its_hashtags_as_written() -> None:
    assert parse_caption("My trip #travel", fallback_title="f").title == "My trip #travel"


def test_duplicate_hashtags_keep_the_first_spelling() -> None:
    assert hashtags("#Travel #travel #TRAVEL #food") == ("Travel", "food")


def test_hashtag_right_after_chinese_text_counts() -> None:
    assert hashtags("今天去海边#旅行#vlog，很开心") == ("旅行", "vlog")


def test_full_width_hash_sign_starts_a_hashtag() -> None:
    assert hashtags("周末 ＃美食") == ("美食",)


def test_lone_hash_and_url_fragments_are_not_tags() -> None:
    text = "Rated # 1 see https://x.com/#frag and www.example.com/page#top or x.com/a#b C# &#123;"
    assert hashtags(text) == ()


def test_underscores_alone_are_not_a_tag() -> None:
    assert hashtags("#___ #ok") == ("ok",)


def test_hashtag_only_first_line_gives_way_to_the_next_line() -> None:
    meta = parse_caption("#travel #bali\nSunset in Bali\nBody text", fallback_title="f")
    assert meta.title == "Sunset in Bali"
    assert meta.tags == ("travel", "bali")
    assert meta.description == "#travel #bali\nBody text"


def test_weibo_style_topic_line_counts_as_hashtags_only() -> None:
    meta = parse_caption("#旅行#\n海边日落", fallback_title="f")
    assert (meta.title, meta.tags) == ("海边日落", ("旅行",))


def test_caption_of_only_hashtags_takes_the_file_name_as_title() -> None:
    meta = parse_caption("#travel, #bali\n#sea", fallback_title="IMG_0042")
    assert meta.title == "IMG_0042"
    assert meta.tags == ("travel", "bali", "sea")
    assert meta.description == "#travel, #bali\n#sea"


def test_title_whitespace_is_normalised() -> None:
    meta = parse_caption("  My \t  big\u3000trip\xa0 ", fallback_title="f")
    assert meta.title == "My big trip"


def test_control_characters_are_stripped_but_description_newlines_stay() -> None:
    meta = parse_caption("Ti\x00tle\x07\r\nline one\x1b\r\nline\u202e two", fallback_title="f")
    assert meta.title == "Title"
    assert meta.description == "line one\nline two"


def test_fallback_title_is_cleaned_too() -> None:
    assert parse_caption(None, fallback_title=" clip\n\x00 01 ").title == "clip 01"


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


@settings(max_examples=300)
@given(st.one_of(st.none(), st.text()), st.text(max_size=30))
def test_parse_caption_never_raises_and_title_is_one_clean_line(
    caption: str | None, fallback: str
) -> None:
    meta = parse_caption(caption, fallback_title=fallback)
    assert "\n" not in meta.title
    assert not _has_control(meta.title)
    assert meta.title == meta.title.strip()
    assert "\r" not in meta.description
    for tag in meta.tags:
        assert tag and "#" not in tag and not any(ch.isspace() for ch in tag)
    assert len({tag.casefold() for tag in meta.tags}) == len(meta.tags)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["#", "＃", "tag", "旅行", " ", "\n", "https://a.b/", "_", "7"])))
def test_hashtag_soup_never_raises(parts: list[str]) -> None:
    meta = parse_caption("".join(parts), fallback_title="clip")
    assert "\n" not in meta.title
