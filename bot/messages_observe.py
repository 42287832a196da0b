"""Catalogue texts for progress, reports, stats, the calendar and alerts (Telegram HTML).

Keys under `chart.` and `weekday.` are drawn on pictures: they hold no markup.
"""

from __future__ import annotations

OBSERVE_MESSAGES: dict[str, dict[str, str]] = {
    # -- durations ------------------------------------------------------------------------------
    "duration.s": {"en": "{s} s", "zh": "{s} 秒"},
    "duration.ms": {"en": "{m} min {s} s", "zh": "{m} 分 {s} 秒"},
    "duration.hm": {"en": "{h} h {m} min", "zh": "{h} 小时 {m} 分"},
    "duration.dh": {"en": "{d} d {h} h", "zh": "{d} 天 {h} 小时"},
    "value.none": {"en": "—", "zh": "—"},
    # -- progress -------------------------------------------------------------------------------
    "progress.line": {
        "en": "⬆️ <code>{bar}</code> <b>{percent}%</b>\n{sent} of {total} · {speed} · {eta}",
        "zh": "⬆️ <code>{bar}</code> <b>{percent}%</b>\n{sent} / {total} · {speed} · {eta}",
    },
    "progress.status": {
        "en": "Task #{task_id} is uploading.",
        "zh": "任务 #{task_id} 正在上传。",
    },
    "progress.eta": {"en": "{time} left", "zh": "剩余 {time}"},
    "progress.eta_unknown": {"en": "time left unknown", "zh": "剩余时间未知"},
    "progress.speed_unknown": {"en": "measuring speed", "zh": "正在测速"},
    # -- reports --------------------------------------------------------------------------------
    "report.title": {
        "en": "📊 <b>Report {first} – {last}</b> ({zone})",
        "zh": "📊 <b>报告 {first} – {last}</b>（{zone}）",
    },
    "report.title_day": {
        "en": "📊 <b>Report {first}</b> ({zone})",
        "zh": "📊 <b>报告 {first}</b>（{zone}）",
    },
    "report.daily": {"en": "🗓 <b>Daily report</b>", "zh": "🗓 <b>日报</b>"},
    "report.weekly": {"en": "🗓 <b>Weekly report</b>", "zh": "🗓 <b>周报</b>"},
    "report.summary": {
        "en": "Published: <b>{published}</b> · failed: <b>{failed}</b> · "
        "success rate: <b>{rate}</b>",
        "zh": "已发布：<b>{published}</b> · 失败：<b>{failed}</b> · 成功率：<b>{rate}</b>",
    },
    "report.times": {
        "en": "Average time from task to published: {processing} · uploading: {upload}",
        "zh": "从创建到发布平均用时：{processing} · 上传平均用时：{upload}",
    },
    "report.accounts_header": {"en": "<b>By account</b>", "zh": "<b>按账号</b>"},
    "report.account_line": {
        "en": "• {name}: {published} published, {failed} failed",
        "zh": "• {name}：发布 {published}，失败 {failed}",
    },
    "report.hours_header": {
        "en": "<b>By hour</b> ({zone}, published)",
        "zh": "<b>按时段</b>（{zone}，已发布）",
    },
    "report.failures_header": {"en": "<b>Failed tasks</b>", "zh": "<b>失败的任务</b>"},
    "report.failure_line": {
        "en": "• #{task_id} · {account} · {title}: {reason}",
        "zh": "• #{task_id} · {account} · {title}：{reason}",
    },
    "report.more": {"en": "… and {count} more", "zh": "……另有 {count} 项"},
    "report.empty": {
        "en": "Nothing was published and nothing failed in this period.",
        "zh": "此期间没有发布或失败的任务。",
    },
    "report.chart_caption": {
        "en": "Uploads by hour and by account, {period} ({zone})",
        "zh": "按时段和账号的上传数，{period}（{zone}）",
    },
    "report.bad_period": {
        "en": "“{text}” is not a period. Use today, yesterday, week (the last 7 days), "
        "month (the last 30 days), a date like 2026-12-01 or a range like "
        "2026-12-01..2026-12-07.",
        "zh": "“{text}” 不是有效的时间段。可用：today（今天）、yesterday（昨天）、"
        "week（最近 7 天）、month（最近 30 天）、日期如 2026-12-01，"
        "或范围如 2026-12-01..2026-12-07。",
    },
    "report.period_too_long": {
        "en": "A report covers at most {days} days; choose a shorter range.",
        "zh": "一份报告最多覆盖 {days} 天，请选择更短的范围。",
    },
    "report.unavailable": {
        "en": "Reports are not available in this process.",
        "zh": "此进程未提供报告功能。",
    },
    # -- stats ----------------------------------------------------------------------------------
    "stats.title": {"en": "📈 <b>Right now</b> ({time})", "zh": "📈 <b>实时数据</b>（{time}）"},
    "stats.queue": {
        "en": "Waiting: <b>{waiting}</b> (due now: {due}) · uploading: <b>{active}</b>",
        "zh": "等待中：<b>{waiting}</b>（已到时间：{due}）· 上传中：<b>{active}</b>",
    },
    "stats.rate": {
        "en": "Last {window}: {published} published ({rate} an hour) · "
        "{errors} failed attempts · error rate {error_rate}",
        "zh": "最近 {window}：发布 {published}（每小时 {rate}）· 失败尝试 {errors} · "
        "错误率 {error_rate}",
    },
    "stats.wait": {
        "en": "Due tasks have waited {avg} on average, the longest {oldest}",
        "zh": "已到时间的任务平均等待 {avg}，最长 {oldest}",
    },
    "stats.accounts_header": {"en": "<b>By account</b>", "zh": "<b>按账号</b>"},
    "stats.account_line": {
        "en": "• {name} ({status}): waiting {waiting}, uploading {active}, "
        "published {published}, failed attempts {errors}",
        "zh": "• {name}（{status}）：等待 {waiting}，上传中 {active}，发布 {published}，"
        "失败尝试 {errors}",
    },
    # -- calendar -------------------------------------------------------------------------------
    "calendar.caption": {
        "en": "🗓 Schedule {first} – {last} ({zone}): {total} tasks",
        "zh": "🗓 发布日程 {first} – {last}（{zone}）：共 {total} 个任务",
    },
    "calendar.empty": {
        "en": "Nothing is scheduled for the coming {days} days.",
        "zh": "未来 {days} 天没有定时任务。",
    },
    "calendar.usage": {"en": "Usage: /calendar [week]", "zh": "用法：/calendar [week]"},
    # -- pictures (plain text) ------------------------------------------------------------------
    "chart.hourly_title": {"en": "Uploads by hour", "zh": "按时段上传数"},
    "chart.hour_axis": {"en": "Hour of day ({zone})", "zh": "时段（{zone}）"},
    "chart.accounts_title": {"en": "Uploads by account", "zh": "按账号上传数"},
    "chart.published": {"en": "published", "zh": "已发布"},
    "chart.failed": {"en": "failed", "zh": "失败"},
    "chart.count_axis": {"en": "videos", "zh": "视频数"},
    "chart.no_data": {"en": "no uploads in this period", "zh": "此期间无上传"},
    "chart.unassigned": {"en": "no account", "zh": "未分配"},
    "chart.calendar_title": {"en": "Schedule ({zone})", "zh": "发布日程（{zone}）"},
    "chart.more": {"en": "+{count} more", "zh": "另 {count} 个"},
    "weekday.0": {"en": "Mon", "zh": "周一"},
    "weekday.1": {"en": "Tue", "zh": "周二"},
    "weekday.2": {"en": "Wed", "zh": "周三"},
    "weekday.3": {"en": "Thu", "zh": "周四"},
    "weekday.4": {"en": "Fri", "zh": "周五"},
    "weekday.5": {"en": "Sat", "zh": "周六"},
    "weekday.6": {"en": "Sun", "zh": "周日"},
    # -- alerts ---------------------------------------------------------------------------------
    "alert.repeat": {
        "en": "🔁 Still going on, since {since}:",
        "zh": "🔁 仍在持续，自 {since} 起：",
    },
    "alert.error_rate.fired": {
        "en": "🚨 <b>Error rate {rate}</b> over the last {window}: {errors} of {attempts} "
        "attempts failed (the alert threshold is {threshold}).",
        "zh": "🚨 <b>错误率 {rate}</b>：最近 {window} 内 {attempts} 次尝试中有 {errors} 次失败"
        "（告警阈值 {threshold}）。",
    },
    "alert.error_rate.resolved": {
        "en": "✅ The error rate is back under {threshold} (the alert lasted {lasted}).",
        "zh": "✅ 错误率已回落到 {threshold} 以下（告警持续了 {lasted}）。",
    },
    "alert.queue_size.fired": {
        "en": "🚨 <b>{waiting} tasks are waiting</b> (the alert threshold is {threshold}). "
        "Uploads run one at a time per channel; more channels or fewer tasks shorten it.",
        "zh": "🚨 <b>{waiting} 个任务在等待</b>（告警阈值 {threshold}）。每个频道一次只上传一个，"
        "增加频道或减少任务可以缩短队列。",
    },
    "alert.queue_size.resolved": {
        "en": "✅ The queue is back under {threshold} tasks (the alert lasted {lasted}).",
        "zh": "✅ 队列已回落到 {threshold} 个任务以下（告警持续了 {lasted}）。",
    },
    "alert.account_status.fired": {
        "en": "🚨 <b>Channel {account} is {status}</b>{until}: {reason}\n{next}",
        "zh": "🚨 <b>频道 {account} 状态：{status}</b>{until}：{reason}\n{next}",
    },
    "alert.account_status.until": {"en": " until {when}", "zh": "（至 {when}）"},
    "alert.account_status.next.needs_auth": {
        "en": "Its uploads wait. An admin re-authorises it with /reauth &lt;name&gt; (or "
        "“publish-manager accounts reauth”); its tasks then go on by themselves.",
        "zh": "它的上传将暂停。请管理员用 /reauth &lt;名称&gt;（或 “publish-manager accounts "
        "reauth”）重新授权，之后任务会自动继续。",
    },
    "alert.account_status.next.rate_limited": {
        "en": "Its uploads wait until then; the other channels go on.",
        "zh": "它的上传会等到那时再继续，其他频道照常进行。",
    },
    "alert.account_status.next.suspended": {
        "en": "It starts no upload until an admin resumes it (/account &lt;name&gt; resume); "
        "new tasks go to the other channels.",
        "zh": "在管理员恢复之前（/account &lt;名称&gt; resume）它不会开始上传；"
        "新任务会发往其他频道。",
    },
    "alert.account_status.next.error": {
        "en": "Its uploads wait. Check the channel and the log.",
        "zh": "它的上传将暂停。请检查该频道和日志。",
    },
    "alert.account_status.resolved": {
        "en": "✅ Channel {account} is no longer {status} (the alert lasted {lasted}).",
        "zh": "✅ 频道 {account} 已不再是“{status}”状态（告警持续了 {lasted}）。",
    },
    "alert.quota.fired": {
        "en": "🚨 <b>Project {project} has used {percent} of its daily YouTube quota</b> "
        "({used} of {limit} units). It resets at {reset}; uploads that find it spent wait "
        "until then.",
        "zh": "🚨 <b>项目 {project} 已用掉每日 YouTube 配额的 {percent}</b>"
        "（{limit} 单位中的 {used}）。配额将于 {reset} 重置；配额用完的上传会等到那时。",
    },
    "alert.quota.resolved": {
        "en": "✅ Project {project} is back under its quota threshold "
        "(the alert lasted {lasted}).",
        "zh": "✅ 项目 {project} 的配额用量已回落到阈值以下（告警持续了 {lasted}）。",
    },
    "alert.scheduler_stuck.fired": {
        "en": "🚨 <b>Due tasks are not being started</b>: {count} waiting on idle channels, "
        "the oldest (#{task_id}) late by {late}. The engine may be stopped or stuck; "
        "check the process and its log.",
        "zh": "🚨 <b>到时间的任务没有开始</b>：{count} 个任务在空闲频道上等待，"
        "最早的（#{task_id}）已延迟 {late}。引擎可能已停止或卡住，请检查进程和日志。",
    },
    "alert.scheduler_stuck.resolved": {
        "en": "✅ Due tasks are being started again (the alert lasted {lasted}).",
        "zh": "✅ 到时间的任务已恢复启动（告警持续了 {lasted}）。",
    },
    "alert.task_failed.fired": {
        "en": "❌ <b>Task #{task_id} failed for good</b> ({account}) “{title}”: {reason}\n"
        "The file is kept; fix the problem and /publish {task_id} to try again.",
        "zh": "❌ <b>任务 #{task_id} 最终失败</b>（{account}）“{title}”：{reason}\n"
        "文件已保留；解决问题后发送 /publish {task_id} 重试。",
    },
    # -- /alerts --------------------------------------------------------------------------------
    "alerts.kind.error_rate": {"en": "error rate", "zh": "错误率"},
    "alerts.kind.queue_size": {"en": "queue size", "zh": "队列长度"},
    "alerts.kind.account_status": {"en": "channel status", "zh": "频道状态"},
    "alerts.kind.quota": {"en": "quota", "zh": "配额"},
    "alerts.kind.scheduler_stuck": {"en": "stuck scheduler", "zh": "调度停滞"},
    "alerts.kind.task_failed": {"en": "failed tasks", "zh": "失败任务"},
    "alerts.title": {
        "en": "<b>Alerts in this chat</b> (tap to mute or unmute)",
        "zh": "<b>本聊天的告警</b>（点击按钮静音或取消静音）",
    },
    "alerts.line_on": {"en": "🔔 {kind} ({code})", "zh": "🔔 {kind}（{code}）"},
    "alerts.line_off": {"en": "🔕 {kind} ({code}), muted", "zh": "🔕 {kind}（{code}），已静音"},
    "alerts.open_header": {"en": "<b>Open alerts</b>", "zh": "<b>进行中的告警</b>"},
    "alerts.open_none": {"en": "No alert is open.", "zh": "当前没有告警。"},
    "alerts.open_line": {"en": "• {kind} since {since}", "zh": "• {kind}，自 {since} 起"},
    "alerts.not_alert_chat": {
        "en": "This chat (id {chat_id}) does not receive alerts; PM_ALERT_CHAT_IDS lists the "
        "chats that do. Mutes set here apply once it does.",
        "zh": "本聊天（ID {chat_id}）不接收告警；接收告警的聊天由 PM_ALERT_CHAT_IDS 设置。"
        "在这里设置的静音会在加入后生效。",
    },
    "alerts.usage": {
        "en": "Usage: /alerts, /alerts mute &lt;kind&gt;, /alerts unmute &lt;kind&gt;; "
        "kinds: {kinds}, all",
        "zh": "用法：/alerts、/alerts mute &lt;类型&gt;、/alerts unmute &lt;类型&gt;；"
        "类型：{kinds}、all",
    },
    "alerts.bad_kind": {
        "en": "“{text}” is not a kind of alert; kinds: {kinds}, all.",
        "zh": "“{text}” 不是告警类型；类型：{kinds}、all。",
    },
    "alerts.muted": {"en": "🔕 Muted in this chat: {kinds}.", "zh": "🔕 本聊天已静音：{kinds}。"},
    "alerts.unmuted": {
        "en": "🔔 Unmuted in this chat: {kinds}.",
        "zh": "🔔 本聊天已取消静音：{kinds}。",
    },
    "alerts.button_mute": {"en": "🔕 {kind}", "zh": "🔕 {kind}"},
    "alerts.button_unmute": {"en": "🔔 {kind}", "zh": "🔔 {kind}"},
}
