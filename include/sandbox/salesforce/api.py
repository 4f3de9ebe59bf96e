"""Placeholder until the Salesforce sandbox lands: answers 501 to every API call."""

from pathlib import Path

from include.sandbox.http import ApiError, Request, Response, SandboxApi


class SalesforceApi(SandboxApi):
    name = "salesforce"

    def __init__(self, state_dir: Path, **options):
        super().__init__(state_dir)

    def handle(self, request: Request) -> Response:
        raise ApiError(501, [{"message": "not implemented yet", "errorCode": "NOT_IMPLEMENTED"}])

    def reset(self, seed: int | None) -> None:
        self.state.data.clear()
