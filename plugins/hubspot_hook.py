"""The HubSpot hook for DAG authors: `from hubspot_hook import HubSpotHook` (Airflow puts `plugins/` on
`sys.path`). The hook itself lives in `include/company_sync/connectors/hubspot_hook.py`.

Nothing to register: Airflow 3 takes connection types and hooks from providers only (`AirflowPlugin` has no
`hooks` since Airflow 2.0), so the HubSpot connection keeps the generic type `http`, with the token in its
password (see `airflow_settings.yaml`).
"""

from include.company_sync.connectors.hubspot_hook import DEFAULT_HOST, HubSpotHook

__all__ = ["DEFAULT_HOST", "HubSpotHook"]
