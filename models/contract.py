"""The contract between the run core and the model layer.

The core's stateless step hands an :class:`Agent` a :class:`ContextPack` and gets back one
:class:`Decision`. ``models/`` implements the agent over litellm; the core never talks to a
provider. Everything here is plain data so that a decision can be stored, replayed and audited.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

TaskType = Literal["planning", "decision", "classification", "voice_summary", "memory_extraction"]
MemoryType = Literal["preference", "fact", "relationship", "procedure", "episode"]


class ToolSchema(BaseModel):
    """A tool as the model is allowed to see it for one step."""

    name: str
    description: str
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    risk_level: int = 0


class Message(BaseModel):
    """One entry of the conversation history inside a context pack."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    name: str | None = None


class ContextPack(BaseModel):
    """Everything the model sees for one step, already scoped, ranked and budgeted."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str
    user_id: str
    run_id: str
    step: int
    task_type: TaskType = "decision"
    system: str = ""
    goal: str
    messages: list[Message] = Field(default_factory=list)
    tools: list[ToolSchema] = Field(default_factory=list)
    response_profile: dict[str, Any] = Field(default_factory=dict)
    memories: list[dict[str, Any]] = Field(default_factory=list)
    run_state: dict[str, Any] = Field(default_factory=dict)
    policy: list[str] = Field(default_factory=list)
    budget: dict[str, Any] = Field(default_factory=dict)
    refs: list[str] = Field(default_factory=list)
    # Routing constraints for this step: latency_budget_ms, data_sensitivity
    # ("public" | "internal" | "confidential"), max_cost_usd.
    constraints: dict[str, Any] = Field(default_factory=dict)


class RespondDecision(BaseModel):
    """Answer the user; ends the run's current task."""

    type: Literal["respond"] = "respond"
    message: str = Field(min_length=1)


class ToolCallDecision(BaseModel):
    """Call one tool with arguments (validated again by the tool layer)."""

    type: Literal["tool_call"] = "tool_call"
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None


class AskHumanDecision(BaseModel):
    """Ask the user one question and wait for the answer."""

    type: Literal["ask_human"] = "ask_human"
    question: str = Field(min_length=1)


class ProposeMemoryDecision(BaseModel):
    """Propose a memory write; the memory pipeline decides whether it is stored."""

    type: Literal["propose_memory"] = "propose_memory"
    memory_type: MemoryType
    content: str = Field(min_length=1)
    subject: str | None = None
    confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    requires_user_confirmation: bool = False


Decision = Annotated[
    RespondDecision | ToolCallDecision | AskHumanDecision | ProposeMemoryDecision,
    Field(discriminator="type"),
]
DECISION_ADAPTER: TypeAdapter[Decision] = TypeAdapter(Decision)


def decision_json_schema() -> dict[str, Any]:
    """JSON schema of a decision, used for constrained decoding and validation."""
    return DECISION_ADAPTER.json_schema()


class ModelCallRecord(BaseModel):
    """What a model call cost and how long it took (attributed by the core)."""

    model: str
    # The routing table's name for the model (several entries may share a litellm model).
    model_name: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    attempts: int = 1
    # "ok", "invalid" (answered but failed validation) or "error" (provider error/timeout).
    status: str = "ok"
    error: str | None = None


class UnderstandingRecord(BaseModel):
    """How a turn was understood, for audit: which stage decided, the command's intent and
    slots as said, what they resolved to (addresses, event ids) and the parser's confidence."""

    stage: Literal["parser", "model"]
    intent: str | None = None
    confidence: float | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    resolved: dict[str, Any] = Field(default_factory=dict)


class AgentResult(BaseModel):
    """A validated decision plus the record of the calls that produced it."""

    decision: Decision
    calls: list[ModelCallRecord] = Field(default_factory=list)
    understanding: UnderstandingRecord | None = None


class AgentError(Exception):
    """The agent could not produce a valid decision; the step fails with this reason.

    ``calls`` holds the model calls made before giving up, so their cost is still attributed.
    """

    def __init__(self, reason: str, calls: list[ModelCallRecord] | None = None) -> None:
        super().__init__(reason)
        self.calls: list[ModelCallRecord] = list(calls or [])


@runtime_checkable
class Agent(Protocol):
    """Decides the next action for one step. Implementations keep no per-run state."""

    async def decide(self, pack: ContextPack) -> AgentResult:
        """Return the next decision for this context pack, or raise AgentError."""
        ...
