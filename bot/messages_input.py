"""Catalogue texts for input errors and notes: times, metadata and media files (plain text)."""

from __future__ import annotations

INPUT_MESSAGES: dict[str, dict[str, str]] = {
    "time.unparsed": {
        "en": (
            "I could not read “{text}” as a time. Try for example: “tomorrow 8pm”, "
            "“in 2 hours”, “friday 9am”, “2026-12-05 20:00” or “now”."
        ),
        "zh": (
            "无法把“{text}”识别为时间。可以这样写：“明天 20:00”、“今晚8点”、"
            "“2小时后”、“周五 9点”、“2026-12-05 20:00”或“现在”。"
        ),
    },
    "time.past": {
        "en": "{when} has already passed. Send a time in the future, or “now”.",
        "zh": "{when} 已经过去了。请发送一个将来的时间，或者“现在”。",
    },
    "time.note_gap": {
        "en": "{wall} does not exist in {zone} (clocks move forward); using {actual}.",
        "zh": "{wall} 在 {zone} 不存在（夏令时开始，时钟拨快），已改为 {actual}。",
    },
    "time.note_ambiguous": {
        "en": "{wall} happens twice in {zone} (clocks move back); using the first one, {actual}.",
        "zh": "{wall} 在 {zone} 会出现两次（夏令时结束，时钟回拨），已按第一次计算：{actual}。",
    },
    "meta.title_empty": {
        "en": "The video has no title. Put the title on the first line of the caption.",
        "zh": "视频没有标题。请把标题写在说明文字的第一行。",
    },
    "meta.title_too_long": {
        "en": (
            "The title has {length} characters; YouTube allows at most {limit}. "
            "Shorten the first line of the caption."
        ),
        "zh": "标题有 {length} 个字符，YouTube 最多允许 {limit} 个。请缩短说明文字的第一行。",
    },
    "meta.title_angle_brackets": {
        "en": "YouTube does not allow < or > in a title. Remove them from the first line.",
        "zh": "YouTube 标题中不能包含 < 或 >。请从第一行中删除它们。",
    },
    "meta.description_too_long": {
        "en": (
            "The description takes {length} bytes; YouTube allows at most {limit} "
            "(a Chinese character takes 3). Shorten the caption after the first line."
        ),
        "zh": (
            "简介占 {length} 字节，YouTube 最多允许 {limit} 字节（一个汉字占 3 字节）。"
            "请缩短第一行之后的内容。"
        ),
    },
    "meta.description_angle_brackets": {
        "en": "YouTube does not allow < or > in a description. Remove them from the caption.",
        "zh": "YouTube 简介中不能包含 < 或 >。请从说明文字中删除它们。",
    },
    "meta.tags_too_long": {
        "en": (
            "The tags add up to {length} characters; YouTube allows at most {limit} in all. "
            "Remove some #hashtags."
        ),
        "zh": "标签总长 {length} 个字符，YouTube 最多允许 {limit} 个。请删掉一些 #话题标签。",
    },
    "meta.bad_category": {
        "en": "“{category}” is not a YouTube category that videos can be uploaded to.",
        "zh": "“{category}”不是可用于上传视频的 YouTube 分类。",
    },
    "meta.publish_at_past": {
        "en": "The publish time {when} has passed. Choose a time in the future.",
        "zh": "发布时间 {when} 已经过去。请选择一个将来的时间。",
    },
    "meta.publish_at_needs_public": {
        "en": (
            "At a scheduled publish time YouTube makes the video public. Set the privacy to "
            "public, or remove the publish time to keep the video private or unlisted."
        ),
        "zh": (
            "到了定时发布时间，YouTube 会把视频设为公开。"
            "请把可见性改为公开，或取消定时发布以保持私享或不公开。"
        ),
    },
    "media.empty": {
        "en": "The file is empty. Send the video again.",
        "zh": "文件是空的。请重新发送视频。",
    },
    "media.not_video": {
        "en": "This file is not a video. Send an MP4, MOV, MKV or WebM file.",
        "zh": "这个文件不是视频。请发送 MP4、MOV、MKV 或 WebM 文件。",
    },
    "media.no_video_stream": {
        "en": "This file has sound but no picture. Send a file that contains video.",
        "zh": "这个文件只有声音，没有画面。请发送包含视频画面的文件。",
    },
    "media.unreadable": {
        "en": (
            "The video is damaged or incomplete and cannot be played. "
            "Send it again, or export it again and send the new file."
        ),
        "zh": "视频已损坏或不完整，无法播放。请重新发送，或重新导出后发送新文件。",
    },
}
