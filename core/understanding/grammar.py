"""How an intent is recognised: phrase patterns with a confidence, declared beside each tool.

A built-in tool module declares ``INTENTS``: the phrasings of the commands it serves. The
parser collects them (and the conversational intents below) and scores a turn against all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from core.understanding.command import Intent


@dataclass(frozen=True)
class Phrase:
    """One way of asking: a regular expression over the lower-case numeric view."""

    pattern: str
    confidence: float

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The compiled pattern (compiled once per phrase)."""
        return re.compile(self.pattern)


@dataclass(frozen=True)
class IntentPhrases:
    """The phrasings of one intent."""

    intent: Intent
    phrases: tuple[Phrase, ...]


def phrases(intent: Intent, *pairs: tuple[str, float]) -> IntentPhrases:
    """Declare an intent's phrasings as (pattern, confidence) pairs."""
    return IntentPhrases(intent, tuple(Phrase(p, c) for p, c in pairs))


_MEMORY = r"(?:remember|know|have (?:saved|stored|on file)|recall)"
CONVERSATION: tuple[IntentPhrases, ...] = (
    phrases(
        Intent.MEMORY_LIST,
        (rf"\bwhat (?:do|did|else do) you {_MEMORY} about me\b", 0.95),
        (rf"\bwhat (?:do|did) you {_MEMORY}\b", 0.85),
        (r"\bwhat have you (?:remembered|learned|stored|saved)\b", 0.9),
        (r"\bwhat you(?:'ve| have) (?:remembered|learned|stored|saved|got on me)\b", 0.9),
        (r"\b(?:list|show|tell me|read|what are) (?:me )?(?:all )?(?:of )?my memories\b", 0.95),
        (r"\bwhat (?:things )?do you know about me\b", 0.95),
        (r"\bwhat(?:'s| is) (?:stored |saved |kept )?in your memory\b", 0.9),
        (r"\bdo you remember anything about me\b", 0.9),
    ),
    phrases(
        Intent.MEMORY_REMEMBER,
        (r"^(?:and )?(?:please )?remember (?:that |this: |this |the fact that )", 0.95),
        (r"^(?:please )?(?:keep in mind|note to self|don't forget|do not forget) that\b", 0.9),
        (r"^(?:please )?remember (?:my|i|i'm|i am|our|me)\b", 0.9),
        (
            r"^(?:you should know|for your information|fyi|just so you know|for future reference"
            r"|for the record) (?:that )?",
            0.85,
        ),
        (r"\bcommit (?:this|that|it) to memory\b", 0.9),
        (r"^(?:please )?memori[sz]e\b", 0.9),
    ),
    phrases(
        Intent.MEMORY_FORGET,
        (r"^(?:please )?forget (?:that|this|what i (?:just )?(?:said|told you))\s*$", 0.95),
        (
            r"^(?:please )?forget (?:what i (?:said|told you)|everything i (?:said|told you)) "
            r"(?:about|regarding) ",
            0.95,
        ),
        (r"^(?:please )?forget (?:about )?(?:my|the fact|that i|that my|i|i'm)\b", 0.9),
        (
            r"^(?:please )?(?:delete|erase|remove|drop) (?:the |that |this )?(?:memory|memories)\b",
            0.9,
        ),
        (r"^(?:please )?(?:delete|erase|remove) what you (?:know|remember) about ", 0.9),
        (r"^don't remember (?:that|this)\b", 0.9),
        (r"^(?:please )?forget (?:about )?\w", 0.8),
        (r"\b(?:wipe|clear|erase|delete|remove) (?:your |the |my )?memor(?:y|ies)\b", 0.9),
    ),
    phrases(
        Intent.HELP,
        (r"^(?:help|help me|i need help|what can you do|what do you do)\s*$", 0.95),
        (r"\bwhat (?:can|could) you (?:do|help (?:me )?with)\b", 0.95),
        (r"\bwhat (?:are|is) (?:your|my) (?:options|commands|abilities|skills|features)\b", 0.9),
        (r"\bhow (?:does this|do you|do i use (?:this|you)) work\b", 0.9),
        (r"\bhow (?:do|can|should) i use (?:this|you)\b", 0.9),
        (r"\b(?:don't|do not|dont) know what to (?:say|do|ask)\b", 0.9),
        (r"\bwhat are you (?:capable of|good at|able to do)\b|\byour capabilit", 0.9),
        (r"\bwhat (?:kind of things|things) can (?:i|you) (?:ask|say|do)\b", 0.9),
        (r"^(?:how can you help(?: me)?|what are you(?: for)?|who are you)\s*$", 0.85),
        (
            r"^(?:can|could) you help(?: me)?(?: out)?\s*$|\bwhat (?:can|should) i (?:ask|say)\b",
            0.9,
        ),
        (r"\bwhat (?:commands|things|requests) do you (?:understand|know|take|accept)\b", 0.9),
        (r"^(?:hello|hi|hey|howdy|good (?:morning|afternoon|evening)|hiya)(?: there)?\s*$", 0.85),
    ),
    phrases(
        Intent.CANCEL_TASK,
        (
            r"^(?:cancel|stop|abort|quit|exit|never ?mind|nevermind|forget it|no thanks"
            r"|no thank you|that's all|that is all|nothing|i'm done|i am done|done|end"
            r"|cancel (?:that|this|it|the request|everything)|stop (?:that|this|it)"
            r"|don't (?:do|bother|worry about) (?:it|that)|leave it)\s*$",
            0.95,
        ),
        (
            r"^(?:actually |oh |no )?(?:i(?:'ve| have)? changed my mind|never ?mind|forget it"
            r"|scrap that|scratch that)\b",
            0.9,
        ),
        (
            r"^(?:that's all|that is all|that's it|i'm done|i am done|we're done|all done)"
            r"(?: for (?:now|today))?\s*$",
            0.95,
        ),
    ),
    phrases(
        Intent.REPEAT,
        (
            r"^(?:repeat|say again|again|pardon|pardon me|come again|sorry|what|huh|excuse me"
            r"|(?:one|1) more time)\s*$",
            0.9,
        ),
        (
            r"\b(?:repeat (?:that|this|it|yourself|the last (?:thing|part|answer))"
            r"|say (?:that|it) again|what did you (?:just )?say|say that one more time"
            r"|didn't (?:catch|hear) (?:that|you|what you said)|what was that"
            r"|(?:one|1) more time)\b",
            0.95,
        ),
    ),
    phrases(
        Intent.OUT_OF_SCOPE,
        (r"\b(?:weather|forecast|temperature outside|rain(?:ing)?|snow(?:ing)?|sunny)\b", 0.9),
        (
            r"\b(?:play|put on|shuffle|skip|pause) (?:some |the |a |my )?(?:music|song|songs|album"
            r"|playlist|track|podcast|radio|spotify|jazz|rock|something)\b",
            0.95,
        ),
        (r"^play\b", 0.85),
        (
            r"\b(?:order|get me|deliver|buy|purchase) (?:me |us )?(?:a |an |some |the )?(?:pizza|"
            r"food|sushi"
            r"|takeout|groceries|coffee|uber|taxi|cab|tickets?|flowers|lunch|dinner)\b",
            0.95,
        ),
        (
            r"\b(?:book|reserve|get) (?:me )?(?:a |an )?(?:flight|hotel|table|restaurant|uber|taxi"
            r"|cab|ride|train|car|plane tickets?|room)\b",
            0.95,
        ),
        (
            r"\btranslate\b|\bhow do you say\b|\bin (?:spanish|french|german|chinese|japanese)\b",
            0.9,
        ),
        (
            r"\b(?:tell|know) (?:me )?(?:a |any )?(?:joke|jokes|story|riddle|poem)\b|\bmake me "
            r"laugh\b",
            0.95,
        ),
        (
            r"\b(?:news|headlines|stock|stocks|share price|bitcoin|crypto|score|scores|match result"
            r"|who won)\b",
            0.9,
        ),
        (
            r"\b(?:turn|switch) (?:on|off) (?:the )?(?:lights?|tv|heating|heater|ac|fan)\b"
            r"|\b(?:thermostat|lights)\b",
            0.9,
        ),
        (r"\b(?:set|start) (?:an? )?(?:alarm|timer|stopwatch)\b|\bwake me up\b", 0.9),
        (
            r"\b(?:directions|navigate|navigation|traffic|how far is|how long does it take to"
            r" get|drive (?:me )?to)\b",
            0.9,
        ),
        (r"^(?:call|dial|phone|ring|text|sms|whatsapp|facetime) \w", 0.85),
        (
            r"\b(?:text message|sms|whatsapp|imessage|texts?) (?:to|for)\b"
            r"|\b(?:send|shoot|drop) (?:\w+ ){0,2}(?:a )?(?:texts?|sms)\b",
            0.97,
        ),
        (r"\b(?:shopping|grocery|groceries) list\b", 0.97),
        (r"\b(?:vote|voting|election|president|politics)\b", 0.9),
        (r"\b(?:what time is it|what's the time|what is the time|time is it now)\b", 0.85),
        (r"\b(?:recipe|cook|bake|calories)\b", 0.85),
        (r"\b(?:restaurants?|nearby|near me|closest|nearest)\b", 0.85),
        (r"\b(?:sing|dance|rap)\b(?: (?:me )?(?:a )?(?:song|something))?", 0.85),
        (r"\b(?:calculate|what is \d+ (?:plus|minus|times|divided by)|square root)\b", 0.85),
        (
            r"\b(?:search|google|look up|browse) (?:the )?(?:web|internet|online)\b"
            r"|^(?:google|wikipedia)\b",
            0.85,
        ),
        (r"\b(?:meaning of life|are you (?:alive|human|real)|do you love me|marry me)\b", 0.85),
    ),
)
