"""Airflow hook for HubSpot private apps: an official `hubspot.HubSpot` client with the project's retry policy.

The connectors build it through `HubSpotConnector.from_connection`; `plugins/hubspot_hook.py` re-exports it
for DAG authors.

Connection (type `http`):
- host: API base URL, e.g. `http://127.0.0.1:8702` for the sandbox; empty means `https://api.hubapi.com`.
  A bare host name gets `https://`; a port in the connection's port field is appended.
- password: the private app's access token (never logged).

The client is configured only through its constructor (`HubSpot(access_token=..., host=..., retry=...)`):
hubspot-api-client builds a new `ApiClient` on every property access, so settings applied afterwards
would be lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from include.company_sync.connectors.http_policy import hubspot_retry

if TYPE_CHECKING:
    from hubspot import HubSpot

DEFAULT_HOST = "https://api.hubapi.com"
# Connections kept per API client: one for each of the load's concurrent writers (`tasks.writes.WRITE_WORKERS`)
# and the extract's parallel reads. The client's default, 5 per CPU, would discard and reopen connections on
# small workers.
CONNECTION_POOL_SIZE = 16


class HubSpotHook(BaseHook):
    """Build a `hubspot.HubSpot` client from an Airflow connection.

    :param hubspot_conn_id: the connection id (default `hubspot_default`).
    :param retry: a `urllib3.Retry`; default: the project's HubSpot policy
        (`include.company_sync.connectors.http_policy.hubspot_retry()`).
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "http"
    hook_name = "HubSpot"

    def __init__(self, hubspot_conn_id: str = default_conn_name, retry: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hubspot_conn_id = hubspot_conn_id
        self._retry = retry
        self._client: HubSpot | None = None

    @staticmethod
    def host_from_connection(conn: Any) -> str:
        host = (conn.host or "").strip().rstrip("/")
        if not host:
            return DEFAULT_HOST
        if "://" not in host:
            scheme = (conn.schema or "").strip() if (conn.schema or "").strip() in ("http", "https") else "https"
            host = f"{scheme}://{host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        return host

    def get_credentials(self) -> tuple[str, str]:
        """(base URL, access token) from the connection; raises if the token is missing."""
        conn = self.get_connection(self.hubspot_conn_id)
        token = conn.password or (conn.extra_dejson or {}).get("access_token")
        if not token:
            raise ValueError(
                f"Airflow connection {self.hubspot_conn_id!r} has no HubSpot access token: "
                "put the private app's token in the connection's password"
            )
        return self.host_from_connection(conn), token

    def get_conn(self) -> HubSpot:
        """The configured client (built once per hook)."""
        if self._client is None:
            from hubspot import HubSpot

            host, token = self.get_credentials()
            retry = self._retry
            if retry is None:
                retry = hubspot_retry()
            self._client = HubSpot(
                access_token=token, host=host, retry=retry, connection_pool_maxsize=CONNECTION_POOL_SIZE
            )
        return self._client

    def test_connection(self) -> tuple[bool, str]:
        """Used by the Airflow UI's Test button: one cheap authenticated call."""
        try:
            self.get_conn().crm.owners.owners_api.get_page(limit=1, _request_timeout=(10, 30))
        except Exception as exc:  # the UI wants a message, not a traceback
            return False, str(exc)
        return True, "Connection successfully tested"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "login", "extra"],
            "relabeling": {"host": "Base URL (empty: https://api.hubapi.com)", "password": "Access token"},
        }
