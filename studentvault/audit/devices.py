"""Device description from a user agent string (ua-parser, offline regexes)."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


def _version(*parts: str | None) -> str:
    return ".".join(p for p in parts if p)


@lru_cache(maxsize=2048)
def describe_device(user_agent: str) -> str:
    """A short device description, e.g. "Chrome 120 on Windows 10 (Other)"; "" for no agent."""
    if not user_agent:
        return ""
    result = parse(user_agent)
    browser = "unknown browser"
    if result.user_agent is not None:
        browser = f"{result.user_agent.family} {_version(result.user_agent.major)}".strip()
    system = "unknown system"
    if result.os is not None:
        system = f"{result.os.family} {_version(result.os.major, result.os.minor)}".strip()
    text = f"{browser} on {system}"
    if result.device is not None and result.device.family not in ("Other", ""):
        text += f" ({result.device.family})"
    return text[:200]
