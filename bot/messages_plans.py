"""Catalogue texts for scheduling from the chat: /publishat, /interval, /batch, /best and plans.

Telegram HTML, like bot/messages.py; merged into its MESSAGES.
"""

from __future__ import annotations

PLAN_MESSAGES: dict[str, dict[str, str]] = {
    "usage.publishat": {
        "en": "Usage: /publishat &lt;id&gt; &lt;when&gt; — upload now, private; YouTube makes "
        "it public at that time. E.g. /publishat 12 tomorrow 8pm, /publishat 12 2026-12-24 "
        "20:00",
        "zh": "用法：/publishat &lt;编号&gt; &lt;时间&gt; — 立即上传（私享），到时由 YouTube "
        "设为公开。例如 /publishat 12 明天 20:00、/publishat 12 2026-12-24 20:00",
    },
    "usage.interval": {
        "en": "Usage: /interval &lt;id&gt; &lt;hours&gt; &lt;account&gt; [account…] — the "
        "same video on several channels: the first now, each next one that many hours later "
        "(3, 1.5, 90m). E.g. /interval 12 3 main second third",
        "zh": "用法：/interval &lt;编号&gt; &lt;小时&gt; &lt;账号&gt; [账号…] — 同一视频发到"
        "多个频道：第一个立即，之后每隔这么多小时一个（3、1.5、90m）。"
        "例如 /interval 12 3 main second third",
    },
    "usage.best": {
        "en": "Usage: /best &lt;id&gt; [account…] — the nearest peak-hour slot (each channel's "
        "peak hours and zone) with quota left, not on top of our other videos to the same "
        "audience. Without accounts, every active channel is considered.",
        "zh": "用法：/best &lt;编号&gt; [账号…] — 选最近的高峰时段（按各频道的高峰时间和时区），"
        "且配额有余、不与我们发给同一受众的其他视频挤在一起。不写账号则考虑所有可用频道。",
    },
    "usage.batch": {
        "en": "Usage: /batch [ids…] &lt;plan&gt; [on &lt;account…&gt;]\n"
        "Spreads your drafts in this chat (every video you sent and have not scheduled, "
        "albums too), or the tasks named (12 13, #12,#13 or 12-15). The plan is one of:\n"
        "• <code>daily 20:00</code> — one a day at that time in each channel's own zone "
        "(also “every day 8pm”, “每天 20:00”, “每天晚上8点”)\n"
        "• <code>every 3h [from tomorrow 09:00]</code> — one every 3 hours (90m, 1.5h, 2d), "
        "from now or from that time in your zone (also “每3小时 从明天 09:00”)\n"
        "• <code>best</code> — each at the best peak-hour slot (also “最佳”)\n"
        "Channels go at the end: “on main, second”, “@main @second” or “发到 main second”; "
        "without them every active channel takes its turn. You see the whole plan first; "
        "nothing changes until you accept it.",
        "zh": "用法：/batch [编号…] &lt;计划&gt; [发到 &lt;账号…&gt;]\n"
        "把你在本聊天中的草稿（发来但还没安排的视频，相册也算）或指定的任务"
        "（12 13、#12,#13 或 12-15）分散发布。计划可以是：\n"
        "• <code>每天 20:00</code> — 每天一个，按各频道自己时区的这个时间"
        "（也可写 “每天晚上8点”、“daily 20:00”）\n"
        "• <code>每3小时 [从明天 09:00]</code> — 每 3 小时一个（也可 90分钟、1.5小时、2天），"
        "从现在或从你所在时区的那个时间开始（也可写 “every 3h from tomorrow 09:00”）\n"
        "• <code>最佳</code> — 每个都放在最佳高峰时段（也可写 “best”）\n"
        "频道写在最后：“发到 main second”、“@main @second” 或 “on main, second”；"
        "不写则所有可用频道轮流。会先显示完整计划；确认之前什么都不会改变。",
    },
    "publishat.done": {
        "en": "Task #{task_id} uploads now and stays private; YouTube makes it public at {when}.",
        "zh": "任务 #{task_id} 立即上传并保持私享；YouTube 将于 {when} 将其设为公开。",
    },
    "publishat.replanned": {
        "en": "The upload needs about {minutes} min, so YouTube makes it public at {at} instead "
        "of {asked}; never earlier than asked.",
        "zh": "上传大约需要 {minutes} 分钟，因此改为在 {at} 公开，而不是 {asked}；"
        "绝不会早于要求的时间。",
    },
    "publishat.not_future": {
        "en": "{when} is not in the future. YouTube publishes a scheduled video at a later "
        "time; to publish now, use /publish.",
        "zh": "{when} 不是将来的时间。YouTube 只能在之后的时间定时发布；要立即发布请用 /publish。",
    },
    "batch.hint": {
        "en": "An album: its videos become drafts, each with its card. /batch spreads your "
        "drafts here as one plan: “/batch daily 20:00 on main”, “/batch every 3h from "
        "tomorrow 09:00” or “/batch best”.",
        "zh": "收到相册：其中每个视频都会成为草稿并有自己的卡片。用 /batch 把本聊天中的草稿"
        "按一个计划分散发布：“/batch 每天 20:00 发到 main”、“/batch 每3小时 从明天 09:00” "
        "或 “/batch 最佳”。",
    },
}

