"""Local, stateful emulations of the Salesforce REST API and the HubSpot CRM API.

`python -m include.sandbox serve` runs both; the product's connectors and the tests talk to them through
the official clients, over real sockets. Contract: README "The sandbox".
"""
