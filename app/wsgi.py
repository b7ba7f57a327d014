"""The WSGI entry point for a production server: ``gunicorn app.wsgi:application``.

Each worker process imports this after the fork, so each builds its own app, database
pool, feed listener and SLA scheduler: every worker pushes the feed to its own
Socket.IO clients (the database's NOTIFY reaches them all, no message queue needed),
and the scheduler's row locks keep two workers from escalating one case twice.
Browsers use the websocket transport only, so a connection stays with one worker and
no sticky sessions are needed behind one port.
"""

from __future__ import annotations

from app import create_app
from app.runtime import engine_for
from app.settings import Settings

settings = Settings()
engine = engine_for(settings)
dash_app = create_app(settings, engine=engine)
application = dash_app.server

if settings.sla_enabled:
    from app.scheduler import SlaScheduler

    SlaScheduler(engine, settings).start()
