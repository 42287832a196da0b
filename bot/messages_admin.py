"""Catalogue texts of /accounts, /account and /quota (Telegram HTML); merged into MESSAGES."""

from __future__ import annotations

ADMIN_MESSAGES: dict[str, dict[str, str]] = {
    # -- /accounts ------------------------------------------------------------------------------
    "admin.list_header": {
        "en": "<b>Channels</b> ({count}) · times in {zone}",
        "zh": "<b>频道</b>（{count} 个）· 时间按 {zone}",
    },
    "admin.list_line": {
        "en": "• <b>{name}</b> · {status}\n   today {used}/{cap} · next free: {next} · "
        "priority {priority}",
        "zh": "• <b>{name}</b> · {status}\n   今日 {used}/{cap} · 下次可上传：{next} · "
        "优先级 {priority}",
    },
    "admin.status_until": {"en": "{status} until {until}", "zh": "{status}，至 {until}"},
    "admin.free_now": {"en": "now", "zh": "现在"},
    "admin.free_held": {"en": "— (held)", "zh": "—（暂停中）"},
    "admin.more": {
        "en": "… and {count} more; /account &lt;name&gt; shows one in full.",
        "zh": "……另有 {count} 项；/account &lt;名称&gt; 查看单个频道详情。",
    },
    "admin.hint": {
        "en": "<i>/account &lt;name&gt; shows one channel in full; /quota shows every quota.</i>",
        "zh": "<i>/account &lt;名称&gt; 查看单个频道详情；/quota 查看全部配额。</i>",
    },
    "admin.unavailable": {
        "en": "Channel administration is not available in this process.",
        "zh": "此进程不提供频道管理。",
    },
    # -- /account -------------------------------------------------------------------------------
    "admin.usage": {
        "en": "Usage: /account &lt;name&gt; shows a channel. Admins change it with "
        "/account &lt;name&gt; pause | resume | priority &lt;0–100&gt; | quota &lt;1–1000&gt; | "
        "interval &lt;hours&gt; | peak &lt;20-22&gt; [zone] | tz &lt;zone&gt; "
        "(“default” puts a value back to the setting's default). /accounts lists the channels.",
        "zh": "用法：/account &lt;名称&gt; 查看频道。管理员可用 "
        "/account &lt;名称&gt; pause | resume | priority &lt;0–100&gt; | quota &lt;1–1000&gt; | "
        "interval &lt;小时&gt; | peak &lt;20-22&gt; [时区] | tz &lt;时区&gt; 修改"
        "（写 “default” 恢复为默认设置）。/accounts 列出全部频道。",
    },
    "admin.unknown_account": {
        "en": "No account is named “{name}”. Accounts: {known}.",
        "zh": "没有名为“{name}”的账号。现有账号：{known}。",
    },
    "admin.unknown_action": {
        "en": "“{text}” is not something /account does: use pause, resume, priority, quota, "
        "interval, peak or tz. Nothing changed.",
        "zh": "/account 不支持“{text}”：可用 pause、resume、priority、quota、interval、peak "
        "或 tz。没有做任何更改。",
    },
    "admin.value_needed": {
        "en": "“{action}” needs a value after it (or “default”), e.g. /account main {action} "
        "… Nothing changed.",
        "zh": "“{action}” 后面需要一个值（或 “default”），例如 /account main {action} …"
        "没有做任何更改。",
    },
    "admin.bad_priority": {
        "en": "“{text}” is not a priority: give a number from 0 to 100 (1 is neutral; a higher "
        "one is chosen more often), or “default”. Nothing changed.",
        "zh": "“{text}” 不是有效的优先级：请给出 0 到 100 之间的数（1 为中性，越大越常被选中），"
        "或 “default”。没有做任何更改。",
    },
    "admin.bad_quota": {
        "en": "“{text}” is not a daily cap: give a whole number of uploads a day from 1 to "
        "1000, or “default”. Nothing changed.",
        "zh": "“{text}” 不是有效的每日上限：请给出 1 到 1000 之间的整数（每天上传次数），"
        "或 “default”。没有做任何更改。",
    },
    "admin.bad_interval": {
        "en": "“{text}” is not an interval: give hours from 0 to 168 (for example 1.5), or "
        "“default”. Nothing changed.",
        "zh": "“{text}” 不是有效的间隔：请给出 0 到 168 之间的小时数（例如 1.5），或 “default”。"
        "没有做任何更改。",
    },
    "admin.bad_peak": {
        "en": "“{text}” is not a peak window: give local hours like 20-22 (the start 0–23, the "
        "end 0–24; it may pass midnight, as in 22-2), a time zone after it if you like, or "
        "“default”. Nothing changed.",
        "zh": "“{text}” 不是有效的高峰时段：请给出当地时段，例如 20-22（开始 0–23，结束 0–24；"
        "可跨午夜，如 22-2），可在后面加时区，或写 “default”。没有做任何更改。",
    },
    "admin.bad_zone": {
        "en": "“{text}” is not a time zone: use an IANA name such as Asia/Shanghai, "
        "America/New_York or Europe/London, or “default”. Nothing changed.",
        "zh": "“{text}” 不是时区：请使用 IANA 名称，例如 Asia/Shanghai、America/New_York、"
        "Europe/London，或 “default”。没有做任何更改。",
    },
    "admin.already_paused": {
        "en": "<b>{name}</b> is paused already; /account {name} resume starts it again.",
        "zh": "<b>{name}</b> 已经是暂停状态；/account {name} resume 可恢复。",
    },
    "admin.already_active": {
        "en": "<b>{name}</b> is active already; nothing changed.",
        "zh": "<b>{name}</b> 已经是正常状态，没有做任何更改。",
    },
    "admin.pause_needs_auth": {
        "en": "<b>{name}</b> takes no uploads already: it needs re-authorisation. An admin "
        "sends /reauth {name}; nothing changed.",
        "zh": "<b>{name}</b> 目前已不接收上传：它需要重新授权。请管理员发送 /reauth {name}；"
        "没有做任何更改。",
    },
    "admin.resume_needs_auth": {
        "en": "<b>{name}</b> needs re-authorisation, which resuming cannot give: an admin sends "
        "/reauth {name}, and its held tasks then go on by themselves. Nothing changed.",
        "zh": "<b>{name}</b> 需要重新授权，恢复操作无法解决：请管理员发送 /reauth {name}，"
        "之后暂停的任务会自动继续。没有做任何更改。",
    },
    "admin.paused": {
        "en": "⏸ <b>{name}</b> is paused: it starts no upload until it is resumed "
        "(/account {name} resume); new tasks go to the other channels.",
        "zh": "⏸ <b>{name}</b> 已暂停：恢复之前不会开始任何上传（/account {name} resume）；"
        "新任务会发往其他频道。",
    },
    "admin.moved": {
        "en": "{count} of its waiting tasks went back to the balancer.",
        "zh": "它的 {count} 个等待中的任务已交回均衡器重新分配。",
    },
    "admin.resumed": {
        "en": "▶️ <b>{name}</b> is active again; its tasks go on.",
        "zh": "▶️ <b>{name}</b> 已恢复正常，其任务继续进行。",
    },
    "admin.changed": {
        "en": "✅ <b>{name}</b>: {setting} is now {value}.",
        "zh": "✅ <b>{name}</b>：{setting}已改为 {value}。",
    },
    "admin.setting.priority": {"en": "the priority", "zh": "优先级"},
    "admin.setting.quota": {"en": "the daily cap", "zh": "每日上限"},
    "admin.setting.interval": {"en": "the minimum interval", "zh": "最短间隔"},
    "admin.setting.peak": {"en": "the peak hours", "zh": "高峰时段"},
    "admin.setting.tz": {"en": "the time zone", "zh": "时区"},
    "admin.per_day": {"en": "{count} uploads a day", "zh": "每天 {count} 次"},
    "admin.hours": {"en": "{hours} h", "zh": "{hours} 小时"},
    "admin.default_mark": {"en": " (default)", "zh": "（默认）"},
    "admin.never": {"en": "never", "zh": "从未"},
    "admin.today_value": {
        "en": "{used} of {cap} uploads{default}; its day ends {ends}",
        "zh": "已上传 {used} / {cap} 次{default}；本日结束于 {ends}",
    },
    "admin.peak_value": {
        "en": "{start}:00–{end}:00 ({zone})",
        "zh": "{start}:00–{end}:00（{zone}）",
    },
    "admin.project_value": {
        "en": "{left} of {daily} units left ({uploads} uploads), renews at {reset} · "
        "<code>{client}</code>",
        "zh": "剩余 {left} / {daily} 单位（可上传 {uploads} 次），于 {reset} 重置 · "
        "<code>{client}</code>",
    },
    "admin.change_hint": {
        "en": "Change it: /account {name} pause | resume | priority &lt;0–100&gt; | "
        "quota &lt;1–1000&gt; | interval &lt;hours&gt; | peak &lt;20-22&gt; | tz &lt;zone&gt; "
        "(or “default”)",
        "zh": "修改：/account {name} pause | resume | priority &lt;0–100&gt; | "
        "quota &lt;1–1000&gt; | interval &lt;小时&gt; | peak &lt;20-22&gt; | tz &lt;时区&gt;"
        "（或 “default”）",
    },
    "admin.field.channel": {"en": "Channel", "zh": "频道"},
    "admin.field.status": {"en": "Status", "zh": "状态"},
    "admin.field.reason": {"en": "Reason", "zh": "原因"},
    "admin.field.since": {"en": "Since", "zh": "开始于"},
    "admin.field.zone": {"en": "Time zone", "zh": "时区"},
    "admin.field.today": {"en": "Today", "zh": "今日"},
    "admin.field.interval": {"en": "Minimum interval", "zh": "最短间隔"},
    "admin.field.priority": {"en": "Priority", "zh": "优先级"},
    "admin.field.peak": {"en": "Peak hours", "zh": "高峰时段"},
    "admin.field.last_upload": {"en": "Last upload", "zh": "上次上传"},
    "admin.field.next_free": {"en": "Next free slot", "zh": "下次可上传"},
    "admin.field.project": {"en": "Project quota", "zh": "项目配额"},
    "admin.button.pause": {"en": "⏸ Pause", "zh": "⏸ 暂停"},
    "admin.button.resume": {"en": "▶️ Resume", "zh": "▶️ 恢复"},
    "admin.button.priority_up": {"en": "⬆️ Priority +1", "zh": "⬆️ 优先级 +1"},
    "admin.button.priority_down": {"en": "⬇️ Priority −1", "zh": "⬇️ 优先级 −1"},
    # -- status reasons -------------------------------------------------------------------------
    "account.reason.paused": {"en": "paused by {by}", "zh": "由 {by} 暂停"},
    "account.reason.resumed": {"en": "resumed by {by}", "zh": "由 {by} 恢复"},
    "account.reason.cap_raised": {
        "en": "its daily cap was raised by {by}",
        "zh": "{by} 提高了每日上限",
    },
    "account.reason.project_quota": {
        "en": "its project's daily YouTube quota is spent",
        "zh": "所属项目当日的 YouTube 配额已用完",
    },
    "account.reason.account_cap": {
        "en": "it made all its uploads for today",
        "zh": "今天的上传次数已用完",
    },
    "account.reason.limit_lifted": {"en": "its limit ended", "zh": "限制已结束"},
    "account.reason.reauthorised": {"en": "re-authorised", "zh": "已重新授权"},
    "account.reason.errors": {
        "en": "{count} failed attempts within {minutes} min",
        "zh": "{minutes} 分钟内失败 {count} 次",
    },
    # -- /quota ---------------------------------------------------------------------------------
    "quota.title": {
        "en": "📊 <b>Quota</b> · times in {zone}",
        "zh": "📊 <b>配额</b> · 时间按 {zone}",
    },
    "quota.projects_header": {
        "en": "<b>Google Cloud projects</b> ({cost}; they renew at midnight Pacific time: "
        "{reset})",
        "zh": "<b>Google Cloud 项目</b>（{cost}；太平洋时间午夜重置，即 {reset}）",
    },
    "quota.cost_units": {"en": "an upload takes {units} units", "zh": "每次上传消耗 {units} 单位"},
    "quota.cost_bucket": {
        "en": "an upload takes one call of the insert bucket",
        "zh": "每次上传消耗上传配额中的一次调用",
    },
    "quota.project_line": {
        "en": "• <code>{client}</code>: {used} of {daily} units used, {left} left{bucket}: "
        "<b>{uploads}</b> uploads · {names}",
        "zh": "• <code>{client}</code>：已用 {used} / {daily} 单位，剩余 {left}{bucket}："
        "还可上传 <b>{uploads}</b> 次 · {names}",
    },
    "quota.bucket": {"en": " · inserts {used}/{limit}", "zh": " · 上传调用 {used}/{limit}"},
    "quota.accounts_header": {
        "en": "<b>Channels</b> (each renews at midnight in its own time zone)",
        "zh": "<b>频道</b>（各自在所在时区的午夜重置）",
    },
    "quota.account_line": {
        "en": "• {name}: {used} of {cap} uploads used, <b>{left}</b> left{limited} · "
        "renews at {reset}",
        "zh": "• {name}：已上传 {used} / {cap} 次，剩余 <b>{left}</b> 次{limited} · "
        "于 {reset} 重置",
    },
    "quota.more": {"en": "… and {count} more.", "zh": "……另有 {count} 项。"},
    "quota.project_limits": {
        "en": " (its project allows {uploads})",
        "zh": "（所属项目仅允许 {uploads} 次）",
    },
}