PLAN_MESSAGES.update(
    {
        "plan.head.interval": {
            "en": "<b>Plan: #{task_id} on {count} channels, {every} apart</b>",
            "zh": "<b>计划：#{task_id} 发到 {count} 个频道，间隔 {every}</b>",
        },
        "plan.head.daily": {
            "en": "<b>Plan: {count} videos, one a day at {clock} in each channel's own zone, "
            "on {names}</b>",
            "zh": "<b>计划：{count} 个视频，每天一个，按各频道自己时区的 {clock}，"
            "频道：{names}</b>",
        },
        "plan.head.every": {
            "en": "<b>Plan: {count} videos, one every {every} from {start}, on {names}</b>",
            "zh": "<b>计划：{count} 个视频，从 {start} 起每 {every} 一个，频道：{names}</b>",
        },
        "plan.head.best": {
            "en": "<b>Plan: {count} at the best time</b> — each channel's peak hours with quota "
            "left, at least {spacing} h from our other videos to the same audience (channels "
            "with the same peak zone share one audience)",
            "zh": "<b>计划：{count} 个放在最佳时间</b> — 各频道的高峰时段、配额有余，"
            "且与我们发给同一受众的其他视频至少相隔 {spacing} 小时"
            "（高峰时区相同的频道算同一受众）",
        },
        "plan.task": {"en": "#{task_id}", "zh": "#{task_id}"},
        "plan.copy": {"en": "copy of #{task_id}", "zh": "#{task_id} 的副本"},
        "plan.line": {
            "en": "{label} → <b>{name}</b>{status} · {when}{local} · {what}",
            "zh": "{label} → <b>{name}</b>{status} · {when}{local} · {what}",
        },
        "plan.local": {"en": " = {time} {zone}", "zh": " = {zone} {time}"},
        "plan.status": {"en": " ⚠ {status}", "zh": " ⚠ {status}"},
        "plan.what_now": {
            "en": "uploads now; {privacy} once YouTube has it",
            "zh": "立即上传；YouTube 收到后即为{privacy}",
        },
        "plan.what_public": {
            "en": "goes public then (the upload starts {upload})",
            "zh": "届时公开（{upload} 开始上传）",
        },
        "plan.what_lands": {
            "en": "uploaded then; public once YouTube has it",
            "zh": "届时上传；YouTube 收到后即公开",
        },
        "plan.what_kept": {
            "en": "uploaded then; stays {privacy}",
            "zh": "届时上传；保持{privacy}",
        },
        "plan.moved": {
            "en": "⏩ the quota moves its upload to {at}, {reason}",
            "zh": "⏩ 受配额限制，上传改到 {at}，{reason}",
        },
        "plan.lead": {
            "en": "⏱ the upload needs about {minutes} min, so it goes public at {at}, not {asked}",
            "zh": "⏱ 上传大约需要 {minutes} 分钟，因此在 {at} 公开，而不是 {asked}",
        },
        "plan.reason.project_quota": {
            "en": "after YouTube's quota reset",
            "zh": "在 YouTube 配额重置之后",
        },
        "plan.reason.account_cap": {
            "en": "when the channel's daily upload cap renews",
            "zh": "在频道每日上传次数恢复之后",
        },
        "plan.reason.min_interval": {
            "en": "to keep the channel's minimum interval between uploads",
            "zh": "以保持频道两次上传之间的最短间隔",
        },
        "plan.forecast_all": {
            "en": "Quota: all {total} fit as planned.",
            "zh": "配额：{total} 个全部可以按计划进行。",
        },
        "plan.forecast_some": {
            "en": "Quota: {fit} of {total} fit as planned; {moves}.",
            "zh": "配额：{total} 个中有 {fit} 个可以按计划进行；{moves}。",
        },
        "plan.forecast_move": {
            "en": "{label} on {name} goes at {when} your time, {reason}",
            "zh": "{label}（{name}）改为你的时间 {when}，{reason}",
        },
        "plan.private_hint": {
            "en": "{ids}: not public, so each is uploaded at its time and stays as it is. To "
            "have YouTube make one public at its time, /privacy &lt;id&gt; public first, then "
            "plan again.",
            "zh": "{ids}：不是公开的，所以各自在计划时间上传并保持原样。若要 YouTube 在计划时间"
            "将其公开，请先 /privacy &lt;编号&gt; public，再重新制定计划。",
        },
        "plan.ask": {
            "en": "Nothing changes until you accept. Accept queues every task above; Cancel "
            "leaves everything as it is.",
            "zh": "确认之前什么都不会改变。接受会把以上任务全部加入队列；取消则一切保持原样。",
        },
        "plan.span.d": {"en": "{n} d", "zh": "{n} 天"},
        "plan.span.h": {"en": "{n} h", "zh": "{n} 小时"},
        "plan.span.m": {"en": "{n} min", "zh": "{n} 分钟"},
        "button.plan_accept": {"en": "✅ Accept", "zh": "✅ 接受"},
        "button.plan_cancel": {"en": "✖ Cancel", "zh": "✖ 取消"},
        "plan.accepted": {
            "en": "✅ Plan accepted: {count} tasks queued ({ids}).",
            "zh": "✅ 计划已接受：{count} 个任务已加入队列（{ids}）。",
        },
        "plan.accept_replanned": {
            "en": "#{task_id}: the upload could not finish before {asked}, so YouTube makes it "
            "public at {at} instead; never earlier than asked.",
            "zh": "#{task_id}：上传无法在 {asked} 之前完成，因此改为在 {at} 公开；"
            "绝不会早于要求的时间。",
        },
        "plan.cancelled": {
            "en": "Plan cancelled; nothing changed.",
            "zh": "计划已取消，没有任何改动。",
        },
    }
)

