"""Bilingual names of the domain terms the map shows (zh default, en)."""

from __future__ import annotations

LANGS = ("zh", "en")

LEVEL = {
    "city": ("市", "City"),
    "district": ("区", "District"),
    "street": ("街道", "Street"),
    "community": ("社区", "Community"),
    "grid": ("网格", "Grid"),
    "courtyard": ("院落", "Courtyard"),
}
SEVERITY = {
    1: ("特急", "Critical"),
    2: ("紧急", "Urgent"),
    3: ("一般", "Normal"),
    4: ("轻微", "Minor"),
}
CASE_STATUS = {
    "reported": ("已上报", "Reported"),
    "accepted": ("已立案", "Accepted"),
    "dispatched": ("已派遣", "Dispatched"),
    "in_progress": ("处置中", "In progress"),
    "handled": ("已处置", "Handled"),
    "verified": ("已核查", "Verified"),
    "closed": ("已结案", "Closed"),
    "rejected": ("不予受理", "Rejected"),
    "escalated": ("已上报上级", "Escalated"),
    "reopened": ("已重办", "Reopened"),
    "merged": ("已合并", "Merged"),
}
CAMERA_TIER = {
    "district": ("区级", "District"),
    "street": ("街道级", "Street"),
    "community": ("社区级", "Community"),
    "courtyard": ("院落级", "Courtyard"),
}
CAMERA_STATUS = {
    "online": ("在线", "Online"),
    "offline": ("离线", "Offline"),
    "fault": ("故障", "Fault"),
}
WORKER_STATUS = {
    "available": ("待命", "Available"),
    "en_route": ("赶赴中", "En route"),
    "on_site": ("在现场", "On site"),
    "off_duty": ("下班", "Off duty"),
}
WORKER_TIER = {
    1: ("专职网格员", "Tier 1"),
    2: ("兼职网格员", "Tier 2"),
    3: ("网格信息员", "Tier 3"),
}
BUILDING_USE = {
    "residential": ("住宅", "Residential"),
    "commercial": ("商业", "Commercial"),
    "public": ("公共", "Public"),
    "industrial": ("工业", "Industrial"),
}
ROLE = {
    "operator": ("指挥员", "Operator"),
    "supervisor": ("街道/社区主管", "Supervisor"),
    "leader": ("领导", "Leader"),
    "admin": ("系统管理员", "Administrator"),
}
ACTION = {
    "report": ("上报", "Reported"),
    "accept": ("立案", "Accept"),
    "reject": ("不予立案", "Reject"),
    "dispatch": ("派遣", "Dispatch"),
    "reassign": ("改派", "Reassign"),
    "start": ("开始处置", "Start"),
    "handle": ("处置反馈", "Handled"),
    "verify": ("核查", "Verify"),
    "close": ("结案", "Close"),
    "reopen": ("重新办理", "Reopen"),
    "escalate": ("上报上级", "Escalate"),
    "merge": ("合并重复", "Merge"),
}
HANDLING_LEVEL = {
    "community": ("社区", "Community"),
    "street": ("街道", "Street"),
    "district": ("区", "District"),
}
METRIC = {
    "open": ("未结案件", "Open cases"),
    "overdue": ("超期案件", "Overdue cases"),
    "per_1000": ("每千人案件", "Cases per 1,000 residents"),
}
WINDOW = {
    "live": ("实时", "Live"),
    "24h": ("近24小时", "Last 24 h"),
    "7d": ("近7天", "Last 7 days"),
    "30d": ("近30天", "Last 30 days"),
}
WORDS = {
    "case": ("案件", "Case"),
    "cases": ("案件", "Cases"),
    "camera": ("摄像头", "Camera"),
    "cameras": ("摄像头", "Cameras"),
    "building": ("楼栋", "Building"),
    "buildings": ("楼栋", "Buildings"),
    "worker": ("网格员", "Worker"),
    "workers": ("网格员", "Workers"),
    "status": ("状态", "Status"),
    "tier": ("层级", "Tier"),
    "age": ("已历时", "Age"),
    "assignee": ("处置人", "Assignee"),
    "unassigned": ("未派遣", "unassigned"),
    "severity": ("等级", "Severity"),
    "due": ("时限", "Due"),
    "overdue": ("超期", "Overdue"),
    "overdue_ring": ("超期（红圈）", "Overdue (red ring)"),
    "live_new": ("新上报（实时）", "New reports (live)"),
    "reports": ("上报次数", "Reports"),
    "live_pulse": ("新上报闪烁", "New report pulse"),
    "on_time": ("未超期", "Within time"),
    "open": ("未结", "Open"),
    "in_window": ("窗口内案件", "Cases in window"),
    "per_1000": ("每千人", "Per 1,000"),
    "population": ("人口", "Population"),
    "click_to_drill": ("点击进入下一级", "Click to drill down"),
    "hexes": ("案件热力", "Case density"),
    "count": ("数量", "Count"),
    "floors": ("层数", "Floors"),
    "courtyard": ("院落", "Courtyard"),
    "none": ("无", "none"),
    "phone": ("电话", "Phone"),
    "online_share": ("离线/故障占比", "Share offline or faulty"),
    "aggregated": ("按六边形汇总", "per hexagon"),
    "by_community": ("按社区汇总", "per community"),
    "outline": ("当前区域", "Current area"),
    "use": ("用途", "Use"),
    "size_is_tier": ("大小=层级", "size = tier"),
    "days": ("天", "d"),
    "hours": ("小时", "h"),
    "total": ("合计", "Total"),
}


def label(table: dict, key: object, lang: str) -> str:
    """The name of ``key`` in ``table`` in ``lang``; the key itself when unknown."""
    names = table.get(key)
    if names is None:
        return str(key)
    return names[1] if lang == "en" else names[0]


def word(key: str, lang: str) -> str:
    return label(WORDS, key, lang)


def age_text(hours: float, lang: str) -> str:
    """``3天4小时`` / ``3d 4h``: a case's age as a duty officer reads it."""
    total = max(0, round(float(hours)))
    days, rest = divmod(total, 24)
    d, h = word("days", lang), word("hours", lang)
    sep = " " if lang == "en" else ""
    if days:
        return f"{days}{d}{sep}{rest}{h}"
    return f"{rest}{h}"
