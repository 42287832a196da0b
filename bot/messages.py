"""The message catalogue: every text a person reads, in Chinese and English."""

from __future__ import annotations

import html
import logging
from typing import Any

from bot.messages_accounts import ACCOUNT_FLOW_MESSAGES
from bot.messages_admin import ADMIN_MESSAGES
from bot.messages_channels import CHANNEL_MESSAGES
from bot.messages_input import INPUT_MESSAGES
from bot.messages_observe import OBSERVE_MESSAGES
from bot.messages_plans import PLAN_MESSAGES

logger = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hello {name}! Send me a video (as a video or as a file) with its caption: the "
        "first line becomes the title, the rest the description, #hashtags the tags. "
        "I answer with a task card to publish it now or at a time. /help lists every command.",
        "zh": "你好 {name}！把视频（视频或文件形式）连同说明文字发给我：第一行是标题，其余是简介，"
        "#话题 会成为标签。我会回复一张任务卡片，可以立即发布或定时发布。/help 查看全部命令。",
    },
    "help": {
        "en": "<b>Tasks</b>\n"
        "/publish &lt;id&gt; — publish now\n"
        "/schedule &lt;id&gt; &lt;when&gt; — publish at a time (“tomorrow 8pm”, "
        "“in 2 hours”, “2026-12-05 20:00”, “明天 20:00”)\n"
        "/publishat &lt;id&gt; &lt;when&gt; — upload now, YouTube makes it public at that time\n"
        "/privacy &lt;id&gt; private|unlisted|public — visibility\n"
        "/cancel &lt;id&gt; — cancel a task\n"
        "/status &lt;id&gt; — a task in full\n"
        "/title, /description, /tags &lt;id&gt; … — change the metadata\n"
        "/retry &lt;id&gt; — try a failed task again\n"
        "/queue — unfinished tasks\n"
        "<b>Accounts and plans</b>\n"
        "/use &lt;id&gt; &lt;account…|auto&gt; — the channel(s) a task may go to\n"
        "/why &lt;id&gt; — why the balancer chose its channel\n"
        "/interval &lt;id&gt; &lt;hours&gt; &lt;account…&gt; — the same video on several "
        "channels, hours apart\n"
        "/batch [ids…] &lt;plan&gt; [on &lt;account…&gt;] — spread drafts as one plan "
        "(“daily 20:00”, “every 3h”, “best”)\n"
        "/best &lt;id&gt; [account…] — publish at the audience's best hour\n"
        "/accounts — every channel: status, uploads today, next free slot, priority\n"
        "/account &lt;name&gt; — one channel in full; admins: pause, resume, priority, quota, "
        "interval, peak, tz\n"
        "/quota — the YouTube quota used and left, per project and per channel\n"
        "/addaccount [name] · /reauth &lt;name&gt; — admins: connect or re-authorise a "
        "channel\n"
        "<b>Reports</b>\n"
        "/report [today|yesterday|week|month] — results, with a chart\n"
        "/stats — live figures · /calendar — the coming week\n"
        "/alerts — which alerts this chat hears\n"
        "/tz [zone] — your own time zone · /help — this list\n\n"
        "Send a video to create a task; reply to its card with a photo to set the thumbnail. "
        "Times are in {zone}.",
        "zh": "<b>任务</b>\n"
        "/publish &lt;编号&gt; — 立即发布\n"
        "/schedule &lt;编号&gt; &lt;时间&gt; — 定时发布（“明天 20:00”、“今晚8点”、"
        "“2小时后”、“tomorrow 8pm”）\n"
        "/publishat &lt;编号&gt; &lt;时间&gt; — 立即上传，由 YouTube 在该时间公开\n"
        "/privacy &lt;编号&gt; private|unlisted|public — 公开范围\n"
        "/cancel &lt;编号&gt; — 取消任务\n"
        "/status &lt;编号&gt; — 任务详情\n"
        "/title、/description、/tags &lt;编号&gt; … — 修改标题、简介、标签\n"
        "/retry &lt;编号&gt; — 重试失败的任务\n"
        "/queue — 未完成的任务\n"
        "<b>频道与计划</b>\n"
        "/use &lt;编号&gt; &lt;账号…|auto&gt; — 指定任务可发布的频道\n"
        "/why &lt;编号&gt; — 均衡器为何选择该频道\n"
        "/interval &lt;编号&gt; &lt;小时&gt; &lt;账号…&gt; — 同一视频按间隔发布到多个频道\n"
        "/batch [编号…] &lt;计划&gt; [on &lt;账号…&gt;] — 多个草稿按计划分散发布"
        "（“每天 20:00”、“every 3h”、“best”）\n"
        "/best &lt;编号&gt; [账号…] — 在观众最活跃的时段发布\n"
        "/accounts — 全部频道：状态、今日上传、下次可上传时间、优先级\n"
        "/account &lt;名称&gt; — 单个频道详情；管理员可暂停、恢复、修改优先级、配额、间隔、"
        "高峰时段、时区\n"
        "/quota — 各项目和各频道已用及剩余的 YouTube 配额\n"
        "/addaccount [名称] · /reauth &lt;名称&gt; — 管理员：连接或重新授权频道\n"
        "<b>报告</b>\n"
        "/report [today|yesterday|week|month] — 发布报告（附图表）\n"
        "/stats — 实时数据 · /calendar — 未来一周的排期\n"
        "/alerts — 本群接收哪些告警\n"
        "/tz [时区] — 设置你自己的时区 · /help — 本列表\n\n"
        "发送视频即可创建任务；回复任务卡片一张图片即可设置封面。时间按 {zone} 计算。",
    },
    "access.stranger": {
        "en": "Sorry, this bot only works for its team. Ask an admin to add your id {user_id}.",
        "zh": "抱歉，此机器人仅供团队使用。请联系管理员添加你的 ID {user_id}。",
    },
    "access.denied": {
        "en": "Your role does not allow that.",
        "zh": "你的角色无权执行此操作。",
    },
    "error.internal": {
        "en": "Something went wrong on our side. /queue or /status &lt;id&gt; shows where your "
        "tasks stand before you try again.",
        "zh": "系统出错。重试前请用 /queue 或 /status &lt;编号&gt; 查看任务当前状态。",
    },
    "usage.publish": {"en": "Usage: /publish &lt;id&gt;", "zh": "用法：/publish &lt;编号&gt;"},
    "usage.schedule": {
        "en": "Usage: /schedule &lt;id&gt; &lt;when&gt;, e.g. /schedule 12 tomorrow 8pm",
        "zh": "用法：/schedule &lt;编号&gt; &lt;时间&gt;，例如 /schedule 12 明天 20:00",
    },
    "usage.privacy": {
        "en": "Usage: /privacy &lt;id&gt; private|unlisted|public",
        "zh": "用法：/privacy &lt;编号&gt; private|unlisted|public",
    },
    "usage.cancel": {"en": "Usage: /cancel &lt;id&gt;", "zh": "用法：/cancel &lt;编号&gt;"},
    "usage.status": {"en": "Usage: /status &lt;id&gt;", "zh": "用法：/status &lt;编号&gt;"},
    "usage.retry": {"en": "Usage: /retry &lt;id&gt;", "zh": "用法：/retry &lt;编号&gt;"},
    "usage.title": {
        "en": "Usage: /title &lt;id&gt; &lt;new title&gt;",
        "zh": "用法：/title &lt;编号&gt; &lt;新标题&gt;",
    },
    "usage.description": {
        "en": "Usage: /description &lt;id&gt; &lt;new description&gt;",
        "zh": "用法：/description &lt;编号&gt; &lt;新简介&gt;",
    },
    "usage.tags": {
        "en": "Usage: /tags &lt;id&gt; tag1 tag2 … (replaces the tags)",
        "zh": "用法：/tags &lt;编号&gt; 标签1 标签2 …（替换全部标签）",
    },
    "task.duplicate": {
        "en": "Task #{task_id} is the same file as task #{other} on the same channel, which is "
        "published or on its way. A video is never published twice; /status {other} shows it.",
        "zh": "任务 #{task_id} 与任务 #{other} 是同一个文件、同一个频道，后者已发布或正在发布。"
        "同一视频不会重复发布；/status {other} 可查看。",
    },
    "task.already_uploaded": {
        "en": "YouTube already has the video of task #{task_id}; its title, tags and privacy "
        "can no longer be changed here.",
        "zh": "YouTube 已收到任务 #{task_id} 的视频，无法再在这里修改标题、标签或公开范围。",
    },
    "tz.current": {
        "en": "Your times are read and shown in {zone}. Change it with /tz Europe/Berlin (any "
        "IANA zone).",
        "zh": "你的时间按 {zone} 读取和显示。可用 /tz Asia/Shanghai 修改（任意 IANA 时区）。",
    },
    "tz.set": {
        "en": "Your time zone is now {zone}; it is {now} there.",
        "zh": "你的时区已设为 {zone}，当地时间 {now}。",
    },
    "tz.unknown": {
        "en": "“{text}” is not a time zone; use an IANA name such as Asia/Shanghai, "
        "America/New_York or Europe/London.",
        "zh": "“{text}” 不是时区；请使用 IANA 名称，例如 Asia/Shanghai、America/New_York、"
        "Europe/London。",
    },
    "task.edited": {
        "en": "Task #{task_id} is updated.",
        "zh": "任务 #{task_id} 已更新。",
    },
    "task.not_failed": {
        "en": "Task #{task_id} has not failed; /retry is for failed tasks.",
        "zh": "任务 #{task_id} 没有失败；/retry 仅用于失败的任务。",
    },
    "usage.bad_id": {
        "en": "“{text}” is not a task id; task ids look like #12.",
        "zh": "“{text}” 不是任务编号；任务编号形如 #12。",
    },
    "usage.bad_privacy": {
        "en": "“{text}” is not a privacy; choose private, unlisted or public.",
        "zh": "“{text}” 不是有效的公开范围；请选择 private、unlisted 或 public。",
    },
    "task.not_found": {"en": "There is no task #{task_id}.", "zh": "没有任务 #{task_id}。"},
    "task.not_yours": {
        "en": "Task #{task_id} belongs to someone else.",
        "zh": "任务 #{task_id} 属于其他人。",
    },
    "task.not_editable": {
        "en": "Task #{task_id} is {state} and can no longer be changed.",
        "zh": "任务 #{task_id} 当前为{state}，无法再修改。",
    },
    "task.no_account": {
        "en": "No channel is connected yet. An admin adds one with "
        "“publish-manager accounts add youtube”.",
        "zh": "尚未连接任何频道。请管理员使用 “publish-manager accounts add youtube” 添加。",
    },
    "task.queued_now": {
        "en": "Task #{task_id} will be published now.",
        "zh": "任务 #{task_id} 即将发布。",
    },
    "task.scheduled": {
        "en": "Task #{task_id} will be published at {when}.",
        "zh": "任务 #{task_id} 将于 {when} 发布。",
    },
    "task.privacy_set": {
        "en": "Task #{task_id} will be {privacy}.",
        "zh": "任务 #{task_id} 的公开范围已设为{privacy}。",
    },
    "task.cancelled": {"en": "Task #{task_id} is cancelled.", "zh": "任务 #{task_id} 已取消。"},
    "task.published": {
        "en": "✅ Task #{task_id} is published ({privacy}): {url}",
        "zh": "✅ 任务 #{task_id} 已发布（{privacy}）：{url}",
    },
    "task.failed": {
        "en": "❌ Task #{task_id} failed: {reason}\nThe file is kept: fix what is wrong "
        "(/title, /description, /tags) and send /retry {task_id}.",
        "zh": "❌ 任务 #{task_id} 发布失败：{reason}\n文件已保留：修正问题（/title、/description、"
        "/tags）后发送 /retry {task_id}。",
    },
    "task.retry_wait": {
        "en": "⏳ Task #{task_id} hit a problem ({reason}); it tries again at {when}.",
        "zh": "⏳ 任务 #{task_id} 遇到问题（{reason}），将于 {when} 重试。",
    },
    "schedule.prompt": {
        "en": "When should task #{task_id} be published? Reply with a time, e.g. "
        "“tomorrow 8pm”, “in 2 hours” or “2026-12-05 20:00” ({zone}).",
        "zh": "任务 #{task_id} 何时发布？请回复时间，例如 “明天 20:00”、“今晚8点”、“2小时后”"
        "（{zone}）。",
    },
    "privacy.prompt": {
        "en": "Choose the privacy of task #{task_id}:",
        "zh": "请选择任务 #{task_id} 的公开范围：",
    },
    "button.publish": {"en": "🚀 Publish now", "zh": "🚀 立即发布"},
    "button.schedule": {"en": "🕒 Schedule", "zh": "🕒 定时"},
    "button.privacy": {"en": "🔒 Privacy", "zh": "🔒 公开范围"},
    "button.cancel": {"en": "✖ Cancel", "zh": "✖ 取消"},
    "button.unknown": {
        "en": "This button is no longer valid.",
        "zh": "此按钮已失效。",
    },
    "privacy.private": {"en": "private", "zh": "私享"},
    "privacy.unlisted": {"en": "unlisted", "zh": "不公开列出"},
    "privacy.public": {"en": "public", "zh": "公开"},
    "state.draft": {"en": "draft", "zh": "草稿"},
    "state.queued": {"en": "queued", "zh": "排队中"},
    "state.uploading": {"en": "uploading", "zh": "上传中"},
    "state.processing": {"en": "processing", "zh": "处理中"},
    "state.retry_wait": {"en": "waiting to retry", "zh": "等待重试"},
    "state.published": {"en": "published", "zh": "已发布"},
    "state.failed": {"en": "failed", "zh": "失败"},
    "state.cancelled": {"en": "cancelled", "zh": "已取消"},
    "card.title": {"en": "Task #{task_id} · {state}", "zh": "任务 #{task_id} · {state}"},
    "card.field.title": {"en": "Title", "zh": "标题"},
    "card.field.description": {"en": "Description", "zh": "简介"},
    "card.field.tags": {"en": "Tags", "zh": "标签"},
    "card.field.account": {"en": "Account", "zh": "账号"},
    "card.field.privacy": {"en": "Privacy", "zh": "公开范围"},
    "card.field.time": {"en": "Time", "zh": "时间"},
    "card.field.file": {"en": "File", "zh": "文件"},
    "card.field.thumbnail": {"en": "Thumbnail", "zh": "封面"},
    "card.field.video": {"en": "Video", "zh": "视频"},
    "card.field.error": {"en": "Problem", "zh": "问题"},
    "card.field.note": {"en": "Note", "zh": "注意"},
    "card.none": {"en": "—", "zh": "—"},
    "card.no_account": {
        "en": "auto (the balancer picks one when it starts; /why &lt;id&gt; explains)",
        "zh": "自动（开始上传时由均衡器选择；/why &lt;编号&gt; 说明原因）",
    },
    "card.not_scheduled": {"en": "not scheduled", "zh": "未定时"},
    "card.thumbnail_set": {"en": "set", "zh": "已设置"},
    "card.hint": {
        "en": "Reply to this card with a photo to set the thumbnail.",
        "zh": "回复此卡片一张图片即可设置封面。",
    },
    "card.private_note": {
        "en": "YouTube may keep uploads from unaudited API projects private.",
        "zh": "未经审核的 API 项目上传的视频可能被 YouTube 强制设为私享。",
    },
    "file.receiving": {
        "en": "Receiving “{name}” ({size})…",
        "zh": "正在接收 “{name}”（{size}）……",
    },
    "file.too_big": {
        "en": "This file is {size}; a bot on Telegram's cloud Bot API can only download files "
        "up to {limit}. To take bigger files (up to 2000 MB), run a local Bot API server "
        "(telegram-bot-api --local), set PM_TELEGRAM_API_URL to it and "
        "PM_TELEGRAM_LOCAL_MODE=true. Until then, send a smaller file.",
        "zh": "此文件大小为 {size}；使用 Telegram 云端 Bot API 的机器人最多只能下载 {limit} "
        "的文件。若要接收更大的文件（最大 2000 MB），请运行本地 Bot API 服务器"
        "（telegram-bot-api --local），将 PM_TELEGRAM_API_URL 指向它并设置 "
        "PM_TELEGRAM_LOCAL_MODE=true。在此之前，请发送更小的文件。",
    },
    "file.not_video": {
        "en": "“{name}” is not a video ({mime}). Send an MP4, MOV, MKV or WebM video.",
        "zh": "“{name}” 不是视频（{mime}）。请发送 MP4、MOV、MKV 或 WebM 视频。",
    },
    "file.download_failed": {
        "en": "I could not download the file from Telegram; nothing was created. Send it again.",
        "zh": "无法从 Telegram 下载该文件，未创建任务。请重新发送。",
    },
    "thumbnail.set": {
        "en": "Thumbnail set for task #{task_id}.",
        "zh": "已为任务 #{task_id} 设置封面。",
    },
    "thumbnail.no_card": {
        "en": "To set a thumbnail, reply to a task card with the photo.",
        "zh": "要设置封面，请用图片回复任务卡片。",
    },
    "command.unknown": {
        "en": "I do not know that command; /help lists the ones I have.",
        "zh": "没有这个命令；/help 可查看全部命令。",
    },
    "text.unknown": {
        "en": "Send a video to create a task, or /help for the commands.",
        "zh": "发送视频即可创建任务，或发送 /help 查看命令。",
    },
    "queue.empty": {"en": "No unfinished tasks.", "zh": "没有未完成的任务。"},
    "queue.header": {"en": "<b>Unfinished tasks</b>", "zh": "<b>未完成的任务</b>"},
    "accounts.none": {
        "en": "No channels yet. Add one on the server with "
        "“publish-manager accounts add youtube --name NAME …”.",
        "zh": "还没有频道。请在服务器上使用 "
        "“publish-manager accounts add youtube --name 名称 …” 添加。",
    },
    "account.needs_auth": {
        "en": "⚠️ Channel <b>{name}</b> needs re-authorisation ({reason}). Its tasks are held, "
        "not failed. On the server run\n<code>publish-manager accounts reauth {name} "
        "--interactive</code>\n(or give <code>--refresh-token</code>); the held tasks then go on "
        "by themselves.",
        "zh": "⚠️ 频道 <b>{name}</b> 需要重新授权（{reason}）。它的任务已暂停，不会失败。"
        "请在服务器上运行\n"
        "<code>publish-manager accounts reauth {name} --interactive</code>\n"
        "（或使用 <code>--refresh-token</code>）；之后暂停的任务会自动继续。",
    },
    "account.error": {
        "en": "⚠️ Channel <b>{name}</b> is in error ({reason}); its tasks wait.",
        "zh": "⚠️ 频道 <b>{name}</b> 出现异常（{reason}），其任务正在等待。",
    },
    "account.back": {
        "en": "▶️ Channel <b>{name}</b> works again; its held tasks go on.",
        "zh": "▶️ 频道 <b>{name}</b> 已恢复，暂停的任务将继续。",
    },
    "account.status.active": {"en": "active", "zh": "正常"},
    "account.status.rate_limited": {"en": "rate limited", "zh": "限流中"},
    "account.status.suspended": {"en": "suspended", "zh": "已暂停"},
    "account.status.error": {"en": "error", "zh": "异常"},
    "account.status.needs_auth": {"en": "needs re-authorisation", "zh": "需要重新授权"},
    "status.history": {"en": "History", "zh": "历史"},
    "reason.quota": {
        "en": "YouTube's daily quota is used up",
        "zh": "YouTube 当日配额已用完",
    },
    "reason.upload_limit": {
        "en": "the channel reached its daily upload limit",
        "zh": "频道已达到每日上传上限",
    },
    "reason.auth": {
        "en": "the channel's authorisation is no longer valid; an admin must re-authorise it",
        "zh": "频道授权已失效，需要管理员重新授权",
    },
    "reason.transient": {
        "en": "a temporary error at YouTube or on the network",
        "zh": "YouTube 或网络暂时出错",
    },
    "reason.invalidTitle": {
        "en": "YouTube refused the title (at most 100 characters, no &lt; or &gt;)",
        "zh": "YouTube 拒绝了标题（最多 100 个字符，不能含 &lt; 或 &gt;）",
    },
    "reason.invalidTags": {
        "en": "YouTube refused the tags (at most 500 characters in all)",
        "zh": "YouTube 拒绝了标签（总计最多 500 个字符）",
    },
    "reason.invalidDescription": {
        "en": "YouTube refused the description (at most 5,000 bytes, no &lt; or &gt;)",
        "zh": "YouTube 拒绝了简介（最多 5000 字节，不能含 &lt; 或 &gt;）",
    },
    "reason.invalidPublishAt": {
        "en": "YouTube refused the scheduled publish time",
        "zh": "YouTube 拒绝了定时发布时间",
    },
    "reason.invalidCategoryId": {
        "en": "YouTube refused the category (PM_DEFAULT_CATEGORY_ID)",
        "zh": "YouTube 拒绝了分类（PM_DEFAULT_CATEGORY_ID）",
    },
    "reason.uploadTooLarge": {
        "en": "the file is larger than YouTube accepts",
        "zh": "文件超过了 YouTube 接受的大小",
    },
    "reason.mediaBodyRequired": {
        "en": "YouTube received no video data",
        "zh": "YouTube 没有收到视频数据",
    },
    "note.forced_private": {
        "en": "YouTube kept it private although {asked} was asked: uploads from an unaudited "
        "API project are forced to private until Google audits the project.",
        "zh": "虽然要求的是 {asked}，YouTube 仍将其设为私享：未经审核的 API 项目上传的视频"
        "会被强制设为私享，直到 Google 审核通过该项目。",
    },
    "note.thumbnail_failed": {
        "en": "the thumbnail was not set ({reason}); set it in YouTube Studio",
        "zh": "封面未能设置（{reason}）；请在 YouTube Studio 中设置",
    },
}


