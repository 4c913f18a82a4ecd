"""The workbench's page modules by name (the app's menu); importing this loads them all."""

from __future__ import annotations

from ui.views import alerts, assign, batch, challenges, dashboard, listings, pipeline, queue

PAGES = {"queue": queue, "pipeline": pipeline, "listings": listings, "challenges": challenges,
         "dashboard": dashboard, "assign": assign, "alerts": alerts, "batch": batch}
