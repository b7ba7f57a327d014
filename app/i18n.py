"""The UI's words in Chinese (default) and English; domain terms live in ``layers.labels``."""

from __future__ import annotations

from datetime import datetime

from geo_data import localtime

UI = {
    "brand": ("网格指挥中心", "Grid Command Centre"),
    "layers": ("图层", "Layers"),
    "metric": ("指标", "Metric"),
    "window": ("时间", "Window"),
    "layer_areas": ("下级区域", "Sub-areas"),
    "layer_hexes": ("案件热力", "Case density"),
    "layer_buildings": ("楼栋", "Buildings"),
    "layer_cameras": ("摄像头", "Cameras"),
    "layer_workers": ("网格员", "Workers"),
    "layer_incidents": ("未结案件", "Open cases"),
    "metric_open": ("未结", "Open"),
    "metric_overdue": ("超期", "Overdue"),
    "metric_per_1000": ("每千人", "Per 1,000"),
    "window_live": ("实时", "Live"),
    "window_24h": ("24小时", "24 h"),
    "window_7d": ("7天", "7 days"),
    "window_30d": ("30天", "30 days"),
    "open": ("未结案件", "Open cases"),
    "overdue": ("超期", "Overdue"),
    "new_today": ("今日新增", "New today"),
    "closure_rate": ("结案率", "Closure rate"),
    "on_time_rate": ("按期结案率", "On-time closure"),
    "last_30_days": ("近30天", "last 30 days"),
    "live_feed": ("实时上报", "Live reports"),
    "connecting": ("连接中", "connecting"),
    "live": ("实时", "live"),
    "offline": ("已断开", "offline"),
    "waiting_for_reports": ("等待新上报…", "Waiting for new reports…"),
    "top_categories": ("高发类别 · 近30天", "Top categories · last 30 days"),
    "ranking": ("下级排名", "Ranking"),
    "population": ("人口", "Population"),
    "area_km2": ("面积", "Area"),
    "children": ("下级", "Sub-areas"),
    "as_of": ("数据截至", "As of"),
    "beijing_time": ("北京时间", "Beijing time"),
    "no_data": ("暂无数据", "No data"),
    "back_to_default": ("返回默认区域", "Back to the default area"),
    "switch_lang": ("English", "中文"),
    "notes": ("说明", "Notes"),
    "up": ("返回上级", "Up one level"),
    "close": ("关闭", "Close"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong user name or password"),
    "login_throttled": (
        "失败次数过多，请5分钟后再试",
        "Too many failed attempts; try again in 5 minutes",
    ),
    "login_cross_site": ("请从本系统登录页登录", "Please sign in from this system's own page"),
    "forbidden_page": ("您的角色无权查看此页面", "Your role may not open this page"),
    # the wall screen
    "wall_title": ("指挥大屏", "Command wall"),
    "overdue_now": ("当前超期", "Overdue now"),
    "overdue_list": ("超期案件 · 超期最久优先", "Overdue cases · longest first"),
    "overdue_for": ("已超期", "overdue"),
    "no_overdue": ("暂无超期案件", "No overdue cases"),
    "overdue_total": ("共 {n} 件", "{n} in all"),
    "tour_whole": ("全域", "Whole area"),
    "tour_stop": ("巡览 {i}/{n}", "Tour {i}/{n}"),
    "updated_at": ("更新于 {time}", "Updated {time}"),
}


def t(key: str, lang: str) -> str:
    """The UI text for ``key`` in ``lang`` (zh or en)."""
    zh, en = UI[key]
    return en if lang == "en" else zh


def zone_label(lang: str) -> str:
    """What the times on screen are in: 北京时间 / Beijing time for Asia/Shanghai, else the
    configured zone's IANA name (``America/New_York``)."""
    return t("beijing_time", lang) if localtime.is_beijing() else localtime.ZONE_NAME


def as_of_text(moment: datetime, lang: str) -> str:
    """``数据截至 2026-11-01 20:00（北京时间）`` / ``As of 2026-11-01 20:00 (Beijing time)``."""
    stamp = f"{t('as_of', lang)} {localtime.fmt_minute(moment)}"
    if lang == "en":
        return f"{stamp} ({zone_label(lang)})"
    return f"{stamp}（{zone_label(lang)}）"
