"""The live-query results websocket (fleet-protocol §4.5).

Message order, as Fleet's: the client sends `auth` with its bearer token, then
`select_campaign`; only then does the socket join the campaign's group. The server answers
with `totals`, `status` (re-evaluated every 5 s) and one `result` per host answer; failures are
`error` frames. Results already received when the socket joins are replayed first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from accounts import tokens
from accounts.models import User
from fleetsite.lib.db import atomic_with_retry
from queries import campaigns, live
from queries.choices import CampaignStatus
from queries.models import Campaign

logger = logging.getLogger(__name__)

STATUS_INTERVAL = 5.0
# Stored results are polled this often: the channel layer may drop messages in a burst.
CATCH_UP_INTERVAL = 2.0
# A stored result younger than this is left to the channel layer, which delivers it in milliseconds.
SETTLE_SECONDS = 1.0
# How late a check-in may commit its result and still be found below the poll's position: far
# beyond any transaction (MySQL gives up on a lock after 50 s), and it bounds what is read again.
LATE_SECONDS = 60.0
# A burst of answers would otherwise send one status frame per result.
STATUS_MIN_GAP = 0.5
MAX_MESSAGE = 8096  # §4.5: the largest inbound message

# Close codes: 4401 unauthenticated, 4400 a protocol error by the client (or a campaign it may not see).
CLOSE_UNAUTHORIZED, CLOSE_BAD_REQUEST = 4401, 4400


class ResultsConsumer(AsyncWebsocketConsumer):
    """Streams one campaign's results to the user who started it."""

    user: User | None = None
    campaign: Campaign | None = None

    async def connect(self) -> None:
        live.register_loop(asyncio.get_running_loop())
        self.user, self.campaign = None, None
        self.seen_hosts: set[int | None] = set()
        self.expected = 0
        self.last_status: dict[str, Any] | None = None
        self.last_totals: dict[str, int] | None = None
        self.ticker: asyncio.Task | None = None
        self.last_result_id = 0
        self.positions: deque[tuple[float, int]] = deque()  # (loop time, last_result_id) after each poll
        self.last_status_at = 0.0
        await self.accept()

    async def send_frame(self, frame_type: str, data: Any) -> None:
        # orjson: result frames carry every row a host returned, often hundreds.
        await self.send(text_data=orjson.dumps({"type": frame_type, "data": data}).decode())

    async def fail(self, message: str, code: int) -> None:
        await self.send_frame("error", message)
        await self.close(code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw) > MAX_MESSAGE:
            await self.fail(f"message larger than {MAX_MESSAGE} bytes", CLOSE_BAD_REQUEST)
            return
        try:
            message = json.loads(raw)
        except ValueError:
            await self.fail("message is not valid JSON", CLOSE_BAD_REQUEST)
            return
        if not isinstance(message, dict):
            await self.fail("message must be a JSON object", CLOSE_BAD_REQUEST)
            return
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        if self.user is None:
            await self._authenticate(message.get("type"), data)
        elif self.campaign is None:
            await self._select(message.get("type"), data)
        else:
            await self.send_frame("error", "unexpected message: the campaign is already selected")

    async def _authenticate(self, message_type: Any, data: dict[str, Any]) -> None:
        if message_type != "auth":
            await self.fail("expected auth", CLOSE_UNAUTHORIZED)
            return
        token = data.get("token")
        if isinstance(token, str) and token:
            resolved = await database_sync_to_async(tokens.resolve)(token)
            self.user = resolved.user if resolved is not None else None
        else:
            # The admin UI's own pages: the login session (origin-checked in fleetsite.routing).
            self.user = await database_sync_to_async(_session_user)(self.scope)
        if self.user is None:
            await self.fail("unauthorized", CLOSE_UNAUTHORIZED)

    async def _select(self, message_type: Any, data: dict[str, Any]) -> None:
        if message_type != "select_campaign":
            await self.fail("expected select_campaign", CLOSE_BAD_REQUEST)
            return
        campaign_id = data.get("campaign_id")
        if isinstance(campaign_id, bool) or not isinstance(campaign_id, int) or campaign_id <= 0:
            await self.fail(f"{campaign_id} is not a valid campaign ID", CLOSE_BAD_REQUEST)
            return
        campaign = await database_sync_to_async(Campaign.objects.filter(pk=campaign_id).first)()
        if campaign is None or self.user is None or campaign.user_id != self.user.pk:
            # Another user's campaign looks missing, as in the REST API: ids cannot be probed.
            await self.fail(f"cannot find campaign for ID {campaign_id}", CLOSE_BAD_REQUEST)
            return
        # Join first, then replay what is stored, so no result falls between the two.
        self.campaign = campaign
        await self.channel_layer.group_add(live.group_name(campaign.pk), self.channel_name)
        await database_sync_to_async(_mark_running)(campaign)
        totals = await database_sync_to_async(campaigns.totals)(campaign)
        self.expected = totals["online"]
        await self._send_totals(totals)
        await self._catch_up(settled=False)
        await self._send_status()
        self.ticker = asyncio.create_task(self._tick())

    async def campaign_result(self, event: dict[str, Any]) -> None:
        """A result published by whichever process received the host's answer: its frame as JSON text.

        During a rolling deploy a process from before 893e7e7 may still publish the result itself
        (`data`, no `frame`): it is sent as well, rather than ending this socket with a KeyError.
        """
        frame = event.get("frame")
        if frame is None:
            payload = event.get("data")
            if isinstance(payload, dict):
                await self._send_result(payload)
        elif self._first_from(event.get("host_id")):
            await self.send(text_data=frame)
        await self._send_status()

    async def _send_result(self, frame: dict[str, Any]) -> None:
        if self._first_from(frame.get("host", {}).get("id")):
            await self.send_frame("result", frame)

    def _first_from(self, host_id: int | None) -> bool:
        """Whether this is the host's first result here (a result can be replayed and published both)."""
        if host_id in self.seen_hosts:
            return False
        self.seen_hosts.add(host_id)
        return True

    async def _send_totals(self, totals: dict[str, int]) -> None:
        if totals != self.last_totals:
            self.last_totals = totals
            await self.send_frame("totals", totals)

    async def _send_status(self) -> None:
        """The status frame when it changed: at most every half second, and always when finished."""
        actual = len(self.seen_hosts)
        finished = actual >= self.expected
        status = {
            "expected_results": self.expected,
            "actual_results": actual,
            "status": "finished" if finished else "pending",
        }
        now = asyncio.get_running_loop().time()
        if status == self.last_status or (not finished and now - self.last_status_at < STATUS_MIN_GAP):
            return
        self.last_status, self.last_status_at = status, now
        await self.send_frame("status", status)

    async def _catch_up(self, settled: bool = True) -> None:
        """Send stored results this socket has not seen (joined late, or the layer dropped them).

        `settled`: only results stored a while ago; younger ones are still coming through the layer.
        """
        settled_before = timezone.now() - timedelta(seconds=SETTLE_SECONDS) if settled else None
        frames, self.last_result_id = await database_sync_to_async(campaigns.stored_frames)(
            self.campaign, self.last_result_id, frozenset(self.seen_hosts), settled_before=settled_before
        )
        now = asyncio.get_running_loop().time()
        self.positions.append((now, self.last_result_id))
        # Kept back to the last position older than LATE_SECONDS: where `_catch_up_late` starts.
        while len(self.positions) > 1 and self.positions[1][0] <= now - LATE_SECONDS:
            self.positions.popleft()
        for frame in frames:
            await self._send_result(frame)

    async def _catch_up_late(self) -> None:
        """Send results stored below the poll's position by check-ins that committed late, while hosts are missing."""
        if not self.last_result_id or len(self.seen_hosts) >= self.expected:
            return
        # Above where the poll stood LATE_SECONDS ago: older results are all in, and sent.
        since, position = self.positions[0]
        floor = position if since <= asyncio.get_running_loop().time() - LATE_SECONDS else 0
        frames = await database_sync_to_async(campaigns.late_frames)(
            self.campaign, floor, self.last_result_id, frozenset(self.seen_hosts)
        )
        for frame in frames:
            await self._send_result(frame)

    async def _tick(self) -> None:
        """§4.5: totals and status every 5 seconds; stored results every 2."""
        elapsed = 0.0
        while True:
            await asyncio.sleep(CATCH_UP_INTERVAL)
            elapsed += CATCH_UP_INTERVAL
            if self.campaign is None:
                return
            try:
                await self._catch_up()
                if elapsed >= STATUS_INTERVAL:
                    elapsed = 0.0
                    await self._catch_up_late()
                    await self._send_totals(await database_sync_to_async(campaigns.totals)(self.campaign))
                await self._send_status()
            except Exception:
                logger.exception("campaign %s status update failed", self.campaign.pk)

    async def disconnect(self, code: int) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
        if self.campaign is None:
            return
        await self.channel_layer.group_discard(live.group_name(self.campaign.pk), self.channel_name)
        await database_sync_to_async(_close_campaign)(self.campaign)


def _same_origin(scope: dict[str, Any]) -> bool:
    """The page that opened the socket is served by this host (the Origin's host is the Host header)."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    origin, host = headers.get("origin", ""), headers.get("host", "")
    return bool(origin and host) and urlsplit(origin).netloc.lower() == host.lower()


def _session_user(scope: dict[str, Any]) -> User | None:
    """The logged-in UI user, for sockets opened by our own pages only."""
    user = scope.get("user")
    if user is None or not user.is_authenticated or user.api_only or not _same_origin(scope):
        return None
    return user


def _mark_running(campaign: Campaign) -> None:
    atomic_with_retry(
        lambda: Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.WAITING).update(
            status=CampaignStatus.RUNNING, updated_at=timezone.now()
        )
    )


def _close_campaign(campaign: Campaign) -> None:
    """§4.5: closing the socket completes the campaign, unless it was asked to stay open."""
    campaign.refresh_from_db(fields=["keep_open_until"])
    if campaign.keep_open_until and campaign.keep_open_until > timezone.now():
        return
    campaigns.stop(campaign)