PLAN_MESSAGES.update(
    {
        "plan.gone": {
            "en": "This plan is no longer open (accepted, cancelled, more than an hour old, or "
            "made before a restart). Make it again.",
            "zh": "此计划已失效（已接受、已取消、超过一小时，或在重启前制定）。请重新制定。",
        },
        "plan.not_yours": {
            "en": "Only the person who made this plan, or an admin, may accept or cancel it.",
            "zh": "只有制定此计划的人或管理员可以接受或取消它。",
        },
        "plan.stale": {
            "en": "Task #{task_id} changed since the plan was made, so nothing was changed. "
            "Make the plan again.",
            "zh": "任务 #{task_id} 在制定计划后有了变化，因此没有做任何改动。请重新制定计划。",
        },
        "plan.partly": {
            "en": "Task #{task_id} changed while the plan was being queued; queued before it: "
            "{done}. The rest were not queued.",
            "zh": "加入队列时任务 #{task_id} 发生了变化；在它之前已加入队列：{done}。"
            "其余任务没有加入。",
        },
        "plan.bad_hours": {
            "en": "“{text}” is not a number of hours above zero (at most 30 days); write e.g. "
            "3, 1.5 or 90m.",
            "zh": "“{text}” 不是大于零的小时数（最多 30 天）；请写 3、1.5 或 90m 之类。",
        },
        "plan.bad_every": {
            "en": "“{text}” is not an interval above zero (at most 30 days); write e.g. every "
            "3h, every 90m or 每3小时.",
            "zh": "“{text}” 不是大于零的间隔（最多 30 天）；"
            "请写 每3小时、每90分钟 或 every 3h 之类。",
        },
        "plan.bad_clock": {
            "en": "“{text}” is not a time of day; write e.g. 20:00, 8pm or 晚上8点.",
            "zh": "“{text}” 不是一天中的时间；请写 20:00、晚上8点 或 8pm 之类。",
        },
        "plan.bad_batch": {
            "en": "I could not read “{text}” as a plan. Write e.g. /batch daily 20:00 on main, "
            "/batch every 3h from tomorrow 09:00, or /batch best; /batch alone explains more.",
            "zh": "无法把“{text}”识别为计划。可以这样写：/batch 每天 20:00 发到 main、"
            "/batch 每3小时 从明天 09:00 或 /batch 最佳；只发 /batch 可查看详细说明。",
        },
        "plan.too_many": {
            "en": "A plan takes at most {limit} tasks; this one has {count}.",
            "zh": "一个计划最多 {limit} 个任务，这个有 {count} 个。",
        },
        "plan.unknown_account": {
            "en": "No account is named “{name}”. Accounts: {known}.",
            "zh": "没有名为“{name}”的账号。现有账号：{known}。",
        },
        "plan.account_twice": {
            "en": "{name} is named twice; a video is never published twice on one channel.",
            "zh": "{name} 写了两次；同一视频不会在一个频道发布两次。",
        },
        "plan.no_active": {
            "en": "No channel is active to plan on; /accounts shows their status.",
            "zh": "没有可用的频道可以安排；用 /accounts 查看频道状态。",
        },
        "plan.has_file": {
            "en": "#{task_id}: {name} has this video already (the same file), or gets it "
            "earlier in this plan; a video is never published twice on one channel.",
            "zh": "#{task_id}：{name} 已经有这个视频（同一文件），或在本计划中已经安排；"
            "同一视频不会在一个频道发布两次。",
        },
        "plan.has_file_everywhere": {
            "en": "#{task_id}: every channel considered has this video already (the same file).",
            "zh": "#{task_id}：考虑的每个频道都已经有这个视频（同一文件）。",
        },
        "plan.no_best_slot": {
            "en": "#{task_id}: no peak slot with quota left in the next {days} days.",
            "zh": "#{task_id}：未来 {days} 天内没有配额有余的高峰时段。",
        },
        "plan.never_fits": {
            "en": "#{task_id}: one upload costs more quota than a whole day holds "
            "(PM_QUOTA_DAILY_UNITS); it can never be uploaded as things are set.",
            "zh": "#{task_id}：一次上传所需配额超过一整天的配额（PM_QUOTA_DAILY_UNITS），"
            "按现在的设置永远无法上传。",
        },
        "plan.session_open": {
            "en": "#{task_id} has started uploading to its channel; it can no longer be "
            "re-planned.",
            "zh": "#{task_id} 已开始向其频道上传，不能再重新安排。",
        },
        "plan.file_gone": {
            "en": "#{task_id}: its video file is no longer kept; send the video again.",
            "zh": "#{task_id}：视频文件已不再保留；请重新发送视频。",
        },
        "plan.no_drafts": {
            "en": "You have no drafts in this chat. Send the videos first (each becomes a "
            "draft), or name the tasks: /batch 12 13 daily 20:00.",
            "zh": "你在本聊天中没有草稿。请先发送视频（每个都会成为草稿），"
            "或指定任务：/batch 12 13 每天 20:00。",
        },
    }
)
