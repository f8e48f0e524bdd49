"""Staff web UI: server-rendered pages (htmx where it helps), served over HTTPS only."""
