"""Placeholder until the HubSpot sandbox lands: answers 501 to every API call."""

from pathlib import Path

from include.sandbox.http import ApiError, Request, Response, SandboxApi


class HubSpotApi(SandboxApi):
    name = "hubspot"

    def __init__(self, state_dir: Path, auto_associate: bool = True, **options):
        super().__init__(state_dir)

    def handle(self, request: Request) -> Response:
        raise ApiError(501, {"status": "error", "message": "not implemented yet", "category": "NOT_IMPLEMENTED"})

    def reset(self, seed: int | None) -> None:
        self.state.data.clear()
