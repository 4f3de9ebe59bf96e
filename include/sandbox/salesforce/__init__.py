"""The Salesforce half of the sandbox."""

from include.sandbox.salesforce.api import SalesforceApi

__all__ = ["SalesforceApi"]
