"""The editors' desk: server-rendered pages for reviewing drafts and reading the community's health.

    session.py  brand key -> signed session cookie, CSRF tokens
    i18n.py     interface sentences per language (locales/*.toml), language choice
    pages.py    what each page shows, read from the services (review, drift, vitality, spotlight)
    views.py    highlighted spans, word diffs, ages; `plain` reads dicts and pydantic models alike
    charts.py   weekly series as SVG geometry (drawn by templates/macros.html)
    routes.py   the HTTP side (the desk's only FastAPI importer), mounted by copilot.api.app
"""
