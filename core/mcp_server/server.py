"""The MCP server (the SDK's low-level ``Server``): tools, resources and run subscriptions.

The low-level server, not ``MCPServer``, because only it takes a ``resources/subscribe``
handler; the tools' schemas come from their pydantic argument models instead.

Subscriptions both ways the protocol has them: ``resources/subscribe`` (handshake-era
clients; updates go out on the connection's standalone stream until it closes or the client
unsubscribes) and ``subscriptions/listen`` (2026-07-28 clients; updates ride the listen
stream). Either way a subscription to another tenant's run is refused or left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    EmptyResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    TextContent,
    TextResourceContents,
    Tool,
    ToolAnnotations,
    UnsubscribeRequestParams,
)

from core.auth.keys import Identity
from core.errors import BatonError
from core.mcp_server import resources
from core.mcp_server.auth import IdentityOf, Refused
from core.mcp_server.tools import TOOLS, ToolFailure, call_tool
from core.runs.notify import Subscription
from core.runs.service import RunStore

log = logging.getLogger(__name__)
NAME = "baton"
VERSION = "0.1.0"
INSTRUCTIONS = (
    "Baton runs work toward a goal and outlive the conversation. start_run starts one; "
    "follow it with get_run or by subscribing to baton://runs/{run_id} (or its /events); a run "
    "that waits for approval is decided with approve or deny."
)
_WATCHES = "baton_run_watches"
MAX_WATCHES = 100
"""Resource subscriptions one connection (or one listen stream) may hold."""

StoreOf = Callable[[], RunStore]


class BatonMcp:
    """The handlers, bound to a way of reaching the store and of knowing the caller."""

    def __init__(self, store_of: StoreOf, identity_of: IdentityOf) -> None:
        self.store_of = store_of
        self.identity_of = identity_of

    def server(self) -> Server[Any]:
        """A low-level MCP server with these handlers."""
        return Server(
            NAME,
            version=VERSION,
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_resources=self.list_resources,
            on_list_resource_templates=self.list_resource_templates,
            on_read_resource=self.read_resource,
            on_subscribe_resource=self.subscribe,
            on_unsubscribe_resource=self.unsubscribe,
            on_subscriptions_listen=self.listen,
        )

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        """Every tool with its argument schema."""
        return ListToolsResult(
            tools=[
                Tool(
                    name=t.name,
                    description=t.description,
                    input_schema=t.args.model_json_schema(),
                    annotations=ToolAnnotations(
                        read_only_hint=t.read_only,
                        destructive_hint=t.destructive,
                        open_world_hint=False,
                    ),
                )
                for t in TOOLS.values()
            ]
        )

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult:
        """Run a tool as the caller; a refusal is a tool error with the REST API's reason."""
        try:
            who = self.identity_of(ctx)
            data = await anyio.to_thread.run_sync(
                call_tool, self.store_of(), who, params.name, dict(params.arguments or {})
            )
        except (ToolFailure, Refused) as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(data))], structured_content=data
        )

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        """The caller's newest runs."""
        who = self._caller(ctx)
        found = await anyio.to_thread.run_sync(resources.listing, self.store_of(), who)
        return ListResourcesResult(resources=found)

    async def list_resource_templates(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        """The run, events and artifacts URI templates."""
        return ListResourceTemplatesResult(resource_templates=resources.TEMPLATES)

    async def read_resource(
        self, ctx: ServerRequestContext[Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult:
        """One run resource, in the caller's scope."""
        who = self._caller(ctx)
        ref = self._parse(params.uri)
        try:
            text = await anyio.to_thread.run_sync(resources.read, self.store_of(), who, ref)
        except BatonError as exc:
            raise _not_found(params.uri, exc.message) from None
        return ReadResourceResult(
            contents=[TextResourceContents(uri=params.uri, mime_type=resources.MIME, text=text)]
        )

    async def subscribe(
        self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        """Send ``notifications/resources/updated`` for ``uri`` whenever its run changes."""
        uri = params.uri
        run_id = await self._owned_run(ctx, uri)
        connection = _connection(ctx)
        watches = _watches(connection)
        if uri not in watches:
            if len(watches) >= MAX_WATCHES:
                raise MCPError(INVALID_PARAMS, f"at most {MAX_WATCHES} subscriptions at once")
            # Subscribed before answering: a change right after the answer is announced.
            sub = await resources.subscribe(self.store_of(), run_id)
            if uri in watches:  # a concurrent subscribe to the same URI got there first
                sub.close()
                return EmptyResult()
            notify = functools.partial(connection.send_resource_updated, uri)
            task = asyncio.create_task(resources.forward(sub, notify), name=f"mcp watch {uri}")
            watches[uri] = _Watch(sub, task)
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        """Stop the updates of ``uri`` (nothing to do when there were none)."""
        watch = _watches(_connection(ctx)).pop(params.uri, None)
        if watch is not None:
            watch.stop()
        return EmptyResult()

    async def listen(
        self, ctx: ServerRequestContext[Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        """A listen stream of the caller's own runs' updates; other URIs are not honored."""
        asked = params.notifications.resource_subscriptions or []
        if len(asked) > MAX_WATCHES:
            raise MCPError(INVALID_PARAMS, f"at most {MAX_WATCHES} subscriptions at once")
        owned: dict[str, str] = {}
        for uri in asked:
            with contextlib.suppress(MCPError):
                owned[uri] = await self._owned_run(ctx, uri)
        narrowed = params.model_copy(
            update={
                "notifications": params.notifications.model_copy(
                    update={"resource_subscriptions": list(owned) or None}
                )
            }
        )
        bus = InMemorySubscriptionBus()
        store = self.store_of()
        subs: dict[str, Subscription] = {}
        try:
            # Subscribed before the acknowledgement: a change right after it is announced.
            for uri, run_id in owned.items():
                subs[uri] = await resources.subscribe(store, run_id)
            async with anyio.create_task_group() as tg:
                for uri, sub in subs.items():
                    publish = functools.partial(bus.publish, ResourceUpdated(uri=uri))
                    tg.start_soon(resources.forward, sub, publish)
                try:
                    result = await ListenHandler(bus)(ctx, narrowed)
                finally:
                    tg.cancel_scope.cancel()
        finally:
            for sub in subs.values():
                sub.close()
        return result

    def _caller(self, ctx: ServerRequestContext[Any]) -> Identity:
        try:
            return self.identity_of(ctx)
        except Refused as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from None

    @staticmethod
    def _parse(uri: str) -> resources.RunResource:
        try:
            return resources.parse(uri)
        except BatonError as exc:
            raise _not_found(uri, exc.message) from None

    async def _owned_run(self, ctx: ServerRequestContext[Any], uri: str) -> str:
        """The run id of ``uri``; an MCP error unless the run is the caller's."""
        who = self._caller(ctx)
        ref = self._parse(uri)
        store = self.store_of()
        try:
            await anyio.to_thread.run_sync(store.get_run, who.tenant_id, who.user_id, ref.run_id)
        except BatonError as exc:
            raise _not_found(uri, exc.message) from None
        return ref.run_id


def _not_found(uri: str, reason: str) -> MCPError:
    return MCPError(INVALID_PARAMS, reason, {"uri": uri})


def _connection(ctx: ServerRequestContext[Any]) -> Connection:
    # The SDK gives request handlers their connection only through the session; its state and
    # exit stack are where per-connection watches live and end.
    connection: Connection = ctx.session._connection
    return connection


@dataclass(frozen=True)
class _Watch:
    """One resource subscription of a connection: the run's wake-ups and their forwarder."""

    sub: Subscription
    task: asyncio.Task[None]

    def stop(self) -> None:
        self.task.cancel()
        self.sub.close()  # also when the task was cancelled before it began


def _watches(connection: Connection) -> dict[str, _Watch]:
    watches: dict[str, _Watch] | None = connection.state.get(_WATCHES)
    if watches is None:
        watches = connection.state[_WATCHES] = {}
        connection.exit_stack.push_async_callback(_stop_all, watches)
    return watches


async def _stop_all(watches: dict[str, _Watch]) -> None:
    stopped = list(watches.values())
    watches.clear()
    for watch in stopped:
        watch.stop()
    await asyncio.gather(*(w.task for w in stopped), return_exceptions=True)
