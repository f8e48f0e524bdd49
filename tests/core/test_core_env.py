"""Settings readers fail clearly on values they cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from studentvault.core.env import ConfigurationError, env_bool, env_int, env_list, env_str


def test_env_readers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SV_FLAG", "Yes")
    assert env_bool("SV_FLAG") is True
    monkeypatch.setenv("SV_FLAG", "maybe")
    with pytest.raises(ConfigurationError, match="SV_FLAG"):
        env_bool("SV_FLAG")
    monkeypatch.setenv("SV_N", "12")
    assert env_int("SV_N", 3) == 12
    with pytest.raises(ConfigurationError, match="at least 20"):
        env_int("SV_N", 3, minimum=20)
    monkeypatch.setenv("SV_N", "twelve")
    with pytest.raises(ConfigurationError, match="whole number"):
        env_int("SV_N", 3)
    monkeypatch.setenv("SV_LIST", "a, b,,c")
    assert env_list("SV_LIST") == ["a", "b", "c"]
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    monkeypatch.setenv("SV_SECRET", "from-env")
    monkeypatch.setenv("SV_SECRET_FILE", str(secret))
    assert env_str("SV_SECRET") == "from-file"
