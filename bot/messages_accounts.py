"""Catalogue texts of /addaccount and /reauth: Google's device flow from the chat (HTML)."""

from __future__ import annotations

ACCOUNT_FLOW_MESSAGES: dict[str, dict[str, str]] = {
    "account_flow.unavailable": {
        "en": "Adding channels from the chat is not available in this process.",
        "zh": "此进程不支持在聊天中添加频道。",
    },
    "account_flow.unconfigured": {
        "en": "Adding channels from the chat needs a Google OAuth client of type “TVs and "
        "Limited Input devices”. Set <code>PM_GOOGLE_CLIENT_ID</code> and "
        "<code>PM_GOOGLE_CLIENT_SECRET</code> on the server and restart the bot, or add the "
        "channel on the server with <code>publish-manager accounts add youtube</code>.",
        "zh": "在聊天中添加频道需要一个类型为“电视和输入受限的设备”的 Google OAuth 客户端。"
        "请在服务器上设置 <code>PM_GOOGLE_CLIENT_ID</code> 和 "
        "<code>PM_GOOGLE_CLIENT_SECRET</code> 并重启机器人，或者在服务器上用 "
        "<code>publish-manager accounts add youtube</code> 添加频道。",
    },
    "account_flow.pending": {
        "en": "A sign-in is already waiting in this chat: open {url} and enter "
        "<code>{code}</code>. Start another one when it is done or has expired.",
        "zh": "本聊天中已有一个授权在等待：打开 {url} 并输入 <code>{code}</code>。"
        "等它完成或过期后再开始新的授权。",
    },
    "account_flow.bad_name": {
        "en": "“{text}” cannot be an account name: use at most 64 characters on one line.",
        "zh": "“{text}”不能作为账号名称：最多 64 个字符，且只能有一行。",
    },
    "account_flow.name_taken": {
        "en": "An account named <b>{name}</b> exists already. Choose another name, or renew "
        "its authorisation with /reauth {name}.",
        "zh": "已经有名为 <b>{name}</b> 的账号。请换一个名称，或用 /reauth {name} 重新授权它。",
    },
    "account_flow.reauth_usage": {
        "en": "Usage: /reauth &lt;account name&gt; (/accounts lists them).",
        "zh": "用法：/reauth &lt;账号名称&gt;（/accounts 可查看全部账号）。",
    },
    "account_flow.unknown_account": {
        "en": "No account is named <b>{name}</b>. /accounts lists them.",
        "zh": "没有名为 <b>{name}</b> 的账号。/accounts 可查看全部账号。",
    },
    "account_flow.code_add": {
        "en": "To connect a YouTube channel, open {url} on any device, sign in with the "
        "channel's Google account and enter the code\n<code>{code}</code>\n"
        "The code works for {minutes} minutes; I will say here when it is done.",
        "zh": "连接 YouTube 频道：在任意设备上打开 {url}，用该频道的 Google 账号登录，"
        "然后输入代码\n<code>{code}</code>\n代码 {minutes} 分钟内有效；完成后我会在这里告诉你。",
    },
    "account_flow.code_reauth": {
        "en": "To re-authorise <b>{name}</b>, open {url} on any device, sign in with that "
        "channel's Google account and enter the code\n<code>{code}</code>\n"
        "The code works for {minutes} minutes; I will say here when it is done.",
        "zh": "重新授权 <b>{name}</b>：在任意设备上打开 {url}，用该频道的 Google 账号登录，"
        "然后输入代码\n<code>{code}</code>\n代码 {minutes} 分钟内有效；完成后我会在这里告诉你。",
    },
    "account_flow.denied": {
        "en": "Access was refused on Google's page; nothing changed. Send the command again "
        "to start over.",
        "zh": "已在 Google 页面上拒绝授权，没有做任何更改。重新发送命令即可再试一次。",
    },
    "account_flow.expired": {
        "en": "The code {code} expired before access was allowed; nothing changed. Send the "
        "command again for a new code.",
        "zh": "代码 {code} 在授权之前已过期，没有做任何更改。重新发送命令即可获取新代码。",
    },
    "account_flow.client_refused": {
        "en": "Google refused the OAuth client ({reason}). Check "
        "<code>PM_GOOGLE_CLIENT_ID</code> and <code>PM_GOOGLE_CLIENT_SECRET</code>: the "
        "client must be of type “TVs and Limited Input devices”, in a project with "
        "YouTube Data API v3 enabled.",
        "zh": "Google 拒绝了该 OAuth 客户端（{reason}）。请检查 "
        "<code>PM_GOOGLE_CLIENT_ID</code> 和 <code>PM_GOOGLE_CLIENT_SECRET</code>："
        "客户端类型必须是“电视和输入受限的设备”，且所在项目已启用 YouTube Data API v3。",
    },
    "account_flow.failed": {
        "en": "Google ended the sign-in ({reason}); nothing changed. Send the command again "
        "to start over.",
        "zh": "Google 终止了授权（{reason}），没有做任何更改。重新发送命令即可再试一次。",
    },
    "account_flow.unreachable": {
        "en": "Google's sign-in service could not be reached; nothing changed. Try again in "
        "a moment.",
        "zh": "无法连接 Google 授权服务，没有做任何更改。请稍后再试。",
    },
    "account_flow.no_refresh_token": {
        "en": "Google allowed access but sent no refresh token, so the channel cannot be "
        "stored. Remove this app's access at https://myaccount.google.com/permissions and "
        "send /addaccount again.",
        "zh": "Google 已允许访问，但没有发送刷新令牌，因此无法保存该频道。请在 "
        "https://myaccount.google.com/permissions 移除本应用的访问权限，然后重新发送 "
        "/addaccount。",
    },
    "account_flow.no_channel": {
        "en": "The Google account that allowed access has no YouTube channel; nothing "
        "changed. Sign in with the channel's own Google account (or its brand account).",
        "zh": "授权的 Google 账号没有 YouTube 频道，没有做任何更改。"
        "请用该频道自己的 Google 账号（或品牌账号）登录。",
    },
    "account_flow.verify_failed": {
        "en": "Access was allowed, but YouTube did not accept the authorisation ({reason}); "
        "nothing changed. Send the command again to start over.",
        "zh": "已允许访问，但 YouTube 不接受该授权（{reason}），没有做任何更改。"
        "重新发送命令即可再试一次。",
    },
    "account_flow.added": {
        "en": "✅ Channel <b>{title}</b> ({channel_id}) is connected as account <b>{name}</b> "
        "(time zone {zone}). Videos can be published on it now; /accounts lists every "
        "channel.",
        "zh": "✅ 频道 <b>{title}</b>（{channel_id}）已连接，账号名称为 <b>{name}</b>"
        "（时区 {zone}）。现在可以向它发布视频；/accounts 可查看全部频道。",
    },
    "account_flow.already_connected": {
        "en": "Channel <b>{title}</b> is already connected as <b>{name}</b>; nothing changed. "
        "To renew its authorisation, use /reauth {name}.",
        "zh": "频道 <b>{title}</b> 已作为 <b>{name}</b> 连接，没有做任何更改。"
        "如需重新授权，请使用 /reauth {name}。",
    },
    "account_flow.other_channel": {
        "en": "⚠️ Refused: access was allowed for channel {got}, but <b>{name}</b> is channel "
        "{expected}. Nothing changed. Send /reauth {name} again and sign in with the Google "
        "account of {expected}.",
        "zh": "⚠️ 已拒绝：授权的是频道 {got}，而 <b>{name}</b> 是频道 {expected}。"
        "没有做任何更改。请重新发送 /reauth {name}，并用 {expected} 的 Google 账号登录。",
    },
    "account_flow.reauthorised": {
        "en": "✅ <b>{name}</b> ({title}) is re-authorised and active; its held tasks go on now.",
        "zh": "✅ <b>{name}</b>（{title}）已重新授权并恢复可用；暂停的任务现在继续。",
    },
    "account_flow.reauthorised_kept": {
        "en": "✅ <b>{name}</b> ({title}) is active. Google sent no new refresh token, so the "
        "stored one, which still works, is kept; its held tasks go on now.",
        "zh": "✅ <b>{name}</b>（{title}）已恢复可用。Google 没有发送新的刷新令牌，"
        "因此保留了仍然有效的原令牌；暂停的任务现在继续。",
    },
    "account_flow.kept_token_stale": {
        "en": "Google allowed access but sent no new refresh token, and the stored one of "
        "<b>{name}</b> no longer works; nothing changed. Remove this app's access at "
        "https://myaccount.google.com/permissions and send /reauth {name} again.",
        "zh": "Google 已允许访问，但没有发送新的刷新令牌，而 <b>{name}</b> 保存的令牌已失效，"
        "没有做任何更改。请在 https://myaccount.google.com/permissions "
        "移除本应用的访问权限，然后重新发送 /reauth {name}。",
    },
}
