"""Bench-only Django settings and routes for bench/bench_api.py (never packaged, never served
by `studentvault serve`: bench/ is outside the installed packages)."""
