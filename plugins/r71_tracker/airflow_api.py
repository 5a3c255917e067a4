"""A small client of Airflow's REST API (`/api/v2`) as the tracker's admin user.

Authentication: Airflow's SimpleAuthManager with its default user `admin` (role admin). The
api-server generates its password on first start into
`<airflow home>/simple_auth_manager_passwords.json.generated` (the file `make airflow` points
people to); the client reads it there and takes a bearer token from `POST /auth/token`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

USER = "admin"


def password_file(home: Path) -> Path:
    return home / "simple_auth_manager_passwords.json.generated"


class AirflowApi:
    """`get`/`post`/`patch` on the REST API; a new token when the old one expired."""

    def __init__(self, base_url: str, home: Path, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self.home = home
        self.client = httpx.Client(base_url=base_url, timeout=timeout, trust_env=False)
        self._token: str | None = None

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.close()

    def _password(self) -> str:
        path = password_file(self.home)
        deadline = time.monotonic() + 30  # the api-server writes it when it starts
        while True:
            try:
                return json.loads(path.read_text("utf-8"))[USER]
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no password for Airflow user {USER!r} in {path}") from None
                time.sleep(0.5)

    def _authenticate(self) -> None:
        response = self.client.post(
            "/auth/token", json={"username": USER, "password": self._password()}
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(
                f"Airflow refused the token request ({response.status_code}): {response.text[:200]}"
            )
        self._token = response.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in (1, 2):
            if self._token is None:
                self._authenticate()
            headers = {"Authorization": f"Bearer {self._token}", **kwargs.pop("headers", {})}
            response = self.client.request(method, path, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self._token = None
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            return response
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(
                f"Airflow API {method} {path}: {response.status_code} {response.text[:300]}"
            )
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._json("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._json("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self._json("PATCH", path, **kwargs)
