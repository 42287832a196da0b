"""Catalogue texts for many channels: quota waits, the balancer, plans and account settings.

Telegram HTML, like bot/messages.py; merged into its MESSAGES.
"""

from __future__ import annotations

CHANNEL_MESSAGES: dict[str, dict[str, str]] = {
    "task.duplicate_any": {
        "en": "Task #{task_id} is the same file as task #{other}, which is published or on its "
        "way. A video goes to one channel unless you ask for more: /use {task_id} &lt;account&gt; "
        "for another channel, or /interval to spread it over several.",
        "zh": "任务 #{task_id} 与任务 #{other} 是同一个文件，后者已发布或正在发布。除非明确要求，"
        "一个视频只发布到一个频道：用 /use {task_id} &lt;账号&gt; 指定另一个频道，"
        "或用 /interval 分发到多个频道。",
    },
    "wait.upload_limit": {
        "en": "the channel reached YouTube's own daily upload limit",
        "zh": "该频道达到了 YouTube 自身的每日上传上限",
    },
    "wait.account.rate_limited": {
        "en": "{name} is rate-limited until {until}: {why}",
        "zh": "{name} 限流至 {until}：{why}",
    },
    "wait.account.suspended": {
        "en": "{name} is paused by an admin (/account {name} resume)",
        "zh": "{name} 已被管理员暂停（/account {name} resume 恢复）",
    },
    "wait.account.error": {
        "en": "{name} had too many errors; an admin looks at it and resumes it with "
        "/account {name} resume",
        "zh": "{name} 出错过多；请管理员检查后用 /account {name} resume 恢复",
    },
    "wait.account.needs_auth": {
        "en": "{name} needs to be authorised again: an admin sends /reauth {name}",
        "zh": "{name} 需要重新授权：请管理员发送 /reauth {name}",
    },
    "task.queued_waits": {
        "en": "Task #{task_id} is queued; its channel can take an upload at {when} at the "
        "earliest, waiting",
        "zh": "任务 #{task_id} 已排队；其频道最早可在 {when} 开始上传，原因是等待：",
    },
    "wait.account_limited": {
        "en": "the channel is rate-limited until then (/account shows why)",
        "zh": "该频道在此之前处于限流状态（/account 可查看原因）",
    },
    "card.auto_among": {
        "en": "auto, one of {names} (the balancer picks when it starts)",
        "zh": "自动，从 {names} 中选择（开始上传时由均衡器决定）",
    },
    "card.field.publish_at": {"en": "Goes public", "zh": "公开时间"},
    "card.field.waits": {"en": "Waits", "zh": "等待"},
    "wait.project_quota": {
        "en": "for YouTube's daily API quota, which renews at midnight Pacific time",
        "zh": "等待 YouTube 每日 API 配额恢复（太平洋时间午夜重置）",
    },
    "wait.account_cap": {
        "en": "the channel has made all its uploads for today; it goes when the channel's "
        "day renews",
        "zh": "该频道今天的上传次数已用完，将在频道所在时区的新一天开始后上传",
    },
    "wait.min_interval": {
        "en": "to keep the channel's minimum interval between uploads",
        "zh": "为保持该频道两次上传之间的最短间隔",
    },
    "wait.no_account": {
        "en": "no channel can take it now (none is active, or each has this file already); "
        "/accounts shows why",
        "zh": "目前没有频道可以接收（没有可用频道，或都已有这个文件）；用 /accounts 查看原因",
    },
    "wait.all_busy": {
        "en": "every channel that may take it is at its quota or spacing; it goes when the "
        "first one frees up",
        "zh": "可接收的频道都已达到配额或间隔限制；第一个空出的频道会接手",
    },
    "note.replanned": {
        "en": "#{task_id}: the upload could not finish before {asked}, so YouTube will publish "
        "it at {at} instead. It stays private until then; it is never published early.",
        "zh": "#{task_id}：上传无法在 {asked} 之前完成，因此改为在 {at} 由 YouTube 发布。"
        "在此之前保持私享，绝不会提前发布。",
    },
}

