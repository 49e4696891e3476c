"""Master data screens: customers and sites, vehicles and drivers, containers (with where each
stands now), materials and afvalstroomnummers, articles, and the CSV import with its error
report. ``cloud.web.install`` includes ``router`` when this package exists.

Templates are in ``templates/masterdata/``, texts in ``i18n/{nl,en}.json`` (keys
``masterdata.*`` and the flash messages ``flash.masterdata_*``), both registered here."""

from __future__ import annotations

from pathlib import Path

from cloud.permissions import Action
from cloud.web import i18n, navigation, templating
from cloud.web.masterdata import imports, pages
from cloud.web.masterdata.routing import router
from cloud.web.navigation import NavItem

HERE = Path(__file__).resolve().parent
templating.add_templates(HERE / "templates")
i18n.register(HERE / "i18n")
navigation.register(
    [*pages.PAGES, *imports.PAGES],
    [
        NavItem("masterdata.nav", "/masterdata", Action.MASTERDATA_READ, order=40),
        NavItem("masterdata.nav_import", "/masterdata/import", Action.MASTERDATA_IMPORT, order=45),
    ],
)

__all__ = ["router"]
