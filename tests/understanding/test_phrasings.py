"""Phrasings of everyday commands beyond the ones the grammar was first written for: synonyms of
the verbs and nouns, lead-ins, the request in any order. Now is Monday 30 November 2026, 09:00."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.understanding.command import Intent, ParseContext
from core.understanding.parser import CONFIDENT, parse

CTX = ParseContext(
    now=datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/New_York")),
    contact_names=["Alice Smith", "Bob Jones", "Carol Diaz", "Erin", "Karl", "Priya", "Dmitri"],
)
MON, TUE, WED, THU, FRI, SAT, SUN = (
    "2026-11-30",
    "2026-12-01",
    "2026-12-02",
    "2026-12-03",
    "2026-12-04",
    "2026-12-05",
    "2026-12-06",
)
NEXT_WEEK = ("2026-12-07", "2026-12-13")
It = Intent

CASES: list[tuple[str, Intent, dict[str, object]]] = [
    # what's on
    ("what does tomorrow look like", It.CALENDAR_LIST, {"date": TUE}),
    ("am I busy on Thursday", It.CALENDAR_LIST, {"date": THU}),
    ("do I have anything going on Friday afternoon", It.CALENDAR_LIST, {"date": FRI}),
    ("walk me through my day", It.CALENDAR_LIST, {}),
    ("run through tomorrow's meetings for me", It.CALENDAR_LIST, {"date": TUE}),
    ("what's on the agenda for Wednesday", It.CALENDAR_LIST, {"date": WED}),
    ("check my calendar for Thursday", It.CALENDAR_LIST, {"date": THU}),
    ("remind me what I've got on today", It.CALENDAR_LIST, {"date": MON}),
    ("read out my appointments for tomorrow", It.CALENDAR_LIST, {"date": TUE}),
    ("so um what's my schedule looking like on Friday", It.CALENDAR_LIST, {"date": FRI}),
    # free time
    ("am I free at three tomorrow", It.CALENDAR_FREE, {"date": TUE, "time": "15:00"}),
    ("when's a good time to meet Erin this week", It.CALENDAR_FREE, {"attendees": ["Erin"]}),
    ("do I have a free slot on Wednesday morning", It.CALENDAR_FREE, {"date": WED}),
    ("any openings on Friday", It.CALENDAR_FREE, {"date": FRI}),
    ("when could Karl and I grab thirty minutes", It.CALENDAR_FREE, {"duration_minutes": 30}),
    ("find me a window on Thursday for an hour", It.CALENDAR_FREE, {"date": THU}),
    # book
    ("set up a call with Priya on Thursday at two", It.CALENDAR_BOOK, {"date": THU}),
    ("pencil in lunch with Bob Jones on Friday at noon", It.CALENDAR_BOOK, {"time": "12:00"}),
    ("arrange a meeting with Erin tomorrow at ten", It.CALENDAR_BOOK, {"attendees": ["Erin"]}),
    ("I need a meeting with Karl on Wednesday at four", It.CALENDAR_BOOK, {"date": WED}),
    ("put a dentist appointment in for Saturday at nine", It.CALENDAR_BOOK, {"date": SAT}),
    ("block out two hours on Friday morning for the budget", It.CALENDAR_BOOK, {"date": FRI}),
    (
        "schedule a thirty minute sync with Alice Smith tomorrow at three",
        It.CALENDAR_BOOK,
        {"time": "15:00", "duration_minutes": 30, "attendees": ["Alice Smith"]},
    ),
    ("book me in with Carol Diaz on Thursday at eleven", It.CALENDAR_BOOK, {"date": THU}),
    # cancel
    ("call off tomorrow's standup", It.CALENDAR_CANCEL, {"date": TUE}),
    ("scrap the meeting with Bob on Friday", It.CALENDAR_CANCEL, {"date": FRI}),
    ("I can't make my three o'clock today, cancel it", It.CALENDAR_CANCEL, {"time": "15:00"}),
    ("get rid of the dentist appointment on Saturday", It.CALENDAR_CANCEL, {"date": SAT}),
    ("please delete my four pm on Thursday", It.CALENDAR_CANCEL, {"date": THU, "time": "16:00"}),
    ("take the gym session off my calendar on Wednesday", It.CALENDAR_CANCEL, {"date": WED}),
    # move
    (
        "push my ten o'clock back to eleven",
        It.CALENDAR_MOVE,
        {"time": "10:00", "new_time": "11:00"},
    ),
    ("bump the review with Erin to Friday", It.CALENDAR_MOVE, {"new_date": FRI}),
    (
        "can we shift tomorrow's standup to nine thirty",
        It.CALENDAR_MOVE,
        {"date": TUE, "new_time": "09:30"},
    ),
    ("postpone the dentist to next Thursday", It.CALENDAR_MOVE, {}),
    (
        "reschedule my call with Karl to Wednesday at two",
        It.CALENDAR_MOVE,
        {"new_date": WED, "new_time": "14:00"},
    ),
    # email
    (
        "shoot Bob an email saying I'm running late",
        It.EMAIL_SEND,
        {"attendees": ["Bob"], "text": "I'm running late"},
    ),
    ("email Priya that the report is ready", It.EMAIL_SEND, {"attendees": ["Priya"]}),
    (
        "send Carol Diaz a message about the offsite",
        It.EMAIL_SEND,
        {"attendees": ["Carol Diaz"], "subject": "the offsite"},
    ),
    ("let Erin know the meeting is moved to Friday", It.EMAIL_SEND, {"attendees": ["Erin"]}),
    ("draft a note to Karl saying thanks for the help", It.EMAIL_DRAFT, {"attendees": ["Karl"]}),
    (
        "compose an email to Alice Smith about the budget",
        It.EMAIL_DRAFT,
        {"attendees": ["Alice Smith"], "subject": "the budget"},
    ),
    ("write Bob an email but don't send it", It.EMAIL_DRAFT, {"attendees": ["Bob"]}),
    # notes
    (
        "jot this down: call the plumber on Monday",
        It.NOTES_SAVE,
        {"text": "call the plumber on Monday"},
    ),
    ("make a note that the wifi password is on the fridge", It.NOTES_SAVE, {}),
    ("quick note, pick up the dry cleaning", It.NOTES_SAVE, {"text": "pick up the dry cleaning"}),
    ("what did I write down about the car", It.NOTES_SEARCH, {}),
    ("look up my notes on the kitchen renovation", It.NOTES_SEARCH, {}),
    ("do I have any notes about Priya", It.NOTES_SEARCH, {}),
    # memory
    ("just so you know, I'm vegetarian", It.MEMORY_REMEMBER, {"text": "I'm vegetarian"}),
    (
        "going forward, remember that I prefer mornings",
        It.MEMORY_REMEMBER,
        {"text": "I prefer mornings"},
    ),
    ("keep in mind that Bob is my manager", It.MEMORY_REMEMBER, {}),
    ("forget what I told you about my sister", It.MEMORY_FORGET, {"text": "my sister"}),
    ("please stop remembering my address", It.MEMORY_FORGET, {"text": "my address"}),
    ("what do you know about me", It.MEMORY_LIST, {}),
    ("what have you got stored about me", It.MEMORY_LIST, {}),
    # conversation
    ("what sort of things can you do", It.HELP, {}),
    ("okay never mind", It.CANCEL_TASK, {}),
    ("sorry, what did you say", It.REPEAT, {}),
    ("can you say that again please", It.REPEAT, {}),
    # out of scope
    ("text Karl that I'm outside", It.OUT_OF_SCOPE, {}),
    ("what's the weather like tomorrow", It.OUT_OF_SCOPE, {}),
    ("order me a pizza", It.OUT_OF_SCOPE, {}),
    ("put milk on the grocery list", It.OUT_OF_SCOPE, {}),
    ("who won the game last night", It.OUT_OF_SCOPE, {}),
    ("got any good jokes?", It.OUT_OF_SCOPE, {}),
    ("put on some Miles Davis", It.OUT_OF_SCOPE, {}),
    # days between two weekdays, a length said without "for", a question about a note
    ("anything on between Wednesday and Friday", It.CALENDAR_LIST, {"date": WED, "date_to": FRI}),
    (
        "put in 45 minutes with Karl on Thursday afternoon",
        It.CALENDAR_BOOK,
        {"date": THU, "duration_minutes": 45, "attendees": ["Karl"]},
    ),
    ("is Friday afternoon clear?", It.CALENDAR_FREE, {"date": FRI}),
    ("book budget prep for Friday at ten", It.CALENDAR_BOOK, {"title": "budget prep"}),
    ("did I write a note about the boiler", It.NOTES_SEARCH, {"text": "the boiler"}),
    ("search notes wifi password", It.NOTES_SEARCH, {"text": "wifi password"}),
    (
        "find the note where I jotted down the locker code",
        It.NOTES_SEARCH,
        {"text": "the locker code"},
    ),
    ("what have I told you to remember", It.MEMORY_LIST, {}),
    # a question about one planned thing reads the calendar
    ("when's my next thing with Karl", Intent.CALENDAR_LIST, {"attendees": ["Karl"]}),
    (
        "what time does the sales demo begin on Thursday",
        Intent.CALENDAR_LIST,
        {"title": "sales demo", "date": THU},
    ),
    ("is dinner with Priya still on for Friday", Intent.CALENDAR_LIST, {"date": FRI}),
    ("do you know when the board review is", Intent.CALENDAR_LIST, {"title": "board review"}),
    ("any idea who I'm seeing on Wednesday afternoon", Intent.CALENDAR_LIST, {"date": WED}),
    ("I want to know my appointments for Tuesday", Intent.CALENDAR_LIST, {"date": TUE}),
    ("Wen's the retro with Erin?", Intent.CALENDAR_LIST, {"title": "retro"}),
    # and a check is asked for, not an order
    (
        "I believe I have coffee with Dmitri on Friday, could you check",
        Intent.CALENDAR_LIST,
        {"attendees": ["Dmitri"], "date": FRI},
    ),
    # free time, asked as a check
    ("could you see whether I'm free at 4 on Wednesday", Intent.CALENDAR_FREE, {"date": WED}),
    ("I need to know if I'm free tomorrow at noon", Intent.CALENDAR_FREE, {"time": "12:00"}),
    ("is Thursday morning clear", Intent.CALENDAR_FREE, {"date": THU}),
    # regional verbs
    ("diarize a catch up with Bob for Friday at 2", Intent.CALENDAR_BOOK, {"date": FRI}),
    ("ditch my 4 o'clock on Thursday", Intent.CALENDAR_CANCEL, {"time": "16:00"}),
    ("put back the budget review to Friday at 3", Intent.CALENDAR_MOVE, {"new_date": FRI}),
    ("please prepone my call with Erin to 9 am", Intent.CALENDAR_MOVE, {"new_time": "09:00"}),
    ("what's on this arvo", Intent.CALENDAR_LIST, {"date": MON, "part_of_day": "afternoon"}),
    # people by who they are to the caller, and a change of mind after the message
    (
        "email my manager Priya about the offsite",
        Intent.EMAIL_SEND,
        {"attendees": ["Priya"], "subject": "the offsite"},
    ),
    (
        "send Karl a message saying running late, actually just draft it",
        Intent.EMAIL_DRAFT,
        {"text": "running late"},
    ),
    # notes and memory asked for after what they are about
    (
        "I wrote something down about the boiler, could you find it",
        Intent.NOTES_SEARCH,
        {"text": "the boiler"},
    ),
    ("record this as a note, grocery list, milk and eggs", Intent.NOTES_SAVE, {}),
    ("remember for me that my badge number is 4410", Intent.MEMORY_REMEMBER, {}),
    ("what do you actually know about me", Intent.MEMORY_LIST, {}),
    ("which things are you remembering about me", Intent.MEMORY_LIST, {}),
    ("I don't want you to remember my address anymore", Intent.MEMORY_FORGET, {}),
    ("oh stop, don't bother", Intent.CANCEL_TASK, {}),
    # a busy caller's words: slang verbs, meetings by description, everyday times
    ("nuke Friday's retro", It.CALENDAR_CANCEL, {"date": FRI, "title": "retro"}),
    ("bin the thing with Erin on Thursday", It.CALENDAR_CANCEL, {"attendees": ["Erin"]}),
    ("shuffle the one with Bob to Wednesday", It.CALENDAR_MOVE, {"new_date": WED, "time": None}),
    (
        "throw a coffee with Priya in for first thing Friday",
        It.CALENDAR_BOOK,
        {"date": FRI, "part_of_day": "morning", "title": "coffee"},
    ),
    ("can you fit Dmitri in on Thursday", It.CALENDAR_BOOK, {"attendees": ["Dmitri"]}),
    ("book the gym for half 7 tonight", It.CALENDAR_BOOK, {"time": "19:30"}),
    (
        "ping Karl an email saying the deck is ready",
        It.EMAIL_SEND,
        {"attendees": ["Karl"], "text": "the deck is ready"},
    ),
    ("pull up Thursday", It.CALENDAR_LIST, {"date": THU}),
    ("what's the thing at 3 tomorrow", It.CALENDAR_LIST, {"date": TUE, "time": "15:00"}),
    ("have I got a half hour window this afternoon", It.CALENDAR_FREE, {"duration_minutes": 30}),
    (
        "stash this in my notes: the spare key is under the pot",
        It.NOTES_SAVE,
        {"text": "the spare key is under the pot"},
    ),
    ("scrub the thing about my brother from your memory", It.MEMORY_FORGET, {"text": "my brother"}),
    # long, polite turns: greetings, context and thanks around the request
    (
        "Good morning, I hope you're well. Could you cancel the design review on Thursday "
        "for me? Something has come up at home. Thank you so much.",
        It.CALENDAR_CANCEL,
        {"date": THU, "title": "design review", "part_of_day": None},
    ),
    (
        "Hello dear, sorry to trouble you. I wonder if you could book lunch with Dr Erin "
        "on Friday at one. Many thanks.",
        It.CALENDAR_BOOK,
        {"date": FRI, "time": "13:00", "attendees": ["Erin"], "title": "lunch"},
    ),
    (
        "I'm so forgetful these days. Would you please make a note that the window cleaner "
        "comes on Tuesdays? My daughter told me. Thanks.",
        It.NOTES_SAVE,
        {"text": "the window cleaner comes on Tuesdays"},
    ),
    (
        "I'm sorry, I said something I shouldn't have. Please forget what I told you about "
        "my brother's job. Thank you.",
        It.MEMORY_FORGET,
        {"text": "my brother's job"},
    ),
    (
        "My train is late, so could you email Bob Jones saying that I will be ten minutes "
        "late? You're a lifesaver.",
        It.EMAIL_SEND,
        {"attendees": ["Bob Jones"], "text": "I will be ten minutes late"},
    ),
    # telegraphic turns of a few words
    ("coffee Priya Thursday 3pm", It.CALENDAR_BOOK, {"date": THU, "time": "15:00"}),
    ("book Karl Wednesday 10", It.CALENDAR_BOOK, {"date": WED, "time": "10:00"}),
    ("free Friday morning?", It.CALENDAR_FREE, {"date": FRI, "part_of_day": "morning"}),
    ("calendar tomorrow", It.CALENDAR_LIST, {"date": TUE}),
    ("move the retro to 14th", It.CALENDAR_MOVE, {"new_date": "2026-12-14"}),
    ("notes about the boiler?", It.NOTES_SEARCH, {}),
    # which meeting is asked about is not what the meeting is
    ("when's my next meeting with Karl", It.CALENDAR_LIST, {"title": None, "attendees": ["Karl"]}),
    # a meeting named far into a long turn keeps its whole name
    (
        "I spent the whole morning talking with the team about the launch plans and the hiring "
        "and now I really need to cancel the budget review on Wednesday",
        It.CALENDAR_CANCEL,
        {"title": "budget review", "date": WED},
    ),
    # a clock time beside a day, in either order and without its colon
    ("put a call 1645 friday with Karl", It.CALENDAR_BOOK, {"date": FRI, "time": "16:45"}),
    ("book coffee at 17:15 tuesday", It.CALENDAR_BOOK, {"date": TUE, "time": "17:15"}),
    ("book coffee with Priya thursday 930", It.CALENDAR_BOOK, {"date": THU, "time": "09:30"}),
    # "is it possible to" with a day, a person or one meeting asks for it to be done
    ("is it possible to call off the quarterly review", It.CALENDAR_CANCEL, {}),
    ("is it possible to cancel a meeting", It.HELP, {}),
    # details first, settled at the end
    ("lunch with Erin friday at 1, lock it in", It.CALENDAR_BOOK, {"date": FRI, "time": "13:00"}),
    # room for something is free time
    ("is there room on Thursday for a chat with Bob", It.CALENDAR_FREE, {"date": THU}),
    ("any breathing room tomorrow", It.CALENDAR_FREE, {"date": TUE}),
    # what a meeting is, never who it is with
    ("cancel pilates", It.CALENDAR_CANCEL, {"title": "pilates", "attendees": []}),
    # words the caller writes in lower case are no new people
    (
        "What have I got on Friday evening? I'm trying to plan my week",
        It.CALENDAR_LIST,
        {"date": FRI, "attendees": []},
    ),
]


@pytest.mark.parametrize(("text", "intent", "slots"), CASES, ids=[c[0] for c in CASES])
def test_new_phrasings_are_understood(text: str, intent: Intent, slots: dict[str, object]) -> None:
    command = parse(text, CTX)
    assert command.intent is intent, command
    got = command.slots.model_dump()
    for name, value in slots.items():
        assert got[name] == value, (name, command)


INTENT_ONLY: list[tuple[str, Intent]] = [
    ("hey, what have I got lined up for tomorrow", It.CALENDAR_LIST),
    ("tell me about my meetings on Thursday", It.CALENDAR_LIST),
    ("is my afternoon free", It.CALENDAR_FREE),
    ("what's happening this weekend", It.CALENDAR_LIST),
    ("give me a rundown of today", It.CALENDAR_LIST),
    ("how does my week look", It.CALENDAR_LIST),
    ("anything booked for Friday", It.CALENDAR_LIST),
    ("where am I supposed to be at two", It.CALENDAR_LIST),
    ("who am I seeing tomorrow", It.CALENDAR_LIST),
    ("what's first on my plate today", It.CALENDAR_LIST),
    ("could you check if I'm free on Wednesday at eleven", It.CALENDAR_FREE),
    ("I need to find time with Alice next week", It.CALENDAR_FREE),
    ("what times work for Bob and me on Thursday", It.CALENDAR_FREE),
    ("when's my next free hour", It.CALENDAR_FREE),
    ("is Thursday at ten open", It.CALENDAR_FREE),
    ("suggest a time for a call with Priya", It.CALENDAR_FREE),
    ("let's get a meeting on the books with Dmitri for Tuesday at three", It.CALENDAR_BOOK),
    ("can you set something up with Karl on Friday at ten", It.CALENDAR_BOOK),
    ("I'd like to meet with Carol on Wednesday at two", It.CALENDAR_BOOK),
    ("add lunch with Erin tomorrow at twelve thirty", It.CALENDAR_BOOK),
    ("schedule time with Bob Jones Thursday morning at nine", It.CALENDAR_BOOK),
    ("make an appointment for the vet on Saturday at ten", It.CALENDAR_BOOK),
    ("put me down for yoga on Wednesday at six pm", It.CALENDAR_BOOK),
    ("create an event called team dinner on Friday at seven pm", It.CALENDAR_BOOK),
    ("book a one on one with Priya tomorrow at four", It.CALENDAR_BOOK),
    ("I want to cancel my meeting with Alice", It.CALENDAR_CANCEL),
    ("cancel everything on Friday afternoon", It.CALENDAR_CANCEL),
    ("clear my two o'clock", It.CALENDAR_CANCEL),
    ("I won't be able to make the review tomorrow so cancel it", It.CALENDAR_CANCEL),
    ("nix the coffee with Karl", It.CALENDAR_CANCEL),
    ("kill tomorrow's nine am", It.CALENDAR_CANCEL),
    ("the standup on Wednesday, cancel it", It.CALENDAR_CANCEL),
    ("move lunch with Erin to one", It.CALENDAR_MOVE),
    ("can we do the review on Thursday instead", It.CALENDAR_MOVE),
    ("change my dentist appointment to next Friday", It.CALENDAR_MOVE),
    ("push the standup back half an hour", It.CALENDAR_MOVE),
    ("slide my three pm to four", It.CALENDAR_MOVE),
    ("move tomorrow's call with Bob to Wednesday at the same time", It.CALENDAR_MOVE),
    ("bring the budget meeting forward to ten", It.CALENDAR_MOVE),
    ("email Alice and tell her the numbers are in", It.EMAIL_SEND),
    ("send a note to Bob saying lunch is on me", It.EMAIL_SEND),
    ("can you mail Carol the agenda", It.EMAIL_SEND),
    ("fire off an email to Karl about the invoice", It.EMAIL_SEND),
    ("reply to Priya saying sounds good", It.EMAIL_SEND),
    ("write an email to Dmitri, just a draft, about the hiring plan", It.EMAIL_DRAFT),
    ("start a draft for Erin saying the trip is booked", It.EMAIL_DRAFT),
    ("put together an email to Bob about next steps but hold off on sending", It.EMAIL_DRAFT),
    ("note down that the car is due for service", It.NOTES_SAVE),
    ("add a note: call mom on Sunday", It.NOTES_SAVE),
    ("save a note saying the parking spot is B12", It.NOTES_SAVE),
    ("write this down, the gate code is 4412", It.NOTES_SAVE),
    ("remind me to buy flowers", It.NOTES_SAVE),
    ("find my note about the gate code", It.NOTES_SEARCH),
    ("what did I note about the dentist", It.NOTES_SEARCH),
    ("search my notes for passwords", It.NOTES_SEARCH),
    ("have I got anything written down about the boiler", It.NOTES_SEARCH),
    ("remember that my wife's name is Ana", It.MEMORY_REMEMBER),
    ("I want you to remember that I don't take calls before nine", It.MEMORY_REMEMBER),
    ("please remember my favourite coffee is a flat white", It.MEMORY_REMEMBER),
    ("for future reference, I work from home on Fridays", It.MEMORY_REMEMBER),
    ("forget that", It.MEMORY_FORGET),
    ("forget my address", It.MEMORY_FORGET),
    ("delete what you know about my car", It.MEMORY_FORGET),
    ("wipe your memory of my phone number", It.MEMORY_FORGET),
    ("what do you remember about me", It.MEMORY_LIST),
    ("tell me everything you know about me", It.MEMORY_LIST),
    ("what's stored in your memory", It.MEMORY_LIST),
    ("how do I use you", It.HELP),
    ("what are you capable of", It.HELP),
    ("hello", It.HELP),
    ("stop", It.CANCEL_TASK),
    ("no, leave it", It.CANCEL_TASK),
    ("forget it, I'll do it myself", It.CANCEL_TASK),
    ("I didn't catch that", It.REPEAT),
    ("pardon?", It.REPEAT),
    ("play some jazz", It.OUT_OF_SCOPE),
    ("how's the traffic to work", It.OUT_OF_SCOPE),
    ("turn off the lights in the kitchen", It.OUT_OF_SCOPE),
    ("set a timer for ten minutes", It.OUT_OF_SCOPE),
    ("what's the score of the game", It.OUT_OF_SCOPE),
    ("book a table for two at eight", It.OUT_OF_SCOPE),
    ("call Bob", It.OUT_OF_SCOPE),
    ("send Karl a text saying I'm late", It.OUT_OF_SCOPE),
    ("what's two plus two", It.OUT_OF_SCOPE),
    ("translate hello into French", It.OUT_OF_SCOPE),
    ("blorp zzkt fnarg", It.NOT_UNDERSTOOD),
    ("um uh", It.NOT_UNDERSTOOD),
    ("I'd love to grab coffee with Erin on Friday at ten", It.CALENDAR_BOOK),
    ("can I get thirty minutes with Karl tomorrow at two", It.CALENDAR_BOOK),
    ("get me on Priya's calendar for Thursday at three", It.CALENDAR_BOOK),
    ("let's do lunch with Bob on Wednesday at noon", It.CALENDAR_BOOK),
    ("hold Friday at two for a call with Dmitri", It.CALENDAR_BOOK),
    ("I need to cancel tomorrow's lunch", It.CALENDAR_CANCEL),
    ("take my ten o'clock off the calendar", It.CALENDAR_CANCEL),
    ("I'm not going to the review on Thursday, can you cancel it", It.CALENDAR_CANCEL),
    ("can we move the standup to later", It.CALENDAR_MOVE),
    ("could the call with Erin happen on Wednesday instead", It.CALENDAR_MOVE),
    ("I need to reschedule my dentist", It.CALENDAR_MOVE),
    ("make my four o'clock a five o'clock", It.CALENDAR_MOVE),
    ("drop Karl a line saying the deal closed", It.EMAIL_SEND),
    ("message Priya that I'm running ten minutes late", It.EMAIL_SEND),
    ("get an email out to Carol about the contract", It.EMAIL_SEND),
    ("ping Bob by email about the launch", It.EMAIL_SEND),
    ("can you write up a draft for Alice about the hiring plan", It.EMAIL_DRAFT),
    ("prep an email to Erin but let me look at it first", It.EMAIL_DRAFT),
    ("note: dentist bill is 120 dollars", It.NOTES_SAVE),
    ("I want to save a note about the parking", It.NOTES_SAVE),
    ("pull up my notes from the offsite", It.NOTES_SEARCH),
    ("what were my notes on the budget", It.NOTES_SEARCH),
    ("keep in mind I'm on vacation next week", It.MEMORY_REMEMBER),
    ("I'd like you to remember that Karl is my brother", It.MEMORY_REMEMBER),
    ("don't remember that anymore", It.MEMORY_FORGET),
    ("you can forget about my gym schedule", It.MEMORY_FORGET),
    ("what do you know about me so far", It.MEMORY_LIST),
    ("show me what you've remembered", It.MEMORY_LIST),
    ("what can you help me with", It.HELP),
    ("I don't know what to say", It.HELP),
    ("cancel", It.CANCEL_TASK),
    ("that's all for now thanks", It.CANCEL_TASK),
    ("say what", It.REPEAT),
    ("sorry could you repeat that", It.REPEAT),
    ("what's the weather in Boston", It.OUT_OF_SCOPE),
    ("find me a restaurant nearby", It.OUT_OF_SCOPE),
    ("remind me at five to call mom", It.NOTES_SAVE),
]


@pytest.mark.parametrize(("text", "intent"), INTENT_ONLY, ids=[c[0] for c in INTENT_ONLY])
def test_new_phrasings_get_their_intent(text: str, intent: Intent) -> None:
    assert parse(text, CTX).intent is intent


# The request in any order, with self-corrections; every slot said is read, and acted on.
WITH_SLOTS: list[tuple[str, Intent, dict[str, object]]] = [
    (
        "on Thursday at ten, book a meeting with Priya",
        It.CALENDAR_BOOK,
        {"date": THU, "time": "10:00", "attendees": ["Priya"]},
    ),
    (
        "tomorrow at three I need a call with Bob Jones",
        It.CALENDAR_BOOK,
        {"date": TUE, "time": "15:00", "attendees": ["Bob Jones"]},
    ),
    (
        "book a meeting with Erin at ten, no, eleven on Friday",
        It.CALENDAR_BOOK,
        {"date": FRI, "time": "11:00", "attendees": ["Erin"]},
    ),
    (
        "schedule a forty five minute review with Karl and Priya on Wednesday at two thirty",
        It.CALENDAR_BOOK,
        {
            "date": WED,
            "time": "14:30",
            "duration_minutes": 45,
            "attendees": ["Karl", "Priya"],
            "title": "review",
        },
    ),
    (
        "set up coffee with Carol Diaz next Tuesday at nine",
        It.CALENDAR_BOOK,
        {"date": TUE, "time": "09:00", "attendees": ["Carol Diaz"], "title": "coffee"},
    ),
    (
        "book an hour with Alice Smith on the 14th at 2 pm",
        It.CALENDAR_BOOK,
        {
            "date": "2026-12-14",
            "time": "14:00",
            "duration_minutes": 60,
            "attendees": ["Alice Smith"],
        },
    ),
    (
        "put the quarterly review in my calendar on Friday at four",
        It.CALENDAR_BOOK,
        {"date": FRI, "time": "16:00", "title": "quarterly review"},
    ),
    (
        "cancel the three o'clock with Dmitri on Thursday",
        It.CALENDAR_CANCEL,
        {"date": THU, "time": "15:00", "attendees": ["Dmitri"]},
    ),
    (
        "call off my lunch with Erin tomorrow",
        It.CALENDAR_CANCEL,
        {"date": TUE, "attendees": ["Erin"], "title": "lunch"},
    ),
    ("scrap Friday's team meeting", It.CALENDAR_CANCEL, {"date": FRI}),
    (
        "move my two pm on Wednesday to Thursday at ten",
        It.CALENDAR_MOVE,
        {"date": WED, "time": "14:00", "new_date": THU, "new_time": "10:00"},
    ),
    ("push the standup to nine thirty tomorrow", It.CALENDAR_MOVE, {"new_time": "09:30"}),
    (
        "reschedule lunch with Priya from Tuesday to Wednesday",
        It.CALENDAR_MOVE,
        {"date": TUE, "new_date": WED, "attendees": ["Priya"], "title": "lunch"},
    ),
    ("what do I have on Saturday", It.CALENDAR_LIST, {"date": SAT}),
    ("what's on next week", It.CALENDAR_LIST, {"date": NEXT_WEEK[0], "date_to": NEXT_WEEK[1]}),
    ("am I free Thursday afternoon", It.CALENDAR_FREE, {"date": THU, "part_of_day": "afternoon"}),
    (
        "find half an hour with Erin tomorrow",
        It.CALENDAR_FREE,
        {"date": TUE, "duration_minutes": 30, "attendees": ["Erin"]},
    ),
    (
        "email Bob Jones about the budget saying the numbers look good",
        It.EMAIL_SEND,
        {"attendees": ["Bob Jones"], "subject": "the budget", "text": "the numbers look good"},
    ),
    (
        "send an email to Carol and Priya saying the office is closed on Friday",
        It.EMAIL_SEND,
        {"attendees": ["Carol", "Priya"], "text": "the office is closed on Friday"},
    ),
    ("email Karl, no, Erin, saying I'm on my way", It.EMAIL_SEND, {"attendees": ["Erin"]}),
    (
        "draft an email to Alice Smith with the subject travel, saying my flight lands at six",
        It.EMAIL_DRAFT,
        {"attendees": ["Alice Smith"], "subject": "travel"},
    ),
    (
        "save a note: the spare key is under the mat",
        It.NOTES_SAVE,
        {"text": "the spare key is under the mat"},
    ),
    ("search my notes for the wifi password", It.NOTES_SEARCH, {"text": "the wifi password"}),
    (
        "remember that Priya is allergic to nuts",
        It.MEMORY_REMEMBER,
        {"text": "Priya is allergic to nuts"},
    ),
    ("forget what I said about Fridays", It.MEMORY_FORGET, {"text": "Fridays"}),
    ("can you forget about my old address", It.MEMORY_FORGET, {"text": "my old address"}),
    (
        "could you please arrange a budget review with Karl next Thursday at three",
        It.CALENDAR_BOOK,
        {"date": THU, "time": "15:00", "attendees": ["Karl"], "title": "budget review"},
    ),
    (
        "book a two hour workshop on Friday at one",
        It.CALENDAR_BOOK,
        {"date": FRI, "time": "13:00", "duration_minutes": 120, "title": "workshop"},
    ),
    (
        "set up a quick sync with Erin tomorrow at nine",
        It.CALENDAR_BOOK,
        {"date": TUE, "time": "09:00", "attendees": ["Erin"], "title": "sync"},
    ),
    (
        "schedule dinner with Carol Diaz on Saturday at seven pm",
        It.CALENDAR_BOOK,
        {"date": SAT, "time": "19:00", "attendees": ["Carol Diaz"], "title": "dinner"},
    ),
    (
        "cancel the budget review on Thursday",
        It.CALENDAR_CANCEL,
        {"date": THU, "title": "budget review"},
    ),
    ("delete the dentist on Friday", It.CALENDAR_CANCEL, {"date": FRI, "title": "dentist"}),
    ("could you cancel my one on one with Priya", It.CALENDAR_CANCEL, {"attendees": ["Priya"]}),
    (
        "move the workshop from Friday to Monday",
        It.CALENDAR_MOVE,
        {"date": FRI, "new_date": "2026-12-07", "title": "workshop"},
    ),
    (
        "reschedule tomorrow's sync with Erin to Thursday at ten",
        It.CALENDAR_MOVE,
        {"date": TUE, "new_date": THU, "new_time": "10:00", "attendees": ["Erin"]},
    ),
    (
        "email Carol Diaz about the invoice",
        It.EMAIL_SEND,
        {"attendees": ["Carol Diaz"], "subject": "the invoice"},
    ),
    (
        "tell Karl by email that the server is back up",
        It.EMAIL_SEND,
        {"attendees": ["Karl"], "text": "the server is back up"},
    ),
    (
        "send Priya a quick email about tomorrow's offsite",
        It.EMAIL_SEND,
        {"attendees": ["Priya"], "subject": "tomorrow's offsite"},
    ),
    (
        "write an email to Erin saying happy birthday",
        It.EMAIL_DRAFT,
        {"attendees": ["Erin"], "text": "happy birthday"},
    ),
    (
        "jot down that the plumber comes on Tuesday",
        It.NOTES_SAVE,
        {"text": "the plumber comes on Tuesday"},
    ),
    ("note to self, renew the passport", It.NOTES_SAVE, {"text": "renew the passport"}),
    ("any notes about the garden", It.NOTES_SEARCH, {"text": "the garden"}),
    (
        "remember that I take my coffee black",
        It.MEMORY_REMEMBER,
        {"text": "I take my coffee black"},
    ),
    ("forget about my dentist preference", It.MEMORY_FORGET, {"text": "my dentist preference"}),
    ("forget everything I told you about Karl", It.MEMORY_FORGET, {"text": "Karl"}),
]


@pytest.mark.parametrize(("text", "intent", "slots"), WITH_SLOTS, ids=[c[0] for c in WITH_SLOTS])
def test_slots_are_found_anywhere_and_the_command_is_confident(
    text: str, intent: Intent, slots: dict[str, object]
) -> None:
    command = parse(text, CTX)
    assert command.intent is intent, command
    assert command.confidence >= CONFIDENT, command
    got = command.slots.model_dump(mode="json")
    for name, value in slots.items():
        assert got[name] == value, (name, command)


# As speech recognition writes them: lower case, no punctuation, numbers in words.
AS_HEARD: list[tuple[str, Intent, dict[str, object]]] = [
    ("um so whats on my plate for wednesday", It.CALENDAR_LIST, {"date": WED}),
    ("dont forget that the boiler man comes at two", It.MEMORY_REMEMBER, {}),
    ("ive got to can cel my four o clock", It.CALENDAR_CANCEL, {"time": "16:00"}),
    ("uh do i have any appointments this week", It.CALENDAR_LIST, {"date": MON, "date_to": SUN}),
    (
        "hey can you tell me whats happening tomorrow morning",
        It.CALENDAR_LIST,
        {"date": TUE, "part_of_day": "morning"},
    ),
    ("what have i got on tonight", It.CALENDAR_LIST, {"date": MON, "part_of_day": "evening"}),
    ("is there anything in my diary for the fourteenth", It.CALENDAR_LIST, {"date": "2026-12-14"}),
    (
        "could you book me a dentist appointment for thursday at ten thirty",
        It.CALENDAR_BOOK,
        {"date": THU, "time": "10:30", "title": "dentist"},
    ),
    (
        "i want to schedule a project kickoff with alice smith and karl on friday at two",
        It.CALENDAR_BOOK,
        {
            "date": FRI,
            "time": "14:00",
            "attendees": ["Alice Smith", "Karl"],
            "title": "project kickoff",
        },
    ),
    (
        "set up a meeting called design review on wednesday at eleven",
        It.CALENDAR_BOOK,
        {"date": WED, "time": "11:00", "title": "design review"},
    ),
    (
        "schedule a call with bob for half an hour tomorrow at four",
        It.CALENDAR_BOOK,
        {"date": TUE, "time": "16:00", "duration_minutes": 30, "attendees": ["Bob"]},
    ),
    (
        "book lunch with priya on saturday at one",
        It.CALENDAR_BOOK,
        {"date": SAT, "time": "13:00", "title": "lunch", "attendees": ["Priya"]},
    ),
    (
        "please cancel my dentist appointment on thursday",
        It.CALENDAR_CANCEL,
        {"date": THU, "title": "dentist"},
    ),
    (
        "cancel the project review tomorrow",
        It.CALENDAR_CANCEL,
        {"date": TUE, "title": "project review"},
    ),
    (
        "cancel my meeting with karl at four",
        It.CALENDAR_CANCEL,
        {"time": "16:00", "attendees": ["Karl"]},
    ),
    (
        "move the design review to friday at three",
        It.CALENDAR_MOVE,
        {"new_date": FRI, "new_time": "15:00", "title": "design review"},
    ),
    (
        "move my call with erin from two to three",
        It.CALENDAR_MOVE,
        {"time": "14:00", "new_time": "15:00", "attendees": ["Erin"]},
    ),
    (
        "can you push lunch with carol to one thirty",
        It.CALENDAR_MOVE,
        {"new_time": "13:30", "attendees": ["Carol"], "title": "lunch"},
    ),
    (
        "email priya about the quarterly numbers",
        It.EMAIL_SEND,
        {"attendees": ["Priya"], "subject": "the quarterly numbers"},
    ),
    (
        "send dmitri an email saying the build is green",
        It.EMAIL_SEND,
        {"attendees": ["Dmitri"], "text": "the build is green"},
    ),
    (
        "send an email to bob jones with the subject lunch saying are you free on friday",
        It.EMAIL_SEND,
        {"attendees": ["Bob Jones"], "subject": "lunch", "text": "are you free on friday"},
    ),
    (
        "draft an email to karl about the offsite",
        It.EMAIL_DRAFT,
        {"attendees": ["Karl"], "subject": "the offsite"},
    ),
    ("take a note buy milk and eggs", It.NOTES_SAVE, {"text": "buy milk and eggs"}),
    (
        "make a note the meeting room is on the third floor",
        It.NOTES_SAVE,
        {"text": "the meeting room is on the third floor"},
    ),
    ("find my notes about the budget", It.NOTES_SEARCH, {"text": "the budget"}),
    ("what did i write about the dentist", It.NOTES_SEARCH, {"text": "the dentist"}),
    (
        "remember i prefer meetings after ten",
        It.MEMORY_REMEMBER,
        {"text": "i prefer meetings after ten"},
    ),
    (
        "please remember that my manager is alice smith",
        It.MEMORY_REMEMBER,
        {"text": "my manager is alice smith"},
    ),
    ("forget that i like sushi", It.MEMORY_FORGET, {"text": "i like sushi"}),
    # words a recogniser often writes for command words on phone audio
    ("Is the stand up still one for tomorrow?", Intent.CALENDAR_LIST, {"title": "standup"}),
    ("Cancel my 3-0 clock.", Intent.CALENDAR_CANCEL, {"time": "15:00"}),
    ("Cancel my four of the clock.", Intent.CALENDAR_CANCEL, {"time": "16:00"}),
    (
        "What times the planning meeting on Wednesday?",
        Intent.CALENDAR_LIST,
        {"date": WED},
    ),
    ("I'm what have I got on Friday?", Intent.CALENDAR_LIST, {"date": FRI}),
    ("Move my meeting with Bob to half path 3.", Intent.CALENDAR_MOVE, {"new_time": "15:30"}),
    ("Is 16-0-0 on Thursday free?", Intent.CALENDAR_FREE, {"time": "16:00"}),
    ("Ascend an email to Karl saying done.", Intent.EMAIL_SEND, {"attendees": ["Karl"]}),
]


def _loose(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@pytest.mark.parametrize(("text", "intent", "slots"), AS_HEARD, ids=[c[0] for c in AS_HEARD])
def test_commands_as_speech_recognition_writes_them(
    text: str, intent: Intent, slots: dict[str, object]
) -> None:
    _assert_read_as(text, intent, slots)


def _assert_read_as(text: str, intent: Intent, slots: dict[str, object]) -> None:
    """``text`` is read with confidence as ``intent`` with ``slots`` (case aside)."""
    command = parse(text, CTX)
    assert command.intent is intent, command
    assert command.confidence >= CONFIDENT, command
    got = command.slots.model_dump(mode="json")
    for name, value in slots.items():
        assert _loose(got[name]) == _loose(value), (name, command)


RISKY = {
    Intent.CALENDAR_BOOK,
    Intent.CALENDAR_CANCEL,
    Intent.CALENDAR_MOVE,
    Intent.EMAIL_SEND,
    Intent.MEMORY_FORGET,
}


@pytest.mark.parametrize(
    "text",
    [
        "what's on my calendar tomorrow",
        "is there a gap in my schedule on Friday",
        "did I send Bob an email yesterday",
        "I cancelled my gym membership",
        "how do I move a meeting",
        "the meeting with Bob was moved",
        "I moved the meeting with Bob yesterday",
        "did you cancel my lunch",
        "how do I book a meeting",
        "the dentist cancelled on me",
        "I can't remember if I emailed Bob",
        "don't cancel the standup",
        "I sent Karl an email already",
        "what happens if I cancel the review",
        "Bob booked a meeting with me",
        "tell me how to send an email",
        "do not move my three o'clock",
        "any idea who I'm meeting with on Thursday morning",
        "so the standup, is that still at ten tomorrow or did someone move it",
        "I think I have coffee with Priya on Wednesday, can you check",
        "would I be free for a three hour block on Friday",
        "ugh, forget it, it doesn't matter",
    ],
)
def test_questions_and_statements_do_not_act(text: str) -> None:
    command = parse(text, CTX)
    assert command.intent not in RISKY or command.confidence < CONFIDENT, command


def test_fillers_are_whole_words_so_names_and_verbs_survive() -> None:
    booked = parse("book a call with Karl and Erin on Friday at two", CTX)
    assert booked.slots.attendees == ["Karl", "Erin"]
    erased = parse("Erase what you know about my gym schedule", CTX)
    assert (erased.intent, erased.slots.text) == (Intent.MEMORY_FORGET, "my gym schedule")
    ahead = parse("go ahead and email Priya about the launch", CTX)
    assert (ahead.intent, ahead.slots.attendees) == (Intent.EMAIL_SEND, ["Priya"])


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("thanks", Intent.CANCEL_TASK),
        ("can you help me", Intent.HELP),
        ("please", Intent.NOT_UNDERSTOOD),
    ],
)
def test_turns_made_of_polite_words(text: str, intent: Intent) -> None:
    assert parse(text, CTX).intent is intent


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        # the request after a reason, and "him"/"her" for the one person named in it
        (
            "Karl's waiting on the report, so could you email him saying it's done",
            Intent.EMAIL_SEND,
            {"attendees": ["Karl"], "text": "it's done"},
        ),
        (
            "I don't eat meat anymore so forget what I told you about my diet",
            Intent.MEMORY_FORGET,
            {"text": "my diet"},
        ),
        (
            "I'm allergic to peanuts, please keep that in mind from now on",
            Intent.MEMORY_REMEMBER,
            {"text": "I'm allergic to peanuts"},
        ),
        (
            "please store the fact that my car is a blue Golf",
            Intent.MEMORY_REMEMBER,
            {"text": "my car is a blue Golf"},
        ),
        (
            "wipe whatever you remember about my sister",
            Intent.MEMORY_FORGET,
            {"text": "my sister"},
        ),
        (
            "I've got physio on Friday at 8:45, put it in the calendar",
            Intent.CALENDAR_BOOK,
            {"title": "physio", "date": FRI, "time": "08:45"},
        ),
        ("cancel Erin's one-to-one", Intent.CALENDAR_CANCEL, {"attendees": ["Erin"]}),
        ("tell me all the stuff you're remembering", Intent.MEMORY_LIST, {}),
    ],
)
def test_context_before_the_request_is_not_the_request(
    text: str, intent: Intent, slots: dict[str, object]
) -> None:
    _assert_read_as(text, intent, slots)


def test_a_word_of_emphasis_is_not_a_correction() -> None:
    command = parse("Okay, what do you actually remember about me?", CTX)
    assert command.intent is Intent.MEMORY_LIST, command


def test_an_order_dictated_in_a_message_is_what_the_message_says() -> None:
    command = parse("write Karl an email saying please cancel the friday call", CTX)
    assert command.intent is It.EMAIL_DRAFT, command
    assert command.slots.attendees == ["Karl"]
    assert command.slots.text == "please cancel the friday call"
