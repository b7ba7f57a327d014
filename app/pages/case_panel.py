"""The case panel: one case's facts, timeline, merged reports, nearest workers and
cameras, and the actions this user may take. A pure function of what the store returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dash import dcc, html
from dash.development.base_component import Component

from app import ids
from app.privacy import mask_name, mask_phone
from geo_data import localtime
from geo_data.catalogue import CHANNELS
from geo_data.dispatch import CaseDetail, MergedReport, NearbyCamera, NearbyWorker, TimelineEntry
from layers.labels import (
    ACTION,
    CAMERA_STATUS,
    CAMERA_TIER,
    CASE_STATUS,
    HANDLING_LEVEL,
    SEVERITY,
    WORKER_STATUS,
    WORKER_TIER,
    label,
)

PRIMARY = ("accept", "dispatch", "start", "handle", "verify", "close")
DANGER = ("reject", "reopen", "escalate", "merge")

WORDS = {
    "case_panel": ("案件详情", "Case"),
    "reported_at": ("上报时间", "Reported"),
    "due_at": ("处置时限", "Due"),
    "overdue": ("已超期", "Overdue"),
    "level": ("处置层级", "Handled at"),
    "where": ("位置", "Where"),
    "reporter": ("上报人", "Reporter"),
    "channel": ("渠道", "Channel"),
    "assignee": ("处置人", "Assignee"),
    "reports": ("上报次数", "Reports"),
    "timeline": ("办理记录", "Timeline"),
    "merged": ("合并的重复上报", "Merged reports"),
    "workers": ("附近网格员（可派遣）", "Nearest available workers"),
    "cameras": ("附近摄像头", "Nearest cameras"),
    "actions": ("处置操作", "Actions"),
    "note": ("处置意见", "Note"),
    "note_hint": ("填写处置意见（驳回、反馈、重办、上报、强制结案时必填）",
                  "Write a note (required to reject, hand back, reopen, escalate or "
                  "close without the resident)"),
    "confirmed": ("居民已确认满意", "Resident confirmed satisfaction"),
    "confirm_channel": ("确认渠道", "Confirmed via"),
    "duplicate_of": ("合并到案件编号", "Merge into case no."),
    "no_actions": ("您的角色在此状态下无可用操作", "No actions for your role in this state"),
    "no_workers": ("附近暂无可派遣的网格员", "No available worker nearby"),
    "load": ("在办", "open"),
    "stream": ("视频流", "Stream"),
    "no_stream": ("离线环境：暂无实时画面，可在视频平台中按编号调阅",
                  "Closed network: no live picture here; open it in the video platform by code"),
    "none": ("无", "none"),
    "satisfied": ("满意度", "Satisfaction"),
    "yes": ("满意", "satisfied"),
    "no": ("不满意", "not satisfied"),
}  # fmt: skip


def w(key: str, lang: str) -> str:
    zh, en = WORDS[key]
    return en if lang == "en" else zh


@dataclass(frozen=True)
class PanelData:
    """What the panel shows, as the store returned it (personal data not yet masked)."""

    case: CaseDetail
    timeline: list[TimelineEntry]
    merged: list[MergedReport]
    workers: list[NearbyWorker]
    cameras: list[NearbyCamera]
    actions: list[str]
    personal: bool  # may this user see phones and names


def when(value: datetime | None, lang: str) -> str:
    if value is None:
        return "—"
    if lang == "en":
        return localtime.fmt_minute(value)
    return f"{localtime.local(value):%m月%d日 %H:%M}"


def distance(metres: float) -> str:
    return f"{metres:,.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def _fact(title: str, value: Component | str) -> html.Div:
    return html.Div([html.Dt(title), html.Dd(value)], className="gw-fact")


def case_panel(data: PanelData, lang: str) -> html.Div:
    """The whole panel for one case."""
    case = data.case
    return html.Div(
        [
            dcc.Store(id=ids.CASE_VERSION, data=case.version),
            _head(case, lang),
            _facts(data, lang),
            _actions(data, lang),
            _section(w("workers", lang), _workers(data, lang)),
            _section(w("cameras", lang), _cameras(data.cameras, lang)),
            _section(w("timeline", lang), _timeline(data.timeline, lang)),
            _section(
                f"{w('merged', lang)} · {len(data.merged)}",
                _merged(data.merged, lang),
            )
            if data.merged
            else None,
        ],
        className="gw-case",
    )


def _head(case: CaseDetail, lang: str) -> html.Div:
    name = case.category_en if lang == "en" else case.category_zh
    badges = [
        html.Span(
            f"{case.severity} {label(SEVERITY, case.severity, lang)}",
            className=f"gw-pill sev-{case.severity}",
        ),
        html.Span(label(CASE_STATUS, case.status, lang), className=f"gw-pill st-{case.status}"),
    ]
    if case.overdue:
        badges.append(html.Span(w("overdue", lang), className="gw-pill gw-pill-alert"))
    return html.Div(
        [
            html.Span(f"#{case.id}", className="gw-case-id"),
            html.H2(name, className="gw-case-title"),
            html.Div(badges, className="gw-pills"),
            html.P(case.description, className="gw-case-desc") if case.description else None,
        ],
        className="gw-case-head",
    )


def _where(case: CaseDetail, lang: str) -> str:
    parts = [case.street, case.community, case.grid, case.courtyard]
    return " › ".join((p[1] if lang == "en" else p[0]) for p in parts if p)


def _facts(data: PanelData, lang: str) -> html.Dl:
    case = data.case
    name = case.reporter_name if data.personal else mask_name(case.reporter_name)
    phone = case.reporter_phone if data.personal else mask_phone(case.reporter_phone)
    reporter = " ".join(p for p in (name, phone) if p) or "—"
    assignee = case.assignee_name or "—"
    if case.assignee_phone:
        assignee += " " + (
            case.assignee_phone if data.personal else mask_phone(case.assignee_phone)
        )
    channel = next((c for c in CHANNELS if c.code == case.channel), None)
    facts = [
        _fact(w("reported_at", lang), when(case.reported_at, lang)),
        _fact(
            w("due_at", lang),
            html.Span(when(case.due_at, lang), className="gw-late" if case.overdue else ""),
        ),
        _fact(w("level", lang), label(HANDLING_LEVEL, case.handling_level, lang)),
        _fact(w("where", lang), _where(case, lang)),
        _fact(
            w("channel", lang),
            (channel.name_en if lang == "en" else channel.name_zh) if channel else case.channel,
        ),
        _fact(w("reporter", lang), reporter),
        _fact(w("assignee", lang), assignee),
        _fact(w("reports", lang), str(case.report_count)),
    ]
    if case.satisfied is not None:
        facts.append(_fact(w("satisfied", lang), w("yes" if case.satisfied else "no", lang)))
    return html.Dl(facts, className="gw-facts")


def _section(title: str, body: Component) -> html.Section:
    return html.Section([html.H3(title), body], className="gw-case-section")


def _actions(data: PanelData, lang: str) -> html.Section:
    """The action buttons this user may use, and the inputs they need (always rendered,
    so the action callback's inputs exist; those not needed now are hidden)."""
    allowed = data.actions
    buttons = [
        html.Button(
            label(ACTION, action, lang),
            id={"type": ids.CASE_ACTION, "action": action},
            className="gw-act " + ("gw-act-primary" if action in PRIMARY else "gw-act-secondary"),
            n_clicks=0,
        )
        for action in allowed
    ]
    channels = [
        {"label": c.name_en if lang == "en" else c.name_zh, "value": c.code} for c in CHANNELS
    ]
    hidden = {"display": "none"}
    return html.Section(
        [
            html.H3(w("actions", lang)),
            html.Div(buttons or w("no_actions", lang), className="gw-act-row"),
            html.Div(
                [
                    dcc.Textarea(
                        id=ids.CASE_NOTE,
                        placeholder=w("note_hint", lang),
                        maxLength=2000,
                        className="gw-note",
                    ),
                    html.Div(
                        [
                            dcc.Checklist(
                                id=ids.CASE_CONFIRMED,
                                options=[{"label": w("confirmed", lang), "value": "yes"}],
                                value=[],
                                className="gw-confirm",
                            ),
                            dcc.Dropdown(
                                id=ids.CASE_CHANNEL,
                                options=channels,
                                value="hotline",
                                clearable=False,
                                placeholder=w("confirm_channel", lang),
                                className="gw-confirm-channel",
                            ),
                        ],
                        className="gw-confirm-row",
                        style=None if "close" in allowed else hidden,
                    ),
                    html.Label(
                        [
                            w("duplicate_of", lang),
                            dcc.Input(
                                id=ids.CASE_DUPLICATE, type="number", min=1, className="gw-dup"
                            ),
                        ],
                        className="gw-dup-row",
                        style=None if "merge" in allowed else hidden,
                    ),
                ],
                className="gw-act-form",
                style=None if allowed else hidden,
            ),
            html.Div(id=ids.CASE_FEEDBACK, className="gw-feedback", role="status"),
        ],
        className="gw-case-section gw-case-actions",
    )


def _workers(data: PanelData, lang: str) -> Component:
    options = [
        {
            "label": html.Span(
                [
                    html.Span(worker.name, className="gw-w-name"),
                    html.Span(label(WORKER_TIER, worker.tier, lang), className="gw-w-tier"),
                    html.Span(distance(worker.distance_m), className="gw-w-dist"),
                    html.Span(f"{w('load', lang)} {worker.open_load}", className="gw-w-load"),
                    html.Span(
                        worker.phone if data.personal else mask_phone(worker.phone) or "",
                        className="gw-w-phone",
                    ),
                ],
                className="gw-w",
            ),
            "value": worker.id,
        }
        for worker in data.workers
    ]
    if not options:
        return html.Div(
            [
                html.P(w("no_workers", lang), className="gw-muted"),
                dcc.RadioItems(id=ids.CASE_WORKER, options=[], value=None),
            ]
        )
    return dcc.RadioItems(
        id=ids.CASE_WORKER,
        options=options,
        value=data.workers[0].id,  # the nearest is suggested
        className="gw-workers",
    )


def _cameras(cameras: list[NearbyCamera], lang: str) -> html.Ul:
    rows = []
    for camera in cameras:
        body = (
            html.Code(camera.stream_url)
            if camera.stream_url
            else html.Div(w("no_stream", lang), className="gw-snapshot")
        )
        rows.append(
            html.Li(
                html.Details(
                    [
                        html.Summary(
                            [
                                html.Span(camera.name or camera.code, className="gw-c-name"),
                                html.Span(label(CAMERA_TIER, camera.tier, lang)),
                                html.Span(
                                    label(CAMERA_STATUS, camera.status, lang),
                                    className=f"gw-cam-{camera.status}",
                                ),
                                html.Span(distance(camera.distance_m), className="gw-w-dist"),
                            ]
                        ),
                        html.Div(
                            [html.Span(f"{w('stream', lang)}: {camera.code}"), body],
                            className="gw-cam-body",
                        ),
                    ]
                )
            )
        )
    return html.Ul(rows, className="gw-cameras")


def _timeline(events: list[TimelineEntry], lang: str) -> html.Ol:
    items = []
    for event in events:
        change = ""
        if event.to_status and event.from_status != event.to_status:
            change = f"{label(CASE_STATUS, event.from_status, lang) if event.from_status else ''}"
            change += f" → {label(CASE_STATUS, event.to_status, lang)}"
        items.append(
            html.Li(
                [
                    html.Div(
                        [
                            html.Span(label(ACTION, event.action, lang), className="gw-t-action"),
                            html.Span(when(event.at, lang), className="gw-t-time"),
                        ],
                        className="gw-t-head",
                    ),
                    html.Div(f"{event.actor_name} · {change}".rstrip(" ·"), className="gw-t-who"),
                    html.Div(event.note, className="gw-t-note") if event.note else None,
                ],
                className=f"gw-t gw-t-{event.action}",
            )
        )
    return html.Ol(items, className="gw-timeline")


def _merged(merged: list[MergedReport], lang: str) -> html.Ul:
    names = {c.code: (c.name_en if lang == "en" else c.name_zh) for c in CHANNELS}
    return html.Ul(
        [
            html.Li(
                [
                    html.Span(f"#{m.id}", className="gw-case-id"),
                    html.Span(names.get(m.channel, m.channel)),
                    html.Span(when(m.reported_at, lang), className="gw-t-time"),
                    html.Div(m.description, className="gw-t-note") if m.description else None,
                ]
            )
            for m in merged
        ],
        className="gw-merged",
    )


def status_label(status: str, lang: str) -> str:
    return label(CASE_STATUS, status, lang)


def worker_status_label(status: str, lang: str) -> str:
    return label(WORKER_STATUS, status, lang)
