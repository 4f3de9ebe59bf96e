"""Salesforce and HubSpot I/O through the official clients (simple-salesforce via Airflow's
`SalesforceHook`, and hubspot-api-client via `connectors.hubspot_hook.HubSpotHook`).

Connectors read into pandas frames and write per-record results back as frames; they never decide what
to sync (that is the engine's job). Heavy client imports happen inside the modules, not here.
"""
