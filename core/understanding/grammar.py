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

    @cached_property
    def late_regex(self) -> re.Pattern[str] | None:
        """For a phrase anchored at the turn's start (``^``): the same phrase, to be matched
        where a lead-in ends (``match(text, pos)``); None for unanchored phrases."""
        return re.compile(self.pattern[1:]) if self.pattern.startswith("^") else None


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
        (
            rf"\bwhat (?:do|did|else do) you (?:actually |really |even |still )?{_MEMORY}"
            r" about me\b",
            0.95,
        ),
        (rf"\bwhat (?:do|did) you (?:actually |really |even |still )?{_MEMORY}\b", 0.85),
        (
            r"\bwhat (?:have|did) i (?:asked?|told|tell|get|got) you to (?:remember|keep in mind"
            r"|save|store|memori[sz]e)\b",
            0.95,
        ),
        (r"\bwhat have you (?:remembered|learned|stored|saved|memori[sz]ed|kept|noted)\b", 0.9),
        (r"\bwhat you(?:'ve| have) (?:remembered|learned|stored|saved|got on me)\b", 0.9),
        (r"\b(?:list|show|tell me|read|what are) (?:me )?(?:all )?(?:of )?my memories\b", 0.95),
        (r"\bwhat (?:things )?do you know about me\b", 0.95),
        (
            r"\b(?:stuff|things|anything|everything) (?:that )?you(?:'re| are) (?:remembering"
            r"|keeping|storing|holding|keeping in memory)\b",
            0.9,
        ),
        (
            r"\b(?:list|show|tell me|read(?: out)?|go through|what are) (?:me )?(?:all )?(?:of )?"
            r"(?:the )?(?:things|stuff|everything|facts) (?:that )?you(?:'ve| have)? (?:remembered"
            r"|saved|stored|learned|memori[sz]ed|kept|know about me)\b",
            0.95,
        ),
        (r"\bwhat(?:'s| is) (?:stored |saved |kept )?in your memory\b", 0.9),
        (r"\bdo you remember anything about me\b", 0.9),
        (
            r"\bwhat (?:have|did) i (?:told|tell|said|say) (?:you|to you) about (?:me|myself)\b",
            0.95,
        ),
        (
            r"\bwhat (?:do you have|have you got|you(?:'ve| have) got|have you) (?:on|about) me\b",
            0.9,
        ),
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
        (r"^(?:please )?(?:keep|bear) in mind\b", 0.9),
        (r"^(?:please )?(?:store|save|keep|record|log|note) the fact that\b", 0.92),
        (
            # "I'm vegetarian, please keep that in mind": the fact first (commas are gone here).
            r"^(?:i'm|i am|i|my|we|our)\b.{3,80} (?:so )?(?:please )?(?:remember|keep in mind)"
            r" (?:that|this)\b|^(?:i'm|i am|i|my|we|our)\b.{3,80} (?:so )?(?:please )?(?:keep|bear)"
            r" (?:that|this|it) in mind\b",
            0.9,
        ),
        (r"\bfor (?:the )?future(?: reference)?\b", 0.97),
        (r"^(?:please )?memori[sz]e\b", 0.9),
        (r"^know that\b", 0.85),
        (r"^(?:my name is|i go by)\b", 0.85),
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
            r"^(?:please )?(?:delete|erase|remove|drop) (?:the |that |this |all |any |all the |all "
            r"my |all your )?(?:memory|memories)\b",
            0.96,
        ),
        (
            r"^(?:please )?(?:delete|erase|remove|wipe|clear|forget) (?:what|whatever|everything"
            r"|anything) you (?:know|remember|have|(?:'ve|have) (?:got|saved|stored))"
            r" (?:about|on) ",
            0.93,
        ),
        (
            r"^(?:please )?(?:delete|erase|remove|scrap|drop|wipe|clear)"
            r" (?:what|everything|anything) i (?:said|told you|mentioned|shared)"
            r" (?:about|regarding|on) ",
            0.95,
        ),
        (
            r"^(?:please )?(?:delete|erase|remove|forget|wipe) (?:everything|all|anything) you"
            r" (?:know|remember|have|(?:'ve|have) (?:got|saved|stored))\b",
            0.95,
        ),
        (
            r"\b(?:don't|do not) (?:need|have) to remember\b|\bno longer (?:need to )?remember\b",
            0.92,
        ),
        (r"^don't remember (?:that|this)\b", 0.9),
        (r"^(?:please )?(?:stop remembering|unlearn|no longer remember)\b", 0.9),
        (r"^(?:please )?forget (?:about )?(?!it\b)\w", 0.8),
        (r"\b(?:wipe|clear|erase|delete|remove) (?:your |the |my )?memor(?:y|ies)\b", 0.9),
    ),
    phrases(
        Intent.HELP,
        (r"^(?:help|help me|i need help|what can you do|what do you do)\s*$", 0.95),
        (r"\bwhat (?:can|could) you (?:do|help (?:me )?with)\b", 0.95),
        (r"\bwhat (?:are|is) (?:your|my) (?:options|commands|abilities|skills|features)\b", 0.9),
        (r"\bhow (?:does (?:this|this thing|it)|do you|do i use (?:this|you)) work\b", 0.9),
        (r"\bhow (?:do|can|should) i use (?:this|you)\b", 0.9),
        (
            r"\b(?:(?:don't|do not|dont)(?: really)? know|not sure|no idea|unsure)(?: (?:really"
            r"|quite|of|about))? (?:what|how) (?:to|i (?:can|should)) (?:say|do|ask|use)\b",
            0.9,
        ),
        (r"\bwhat are you (?:capable of|good at|able to do)\b|\byour capabilit", 0.9),
        (r"\bwhat (?:kind of things|things) can (?:i|you) (?:ask|say|do)\b", 0.9),
        (r"^(?:how can you help(?: me)?|what are you(?: for)?|who are you)\s*$", 0.85),
        (r"^(?:i'm|i am) (?:lost|confused|stuck)\s*$", 0.85),
        (
            r"^(?:can|could) you help(?: me)?(?: out)?\s*$|\bwhat (?:can|should) i (?:ask|say)\b",
            0.9,
        ),
        (r"\bwhat (?:commands|things|requests) do you (?:understand|know|take|accept)\b", 0.9),
        (r"\bwhat am i supposed to (?:say|ask|do)\b|^what do i do now\s*$", 0.9),
        (
            r"\bexamples? of (?:what|things) (?:i|you) can\b"
            r"|\bhow (?:do|should|can) i (?:talk|speak) to you\b",
            0.9,
        ),
        (r"\b(?:things|stuff|what) (?:that )?you (?:can|could) (?:do|help with)\b", 0.9),
        (r"\bexplain (?:what you (?:can )?do|how (?:you|this) works?)\b", 0.9),
        (
            r"\bwhat (?:kinds? of |sorts? of |types? of )?(?:things|stuff|tasks) (?:can|do|could)"
            r" you (?:do|help|handle)\b",
            0.9,
        ),
        (r"^(?:hello|hi|hey|howdy|good (?:morning|afternoon|evening)|hiya)(?: there)?\s*$", 0.85),
    ),
    phrases(
        Intent.CANCEL_TASK,
        (
            r"^(?:cancel|stop|abort|quit|exit|never ?mind|nevermind|forget it|no thanks"
            r"|no thank you|that's all|that is all|nothing|i'm done|i am done|done|end"
            r"|forget about it|forget the whole thing|stop everything|stop here|stop now"
            r"|stop talking|be quiet|quiet|shut up|silence|stop right there|i'm all set|all set"
            r"|cancel (?:that|this|it|the request|everything"
            r"|the whole thing"
            r"|all (?:of )?(?:that|this|it))|stop (?:that|this|it)"
            r"|don't (?:do|bother|worry about) (?:it|that)|leave it)\s*$",
            0.95,
        ),
        (
            r"^(?:actually |oh |no )?(?:just )?(?:i(?:'ve| have)? changed my mind|never ?mind"
            r"|forget it"
            r"|scrap that|scratch that)\b",
            0.9,
        ),
        (
            r"^(?:that's all|that is all|that's it|i'm done|i am done|we're done|all done"
            r"|that's enough|that'll do|that will do|enough)"
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
            r"|didn't (?:catch|hear) (?:that|you|what you said)|what was that(?: again)?\s*$"
            r"|(?:one|1) more time)\b",
            0.95,
        ),
        (r"\bsay (?:that|it) (?:again )?(?:more )?(?:slower|slowly|louder)\b", 0.9),
        (r"\b(?:couldn't|could not|can't|cannot) hear (?:you|that|what you said)\s*$", 0.9),
        (
            r"\b(?:missed|didn't (?:quite |really )?(?:catch|hear|get)|did not (?:catch|hear|get))"
            r" (?:that|you|it"
            r"|what you said|(?:the |that )?(?:last )?(?:bit|part|thing you said|word"
            r"|sentence))\s*$",
            0.9,
        ),
    ),
    phrases(
        Intent.OUT_OF_SCOPE,
        (r"\b(?:weather|forecast|temperature outside|rain(?:ing)?|snow(?:ing)?|sunny)\b", 0.9),
        (
            r"\b(?:windy|stormy|foggy|rainy|humid|chilly|cloudy)\b"
            r"|\bis it (?:cold|hot|warm|windy|humid|freezing|chilly|cloudy)\b|\b(?:cold|hot|warm"
            r"|chilly|freezing) (?:outside|out there)\b",
            0.9,
        ),
        (
            r"\b(?:play|put on|shuffle|skip|pause) (?:some |the |a |my )?(?:music|song|songs|album"
            r"|playlist|track|podcast|radio|spotify|jazz|rock|something)\b",
            0.95,
        ),
        (r"^play\b|^(?:can you |could you |please )?put on some\b", 0.85),
        (r"\b(?:on )?(?:tv|television|netflix|the telly)\b", 0.9),
        (
            r"\b(?:on|via|over|through|in) (?:slack|teams|whatsapp|signal|telegram|messenger"
            r"|linkedin|twitter|instagram|facebook)\b",
            0.97,
        ),
        (
            r"\bwhat time does (?:the )?\w+(?: \w+)? (?:open|close)\b|\bopening hours\b"
            r"|\bdo not disturb\b|\bairplane mode\b",
            0.9,
        ),
        (
            r"\bhow (?:do|can|should) (?:i|you) (?:make|cook|bake) (?!(?:an? |the )?(?:note|meeting"
            r"|appointment|e-?mail|reminder|booking|call)\b)",
            0.85,
        ),
        (
            r"\bsend (?:some |a |an |the )?(?:flowers|gift|present|package|parcel|card|money|cash"
            r"|payment)\b",
            0.95,
        ),
        (r"\bhow (?:do|can|should) i get to\b|\bhow long (?:does it take|to get) to\b", 0.9),
        (
            r"\btell me (?:something|a fact|a fun fact|anything) (?:interesting|fun|cool|random)\b"
            r"|\bfun fact\b|\btrivia\b",
            0.85,
        ),
        (
            r"\b(?:good|best|great|fun) (?:movies?|films?|books?|shows?|series|songs?|restaurants?"
            r"|places to eat)\b|\b(?:movie|film) to watch\b",
            0.85,
        ),
        (r"\b(?:uber|lyft|taxi|cab)\b", 0.85),
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
            r"\b(?:tell|know|got|have) (?:me )?(?:a |any |some )?(?:good |funny |new |dad )?(?:joke"
            r"|jokes|story|riddle|riddles|poem)\b|\bmake me laugh\b",
            0.95,
        ),
        (
            r"\b(?:news|headlines|stock|stocks|share price|bitcoin|crypto|score|scores|match result"
            r"|who won|exchange rate|currency|price of|prices of)\b",
            0.9,
        ),
        (
            r"\b(?:turn|switch) (?:on|off) (?:the )?(?:lights?|tv|heating|heater|ac|fan)\b"
            r"|\b(?:thermostat|lights)\b",
            0.9,
        ),
        (
            r"\b(?:turn|switch) (?:up |down |on |off )?(?:the )?(?:volume|music|sound|tv|radio|heat"
            r"|heating|ac|air)\b"
            r"|\bvolume (?:up|down)\b",
            0.9,
        ),
        (r"\b(?:set|start) (?:an? )?(?:alarm|timer|stopwatch)\b|\bwake me up\b", 0.9),
        (
            r"\b(?:directions|navigate|navigation|traffic|how far is|how long does it take to"
            r" get|drive (?:me )?to)\b",
            0.9,
        ),
        (r"^(?:call|dial|phone|ring|text|sms|whatsapp|facetime) (?!off\b)\w", 0.85),
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
        (r"\b(?:\d+ ?%|\d+ percent) of \d|\bpercent of\b", 0.85),
        (
            r"^(?:who|what)(?:'s| is| was) the (?:ceo|president|capital|population|prime minister"
            r"|king|queen|founder|height|tallest|biggest|largest|longest|richest|best|oldest"
            r"|distance|speed|meaning)\b",
            0.85,
        ),
        (
            r"^who (?:wrote|invented|discovered|painted|directed|founded|built|sang|composed|won"
            r"|is the|was the|plays|played|starred)\b",
            0.85,
        ),
        (
            r"\bhow many \w+ (?:are )?(?:in|per) (?:an? |1 )?\w+|\bconvert \d|\b(?:ounces|pounds"
            r"|grams|kilos|kilograms|miles|kilometers|km|feet|inches|celsius|fahrenheit)"
            r" (?:in|to|into)\b",
            0.85,
        ),
        (
            r"\b(?:search|google|look up|browse) (?:the )?(?:web|internet|online)\b"
            r"|^(?:google|wikipedia)\b|\b(?:search|check) (?:on )?(?:google|bing|wikipedia)\b",
            0.85,
        ),
        (r"\b(?:meaning of life|are you (?:alive|human|real)|do you love me|marry me)\b", 0.85),
    ),
)