CHANNEL_MESSAGES.update(
    {
        "usage.use": {
            "en": "Usage: /use &lt;id&gt; &lt;account&gt; [account…] — the channel to publish "
            "on; several let the balancer choose among them; “auto” lets it choose any.",
            "zh": "用法：/use &lt;编号&gt; &lt;账号&gt; [账号…] — 指定发布频道；写多个则由均衡器"
            "在其中选择；写 “auto” 则由均衡器任选。",
        },
        "use.unknown": {
            "en": "No account is named “{name}”. Accounts: {known}.",
            "zh": "没有名为“{name}”的账号。现有账号：{known}。",
        },
        "use.has_file": {
            "en": "#{task_id}: {name} has this video already (the same file); a video is never "
            "published twice on one channel.",
            "zh": "#{task_id}：{name} 已经有这个视频（同一文件）；"
            "同一视频不会在一个频道发布两次。",
        },
        "use.session_open": {
            "en": "#{task_id} has started uploading to its channel; its channel can no longer "
            "change.",
            "zh": "#{task_id} 已开始向其频道上传，不能再更换频道。",
        },
        "use.set_one": {
            "en": "#{task_id} will be published on {name}.",
            "zh": "#{task_id} 将发布到 {name}。",
        },
        "use.set_many": {
            "en": "#{task_id}: the balancer chooses among {names} when it starts.",
            "zh": "#{task_id}：开始时由均衡器在 {names} 中选择。",
        },
        "use.set_auto": {
            "en": "#{task_id}: the balancer chooses its channel when it starts.",
            "zh": "#{task_id}：开始时由均衡器选择频道。",
        },
    }
)

CHANNEL_MESSAGES.update(
    {
        "usage.why": {"en": "Usage: /why &lt;id&gt;", "zh": "用法：/why &lt;编号&gt;"},
        "why.named": {
            "en": "#{task_id} goes to {name} because it was asked for (/use); the balancer does "
            "not move it.",
            "zh": "#{task_id} 发布到 {name}，因为这是指定的（/use）；均衡器不会改动它。",
        },
        "why.default": {
            "en": "#{task_id} is on {name}, the team's only channel when it was created.",
            "zh": "#{task_id} 在 {name} 上：创建时团队只有这一个频道。",
        },
        "why.not_yet": {
            "en": "#{task_id} has no channel yet: the balancer chooses when it is due.",
            "zh": "#{task_id} 还没有频道：到时间时由均衡器选择。",
        },
        "why.waiting": {
            "en": "#{task_id} waits: no channel could take it when it was due.",
            "zh": "#{task_id} 正在等待：到时间时没有频道可以接收。",
        },
        "why.chosen": {
            "en": "#{task_id} → <b>{name}</b>, chosen {at} with score {score}, the best of "
            "{active} active channels:",
            "zh": "#{task_id} → <b>{name}</b>，于 {at} 选定，得分 {score}，"
            "在 {active} 个可用频道中最高：",
        },
        "why.idle_never": {"en": "never uploaded", "zh": "从未上传"},
        "why.idle_hours": {
            "en": "{hours} h since its last upload",
            "zh": "距上次上传 {hours} 小时",
        },
        "why.factor_idle": {
            "en": "• idle: {value} → {weighted}",
            "zh": "• 空闲：{value} → {weighted}",
        },
        "why.factor_quota": {
            "en": "• quota: {left} uploads left today, its project {project} → {weighted}",
            "zh": "• 配额：今天还可上传 {left} 次，所属项目还可 {project} 次 → {weighted}",
        },
        "why.factor_success": {
            "en": "• success: {rate} of recent attempts → {weighted}",
            "zh": "• 成功率：最近尝试成功 {rate} → {weighted}",
        },
        "why.factor_priority": {
            "en": "• priority: weight {weight} → {weighted}",
            "zh": "• 优先级：权重 {weight} → {weighted}",
        },
        "why.excluded": {
            "en": "Ruled out among those that could have scored higher: {reasons}.",
            "zh": "在得分可能更高的频道中被排除：{reasons}。",
        },
        "why.excluded.inactive": {
            "en": "{count} not active",
            "zh": "{count} 个不可用",
        },
        "why.excluded.platform": {"en": "{count} on another platform", "zh": "{count} 个平台不符"},
        "why.excluded.not_allowed": {
            "en": "{count} not among those asked",
            "zh": "{count} 个不在指定范围内",
        },
        "why.excluded.account_quota": {
            "en": "{count} at their daily upload cap",
            "zh": "{count} 个已达每日上传上限",
        },
        "why.excluded.project_quota": {
            "en": "{count} whose project's quota is used up",
            "zh": "{count} 个所属项目配额已用完",
        },
        "why.excluded.min_interval": {
            "en": "{count} within their minimum interval",
            "zh": "{count} 个仍在最短间隔内",
        },
        "why.excluded.duplicate_file": {
            "en": "{count} that have this file already",
            "zh": "{count} 个已有这个文件",
        },
    }
)