MESSAGES.update(OBSERVE_MESSAGES)  # progress, reports and alerts (bot/messages_observe.py)
MESSAGES.update(CHANNEL_MESSAGES)  # quota, balancer, plans (bot/messages_channels.py)
MESSAGES.update(ACCOUNT_FLOW_MESSAGES)  # /addaccount, /reauth (bot/messages_accounts.py)
MESSAGES.update(PLAN_MESSAGES)  # /publishat, /interval, /batch, /best (bot/messages_plans.py)
MESSAGES.update(ADMIN_MESSAGES)  # /accounts, /account, /quota (bot/messages_admin.py)


class Html(str):
    """Text that is Telegram HTML already: filled into a message as it is, not escaped again."""

    __slots__ = ()


def text(key: str, lang: str, /, **params: Any) -> str:
    """Return the message `key` in `lang` as Telegram HTML, with `params` escaped and filled in.

    A parameter that is Html already (another message, say) goes in as it is.
    """
    entry = MESSAGES.get(key)
    if entry is not None:
        template = entry.get(lang) or entry["en"]
    elif key in INPUT_MESSAGES:
        plain = INPUT_MESSAGES[key]
        template = html.escape(plain.get(lang) or plain["en"], quote=False)
    else:
        logger.error("missing catalogue key %s", key)
        return Html(html.escape(key))
    safe = {k: v if isinstance(v, Html) else html.escape(str(v)) for k, v in params.items()}
    try:
        return Html(template.format(**safe))
    except (KeyError, IndexError, ValueError):
        logger.exception("catalogue key %s has placeholders that do not match", key)
        return Html(template)


def all_keys() -> set[str]:
    """Return every key of the catalogue."""
    return set(MESSAGES) | set(INPUT_MESSAGES)
