"""The map's glyphs over HTTP: ``GET /glyphs/<fontstack>/<start>-<end>.pbf``.

The style's ``glyphs`` URL points here, so labels need nothing from outside the server.
The ranges are files generated at install (``etl.glyphs``, ``gridwatch etl glyphs``) in
the state directory; only a generated fontstack and a well-formed range (256 code points,
``0-255`` to ``65280-65535``) are answered, and the file's path is built from those
checked parts alone, so nothing else in the URL reaches the disk. Anything else is a
JSON 404 naming the reason. The request check in ``app.auth`` demands a session, as for
every route the map uses.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, send_file

from app.api.errors import error
from etl.glyphs import STAMP, parse_range

MIME = "application/x-protobuf"
MAX_AGE_SECONDS = 7 * 24 * 3600  # a generated set only changes with a reinstall

glyphs = Blueprint("glyphs", __name__, url_prefix="/glyphs")


def _directory() -> Path:
    return current_app.extensions["gridwatch.glyphs"]


def fontstacks(directory: Path) -> list[str]:
    """The fontstacks generated under ``directory`` (complete sets only)."""
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if (p / STAMP).is_file())


@glyphs.get("/<fontstack>/<name>.pbf")
def glyph_range(fontstack: str, name: str) -> Response | tuple[Response, int]:
    directory = _directory()
    known = fontstacks(directory)
    if fontstack not in known:
        if not known:
            return error(404, "no_glyphs", "no glyphs generated: run gridwatch etl glyphs")
        return error(
            404, "unknown_fontstack", f"no glyphs for {fontstack!r}; one of {', '.join(known)}"
        )
    start = parse_range(name)
    if start is None:
        return error(
            404,
            "unknown_range",
            f"{name!r} is not a glyph range: 256 code points, 0-255 to 65280-65535",
        )
    path = directory / fontstack / f"{start}-{start + 255}.pbf"
    if not path.is_file():
        return error(404, "unknown_range", f"range {name} was not generated")
    return send_file(path, mimetype=MIME, max_age=MAX_AGE_SECONDS, conditional=True, etag=True)


@glyphs.route("/", defaults={"rest": ""})
@glyphs.route("/<path:rest>")
def other(rest: str) -> tuple[Response, int]:
    return error(404, "unknown_glyphs", "no such glyph path; /glyphs/<fontstack>/<start>-<end>.pbf")


def install(server: Flask, directory: Path) -> None:
    """Serve the glyph set generated under ``directory``."""
    server.extensions["gridwatch.glyphs"] = directory
    server.register_blueprint(glyphs)
