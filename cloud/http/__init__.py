"""Request plumbing shared by the JSON API (``cloud.api``) and the web pages (``cloud.web``):
the request's database session, the settings, the caller and the permission check. Neither of
those two packages imports the other; both import this."""
