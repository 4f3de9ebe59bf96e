"""The HubSpot half of the sandbox."""

from include.sandbox.hubspot.api import HubSpotApi

__all__ = ["HubSpotApi"]
