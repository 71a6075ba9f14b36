"""Every business rule lives here. Nothing in this package reads the request, the session or
current_user: callers pass the acting user (`actor=`) and the time (`now=`)."""
