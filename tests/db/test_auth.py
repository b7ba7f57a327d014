"""Sign-in, sessions, CSRF and page access on a real database and the real Flask app."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, text

from app import create_app, ids
from app.settings import Settings
from geo_data.users import (
    UserError,
    authenticate,
    check_password,
    create_user,
    hash_password,
    set_active,
)
from tests.conftest import TEST_PASSWORD

ORIGIN = "http://localhost"


@pytest.fixture
def client(settings: Settings, demo_engine: Engine, demo_users: dict) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


def sign_in(client: FlaskClient, username: str, password: str = TEST_PASSWORD, **headers: str):
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": "/map", "lang": "en"},
        headers={"Origin": ORIGIN, **headers},
    )


def page_request(pathname: str, search: str = "") -> dict:
    return {
        "output": f"{ids.PAGE}.children",
        "outputs": {"id": ids.PAGE, "property": "children"},
        "inputs": [
            {"id": ids.URL, "property": "pathname", "value": pathname},
            {"id": ids.URL, "property": "search", "value": search},
        ],
        "changedPropIds": [f"{ids.URL}.pathname"],
        "state": [],
    }


# -- passwords and users -----------------------------------------------------------------


def test_password_hash_is_salted_scrypt_and_checks() -> None:
    first, second = hash_password("a long secret"), hash_password("a long secret")
    assert first.startswith("scrypt$16384$8$1$") and first != second
    assert check_password("a long secret", first)
    assert not check_password("a long secreT", first)
    assert not check_password("a long secret", None)
    assert not check_password("a long secret", "md5$abc")


@pytest.mark.parametrize(
    ("username", "password", "role", "area", "reason"),
    [
        ("Bad Name", "long enough pw", "operator", None, "username"),
        ("system", "long enough pw", "operator", None, "username"),
        ("newuser", "short", "operator", None, "10 characters"),
        ("newuser", "long enough pw", "king", None, "unknown role"),
        ("newuser", "long enough pw", "supervisor", None, "needs an area"),
        ("newuser", "long enough pw", "supervisor", "510108", "not a district"),
        ("newuser", "long enough pw", "supervisor", "nope", "no area"),
        ("newuser", "long enough pw", "leader", "510108", "only to supervisors"),
        ("operator", "long enough pw", "operator", None, "exists already"),
    ],
)
def test_bad_users_are_refused_with_a_reason(
    demo: Connection, demo_users: dict, username, password, role, area, reason
) -> None:
    with pytest.raises(UserError, match=reason):
        create_user(demo, username, password, role, area_code=area)


def test_authenticate_only_active_users_with_the_right_password(
    demo: Connection, demo_users: dict
) -> None:
    assert authenticate(demo, "OPERATOR", TEST_PASSWORD).role == "operator"
    assert authenticate(demo, "operator", "wrong password") is None
    assert authenticate(demo, "nobody", TEST_PASSWORD) is None
    assert authenticate(demo, "system", "") is None
    set_active(demo, "operator", False)
    assert authenticate(demo, "operator", TEST_PASSWORD) is None


def test_stored_hashes_never_hold_the_password(demo: Connection, demo_users: dict) -> None:
    stored = demo.execute(text("SELECT password_hash FROM users WHERE username='leader'")).scalar()
    assert TEST_PASSWORD not in stored


# -- sign-in over HTTP -----------------------------------------------------------------


def test_pages_without_a_session_go_to_the_login_page(client: FlaskClient) -> None:
    response = client.get("/map?area=510108", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/map%3Farea%3D510108"
    login = client.get("/login?lang=en")
    assert login.status_code == 200 and "Sign in" in login.get_data(True)
    assert "http" not in login.get_data(True).replace("http-equiv", "")  # nothing remote


@pytest.mark.parametrize(
    "path", ["/_dash-layout", "/_dash-dependencies", "/live/feed?since=0", "/api/v1/cases/1"]
)
def test_data_routes_without_a_session_answer_401(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def test_callbacks_without_a_session_answer_401(client: FlaskClient) -> None:
    response = client.post("/_dash-update-component", json=page_request("/map"))
    assert response.status_code == 401


def test_sign_in_sets_a_hardened_cookie_and_opens_the_pages(client: FlaskClient) -> None:
    response = sign_in(client, "operator")
    assert response.status_code == 302 and response.headers["Location"] == "/map"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # plain HTTP here; GRIDWATCH_SECURE_COOKIES turns it on
    assert client.get("/_dash-layout").status_code == 200
    page = client.post(
        "/_dash-update-component", json=page_request("/map"), headers={"Origin": ORIGIN}
    )
    assert page.status_code == 200


def test_secure_cookies_when_configured(demo_engine: Engine, demo_users: dict) -> None:
    settings = Settings(database_url=None, port=0, secure_cookies=True)
    client = create_app(settings, engine=demo_engine).server.test_client()
    assert "Secure" in sign_in(client, "operator").headers["Set-Cookie"]


def test_wrong_password_is_refused_without_saying_which_part(client: FlaskClient) -> None:
    wrong = sign_in(client, "operator", "not the password")
    unknown = sign_in(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password" in wrong.get_data(True)
    assert "Set-Cookie" not in wrong.headers


def test_guessing_is_throttled(client: FlaskClient) -> None:
    for _ in range(10):
        assert sign_in(client, "leader", "guess guess").status_code == 401
    blocked = sign_in(client, "leader")  # even the right password, for a while
    assert blocked.status_code == 429


def test_sign_in_from_another_site_is_refused(client: FlaskClient) -> None:
    response = sign_in(client, "operator", Origin="http://evil.example")
    assert response.status_code == 403
    assert client.get("/_dash-layout").status_code == 401


def test_next_never_leaves_the_site(client: FlaskClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            "/login",
            data={"username": "operator", "password": TEST_PASSWORD, "next": target},
            headers={"Origin": ORIGIN},
        )
        assert response.headers["Location"] in ("/", "/map")
        client.post("/logout", headers={"Origin": ORIGIN})


def test_callback_from_another_origin_is_refused(client: FlaskClient) -> None:
    sign_in(client, "operator")
    for headers in ({"Origin": "http://evil.example"}, {}):
        response = client.post(
            "/_dash-update-component", json=page_request("/map"), headers=headers
        )
        assert response.status_code == 403
        assert response.get_json()["error"] == "cross_origin"


def test_logout_ends_the_session_even_for_a_copied_cookie(client: FlaskClient) -> None:
    sign_in(client, "operator")
    stolen = client.get_cookie("gridwatch_session").value
    assert client.post("/logout", headers={"Origin": ORIGIN}).status_code == 302
    client.set_cookie("gridwatch_session", stolen)
    assert client.get("/_dash-layout").status_code == 401


def test_disabling_a_user_ends_their_sessions(
    settings: Settings, demo_engine: Engine, demo_users: dict
) -> None:
    with demo_engine.begin() as conn:
        create_user(conn, "shortlived", "long enough pw", "leader")
    client = create_app(settings, engine=demo_engine).server.test_client()
    sign_in(client, "shortlived", "long enough pw")
    assert client.get("/_dash-layout").status_code == 200
    with demo_engine.begin() as conn:
        set_active(conn, "shortlived", False)
    assert client.get("/_dash-layout").status_code == 401


def test_forged_cookie_is_refused(client: FlaskClient) -> None:
    client.set_cookie("gridwatch_session", "eyJ0b2tlbiI6ImZvcmdlZCJ9.forged.signature")
    assert client.get("/_dash-layout").status_code == 401


def test_terminal_token_for_the_rest_api(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/token", json={"username": "supervisor", "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["role"] == "supervisor"
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/live/feed?since=0", headers=headers).status_code == 200
    assert (
        client.get("/live/feed?since=0", headers={"Authorization": "Bearer x"}).status_code == 401
    )
    bad = client.post("/api/v1/auth/token", json={"username": "supervisor", "password": "no"})
    assert bad.status_code == 401
    assert client.post("/api/v1/auth/token", data="[]").status_code == 400


# -- which role opens which page ---------------------------------------------------------

PAGE_MATRIX = {
    # path: roles that may open it
    "/map": {"operator", "supervisor", "community", "leader", "admin"},
    "/overview": {"operator", "leader", "admin"},
    "/ops": {"operator", "supervisor", "community", "leader"},
}


@pytest.mark.parametrize("username", ["operator", "supervisor", "community", "leader", "admin"])
@pytest.mark.parametrize("path", sorted(PAGE_MATRIX))
def test_page_access_matrix(
    client: FlaskClient, bearer: Callable[[str], dict], username: str, path: str
) -> None:
    response = client.post(
        "/_dash-update-component", json=page_request(path), headers=bearer(username)
    )
    assert response.status_code == 200
    body = json.dumps(response.get_json(), ensure_ascii=False)
    allowed = username in PAGE_MATRIX[path]
    assert ("您的角色无权查看此页面" not in body) is allowed


def test_supervisor_map_opens_on_their_street_and_refuses_others(
    client: FlaskClient, bearer: Callable[[str], dict], demo_users: dict, demo: Connection
) -> None:
    own = demo_users["supervisor"]
    other = demo.execute(
        text("SELECT code FROM areas WHERE level='street' AND id <> :i ORDER BY code LIMIT 1"),
        {"i": own.area_id},
    ).scalar()
    home = client.post(
        "/_dash-update-component", json=page_request("/map"), headers=bearer("supervisor")
    )
    body = json.dumps(home.get_json(), ensure_ascii=False)
    assert own.area_name_zh in body and '"type": "choroplethmap"' in body
    assert "成华区" not in body  # nothing above their street, not even in the breadcrumb
    for code in (other, "510108"):
        away = client.post(
            "/_dash-update-component",
            json=page_request("/map", f"?area={code}"),
            headers=bearer("supervisor"),
        )
        text_ = json.dumps(away.get_json(), ensure_ascii=False)
        assert "不在您的管辖范围内" in text_
        assert '"type": "choroplethmap"' not in text_
