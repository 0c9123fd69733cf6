"""The retrieval eval fixture: memories of several people in two tenants, and queries with the
memories that answer them.

A memory is (key, tenant, owner, scope, scope_ref, type, content). Keys of the memories that
answer a query are listed with the query; every other memory is, for that query, noise, and a
memory the asker may not read (another person's, another tenant's, another team's) is a leak
if it is ever returned. Many distractors are deliberately closer to the query than the right
answer (the same question about another person, or the same user id in another tenant).
"""

from __future__ import annotations

Memory = tuple[str, str, str, str, str, str, str]

ALICE = [
    ("a_seat", "preference", "Prefers aisle seats on flights."),
    ("a_airline", "preference", "Likes flying with KLM and collects Flying Blue miles."),
    ("a_home_airport", "fact", "Her home airport is Amsterdam Schiphol."),
    ("a_hotel", "preference", "Prefers hotels within walking distance of the office she visits."),
    ("a_train", "preference", "Takes the train instead of flying for trips under four hours."),
    ("a_passport", "fact", "Her passport expires in August 2028."),
    ("a_diet", "fact", "Alice is vegetarian."),
    ("a_allergy", "fact", "Alice is allergic to peanuts."),
    ("a_coffee", "preference", "Drinks oat-milk flat whites, no sugar."),
    ("a_lunch", "preference", "Likes Japanese food for team lunches."),
    ("a_restaurant", "fact", "Her favourite restaurant is Toscanini in Amsterdam."),
    ("a_wine", "preference", "Does not drink alcohol at business dinners."),
    ("a_units", "preference", "Wants temperatures in Celsius and distances in kilometres."),
    ("a_timezone", "fact", "Alice lives in the Europe/Amsterdam time zone."),
    ("a_language", "preference", "Wants answers in English even when writing in Dutch."),
    ("a_brief", "preference", "Prefers short answers with the conclusion first."),
    ("a_summary", "preference", "Wants an executive summary before any detailed analysis."),
    ("a_diagrams", "preference", "Likes diagrams more than long prose explanations."),
    ("a_email_tone", "preference", "Writes emails in an informal, friendly tone."),
    ("a_signature", "preference", "Signs her emails with just 'A.'"),
    ("a_meeting_time", "preference", "Avoids meetings before 10 in the morning."),
    ("a_focus", "procedure", "Blocks Wednesday afternoons for focused work, no meetings."),
    ("a_friday", "procedure", "Leaves work early on Fridays to pick up her son from school."),
    ("a_manager", "relationship", "Her manager is Priya Raman, head of product."),
    ("a_report_bob", "relationship", "Bob Meyer reports to Alice as a senior engineer."),
    ("a_report_carol", "relationship", "Carol Diaz is Alice's designer on the mobile app."),
    ("a_partner", "relationship", "Her husband is Tom; his birthday is 3 May."),
    ("a_son", "relationship", "Her son Max is eight years old and plays football."),
    ("a_mother", "relationship", "Her mother lives in Utrecht and is called Ingrid."),
    ("a_dog", "fact", "Alice has a border collie called Pixel."),
    ("a_gym", "procedure", "Goes to the gym on Monday and Thursday evenings."),
    ("a_running", "fact", "Is training for the Amsterdam half marathon in October."),
    ("a_doctor", "fact", "Her GP is Dr. van Dijk at the Jordaan practice."),
    ("a_eyes", "fact", "Wears contact lenses and needs a new prescription every year."),
    ("a_laptop", "fact", "Uses a MacBook Pro for work."),
    ("a_phone", "fact", "Has an Android phone, a Pixel 8."),
    ("a_editor", "preference", "Uses VS Code with the vim keybindings."),
    ("a_python", "preference", "Prefers Python type hints and pytest for new code."),
    ("a_dark", "preference", "Likes dark mode in every app."),
    ("a_notes", "procedure", "Keeps meeting notes in Notion, one page per project."),
    ("a_calendar", "fact", "Her work calendar is Google Calendar."),
    ("a_project_atlas", "fact", "Leads Project Atlas, the new mobile checkout, launching in Q3."),
    ("a_project_budget", "fact", "Project Atlas has a budget of 1.2 million euros."),
    ("a_okr", "fact", "Her OKR this quarter is raising checkout conversion by 5 percent."),
    ("a_customer", "fact", "Her biggest customer account is Northwind Traders."),
    ("a_renewal", "episode", "Northwind's contract renewal call went well on 12 November."),
    ("a_conf", "episode", "Presented at the Mobile Dev Summit in Berlin last spring."),
    ("a_promo", "episode", "Was promoted to engineering director in January."),
    ("a_learning", "preference", "Wants to learn Spanish before a trip to Madrid next year."),
    ("a_music", "preference", "Listens to jazz while working."),
    ("a_books", "preference", "Enjoys science fiction books, especially Ursula K. Le Guin."),
    ("a_podcast", "preference", "Follows the Hard Fork podcast about technology."),
    ("a_holiday", "episode", "Spent last summer's holiday hiking in the Dolomites."),
    ("a_vacation", "fact", "Has a holiday booked in Lisbon from 20 to 27 December."),
    ("a_car", "fact", "Does not own a car; cycles to the office."),
    ("a_bike", "fact", "Her bike is a grey Cortina, locked at the station."),
    ("a_address_city", "fact", "Lives in the Oud-West neighbourhood of Amsterdam."),
    ("a_office", "fact", "Works from the Amsterdam office on Tuesdays and Thursdays."),
    ("a_remote", "fact", "Works from home on Mondays, Wednesdays and Fridays."),
    ("a_payday", "fact", "Gets paid on the 25th of each month."),
    ("a_bank", "preference", "Wants budget summaries in euros, rounded to whole numbers."),
    ("a_charity", "fact", "Donates monthly to Doctors Without Borders."),
    ("a_birthday", "fact", "Alice's birthday is 14 February."),
    ("a_anniv", "fact", "Her wedding anniversary is 9 September."),
    ("a_gift", "preference", "Likes receiving books or plants as gifts."),
    ("a_flowers", "preference", "Her favourite flowers are tulips."),
    ("a_plants", "procedure", "Waters the office plants every Monday morning."),
    ("a_slack", "preference", "Prefers Slack messages to phone calls during work hours."),
    ("a_phone_calls", "preference", "Only wants phone calls for urgent matters."),
    ("a_notify", "preference", "Wants push notifications only for approvals and failures."),
    ("a_voice", "preference", "Likes the assistant to speak slowly on the phone."),
    ("a_name", "preference", "Likes to be called Ali by colleagues."),
    ("a_pronoun", "fact", "Uses she/her pronouns."),
    ("a_commute", "fact", "Her commute by bike takes 20 minutes."),
    ("a_weekend", "procedure", "Does the grocery shopping at the Saturday market."),
    ("a_recipe", "preference", "Likes cooking Indian curries on Sundays."),
    ("a_tea", "preference", "Drinks peppermint tea in the afternoon."),
    ("a_sleep", "procedure", "Goes to bed around 23:00 and does not want messages after 22:00."),
    ("a_expense", "procedure", "Submits expense reports on the last Friday of each month."),
    ("a_travel_policy", "procedure", "Books work travel through the Egencia portal."),
    ("a_visa", "fact", "Has a valid US ESTA until 2027."),
]

BOB = [
    ("b_seat", "preference", "Prefers window seats on flights."),
    ("b_airline", "preference", "Flies Lufthansa whenever possible."),
    ("b_home_airport", "fact", "His home airport is Frankfurt."),
    ("b_diet", "fact", "Bob eats everything but avoids spicy food."),
    ("b_allergy", "fact", "Bob is allergic to shellfish."),
    ("b_coffee", "preference", "Drinks his coffee black, a double espresso."),
    ("b_units", "preference", "Wants temperatures in Fahrenheit and distances in miles."),
    ("b_language", "preference", "Wants answers in German."),
    ("b_brief", "preference", "Likes detailed answers with all the background."),
    ("b_meeting_time", "preference", "Prefers early meetings, from 8 in the morning."),
    ("b_manager", "relationship", "His manager is Alice."),
    ("b_partner", "relationship", "His wife is Sabine; their anniversary is 2 June."),
    ("b_kids", "relationship", "Has two daughters, Lena and Mia."),
    ("b_dog", "fact", "Bob has a cat called Mochi."),
    ("b_gym", "procedure", "Swims every Tuesday morning before work."),
    ("b_laptop", "fact", "Uses a ThinkPad with Linux."),
    ("b_phone", "fact", "Has an iPhone 15."),
    ("b_editor", "preference", "Uses Neovim for everything."),
    ("b_lang", "preference", "Prefers Go for backend services."),
    ("b_project", "fact", "Works on the payments service of Project Atlas."),
    ("b_oncall", "procedure", "Is on call for payments every fourth week."),
    ("b_birthday", "fact", "Bob's birthday is 30 November."),
    ("b_holiday", "fact", "Has a holiday booked in Crete in July."),
    ("b_car", "fact", "Drives a blue Volkswagen ID.3."),
    ("b_music", "preference", "Listens to heavy metal while coding."),
    ("b_books", "preference", "Reads history books about the Roman empire."),
    ("b_restaurant", "fact", "His favourite restaurant is the Greek place near the office."),
    ("b_notify", "preference", "Wants every notification, including progress updates."),
    ("b_name", "preference", "Prefers to be called Robert in emails."),
    ("b_sleep", "procedure", "Starts work at 7:30 and stops at 16:00."),
    ("b_expense", "procedure", "Asks the assistant to file expenses every Monday."),
    ("b_learning", "preference", "Is learning Japanese with Duolingo."),
    ("b_commute", "fact", "Commutes by car, about 40 minutes each way."),
    ("b_remote", "fact", "Works fully remote from Frankfurt."),
    ("b_mother", "relationship", "His mother lives in Hamburg."),
    ("b_gift", "preference", "Likes receiving whisky as a gift."),
    ("b_flowers", "preference", "Is allergic to pollen, so no flowers please."),
    ("b_visa", "fact", "Needs a visa for his trip to India in March."),
    ("b_tea", "preference", "Never drinks tea."),
    ("b_focus", "procedure", "Keeps Thursday mornings free for deep work."),
]

CAROL = [
    ("c_seat", "preference", "Prefers extra legroom seats at the emergency exit."),
    ("c_diet", "fact", "Carol is vegan."),
    ("c_coffee", "preference", "Does not drink coffee; only green tea."),
    ("c_tool", "preference", "Designs everything in Figma."),
    ("c_laptop", "fact", "Uses an iPad Pro with an Apple Pencil for sketches."),
    ("c_manager", "relationship", "Her manager is Alice."),
    ("c_partner", "relationship", "Her partner is Jules, a photographer."),
    ("c_birthday", "fact", "Carol's birthday is 21 June."),
    ("c_units", "preference", "Wants distances in kilometres but temperatures in Fahrenheit."),
    ("c_meeting_time", "preference", "Prefers meetings after lunch."),
    ("c_brief", "preference", "Likes answers as bullet points."),
    ("c_music", "preference", "Listens to lo-fi beats while designing."),
    ("c_holiday", "fact", "Is going to Japan for three weeks in April."),
    ("c_remote", "fact", "Works from the Amsterdam office every day."),
    ("c_gym", "procedure", "Does yoga every morning at 7."),
    ("c_car", "fact", "Rides a red Vespa scooter to work."),
    ("c_dog", "fact", "Carol has two rabbits."),
    ("c_notify", "preference", "Wants a daily digest instead of individual notifications."),
    ("c_language", "preference", "Wants answers in Spanish."),
    ("c_allergy", "fact", "Carol is allergic to cats."),
    ("c_project", "fact", "Is redesigning the Project Atlas checkout screens."),
    ("c_books", "preference", "Loves graphic novels."),
    ("c_restaurant", "fact", "Her favourite restaurant is a vegan ramen bar in De Pijp."),
    ("c_expense", "procedure", "Files expenses once a quarter."),
    ("c_name", "preference", "Likes to be called Caz."),
    ("c_airline", "preference", "Flies Transavia for short trips because it is cheap."),
    ("c_hotel", "preference", "Prefers Airbnb apartments to hotels."),
    ("c_phone", "fact", "Has an iPhone 13 mini."),
    ("c_mother", "relationship", "Her mother lives in Valencia."),
    ("c_gift", "preference", "Likes receiving art supplies as a gift."),
]

# The same user id "alice" in another tenant: another person, who must never leak.
GLOBEX_ALICE = [
    ("g_seat", "preference", "Prefers aisle seats near the front of the plane."),
    ("g_airline", "preference", "Flies British Airways and collects Avios."),
    ("g_home_airport", "fact", "Her home airport is London Heathrow."),
    ("g_diet", "fact", "Is vegetarian and does not eat eggs."),
    ("g_allergy", "fact", "Is allergic to peanuts and tree nuts."),
    ("g_coffee", "preference", "Drinks flat whites with oat milk."),
    ("g_units", "preference", "Wants temperatures in Celsius and distances in miles."),
    ("g_brief", "preference", "Prefers short answers, conclusion first."),
    ("g_manager", "relationship", "Her manager is Hank Scorpio."),
    ("g_partner", "relationship", "Her husband is Tim; his birthday is 5 May."),
    ("g_son", "relationship", "Has a son who plays rugby."),
    ("g_dog", "fact", "Has a border collie called Biscuit."),
    ("g_gym", "procedure", "Goes to the gym on Monday and Thursday mornings."),
    ("g_laptop", "fact", "Uses a Dell XPS for work."),
    ("g_project", "fact", "Leads Project Hammock, a hammock factory rollout."),
    ("g_birthday", "fact", "Her birthday is 14 March."),
    ("g_vacation", "fact", "Has a holiday booked in Porto in December."),
    ("g_meeting_time", "preference", "Avoids meetings before 9 in the morning."),
    ("g_friday", "procedure", "Leaves early on Fridays for her son's rugby practice."),
    ("g_customer", "fact", "Her biggest customer is Initech."),
    ("g_restaurant", "fact", "Her favourite restaurant is Dishoom in London."),
    ("g_language", "preference", "Wants answers in French."),
    ("g_notify", "preference", "Wants push notifications only for approvals."),
    ("g_name", "preference", "Likes to be called Al."),
    ("g_expense", "procedure", "Submits expense reports on the first Monday of each month."),
    ("g_music", "preference", "Listens to classical music while working."),
    ("g_sleep", "procedure", "Does not want messages after 21:00."),
    ("g_timezone", "fact", "Lives in the Europe/London time zone."),
    ("g_calendar", "fact", "Her work calendar is Outlook."),
    ("g_okr", "fact", "Her OKR is cutting factory downtime by 10 percent."),
]

DAN = [
    ("d_seat", "preference", "Always books business class."),
    ("d_diet", "fact", "Dan is on a keto diet."),
    ("d_units", "preference", "Wants temperatures in Fahrenheit."),
    ("d_manager", "relationship", "His manager is Hank Scorpio."),
    ("d_project", "fact", "Runs the Globex volcano lair renovation."),
    ("d_birthday", "fact", "Dan's birthday is 1 April."),
    ("d_coffee", "preference", "Drinks cold brew only."),
    ("d_car", "fact", "Drives a Tesla Model S."),
    ("d_dog", "fact", "Has a German shepherd called Rex."),
    ("d_language", "preference", "Wants answers in Italian."),
]

ENG_TEAM = [
    (
        "t_deploy",
        "procedure",
        "The engineering team deploys to production on Tuesdays and Thursdays, never on Fridays.",
    ),
    ("t_standup", "procedure", "Engineering stand-up is at 9:45 every weekday in the Atlas room."),
    ("t_oncall", "procedure", "On-call handover happens on Monday at noon."),
    ("t_review", "procedure", "Every pull request needs two approvals before merging."),
    ("t_ci", "fact", "The team's CI runs on GitHub Actions."),
    ("t_cloud", "fact", "Production runs on AWS in eu-west-1."),
    ("t_retro", "procedure", "Sprint retrospectives are every second Friday at 15:00."),
    ("t_docs", "procedure", "Architecture decisions are written down as ADRs in the docs repo."),
    ("t_incident", "procedure", "Incidents are declared in the #incidents Slack channel."),
    ("t_lang", "fact", "The backend is written in Go and Python."),
]

# Another team of the same tenant: alice and bob are not in it.
FINANCE_TEAM = [
    ("f_close", "procedure", "Finance closes the books on the third working day of the month."),
    ("f_budget", "fact", "The 2027 marketing budget is 4 million euros."),
    ("f_expense", "procedure", "Expense reports above 500 euros need the CFO's approval."),
    ("f_deploy", "procedure", "Finance systems are only changed during the Saturday window."),
    ("f_travel", "procedure", "Finance staff book travel through the CWT portal."),
]

ACME_TENANT = [
    ("x_holidays", "fact", "Acme's office is closed between Christmas and New Year."),
    ("x_wifi", "fact", "Guest wifi in the Amsterdam office is called Acme-Guest."),
    ("x_travel", "procedure", "Company policy: economy class for flights under six hours."),
    ("x_expense", "procedure", "Expenses must be submitted within 30 days with receipts."),
    ("x_security", "procedure", "Laptops must lock after five minutes of inactivity."),
    ("x_lunch", "fact", "Free lunch is served in the Amsterdam office on Thursdays."),
    ("x_address", "fact", "The Amsterdam office is at Keizersgracht 100."),
    ("x_hr", "fact", "HR questions go to people@acme.example."),
    ("x_parking", "fact", "Bike parking is in the basement of the Amsterdam office."),
    ("x_values", "fact", "Acme's company values are candour, craft and care."),
]

GLOBEX_TENANT = [
    ("y_travel", "procedure", "Globex policy: business class is allowed for all flights."),
    ("y_expense", "procedure", "Globex expenses are filed in SAP Concur within 14 days."),
    ("y_office", "fact", "Globex headquarters are in Cypress Creek."),
    ("y_holidays", "fact", "Globex closes for the first week of August."),
    ("y_wifi", "fact", "Globex guest wifi is called Globex-Visitor."),
]


def memories() -> list[Memory]:
    """Every memory of the fixture."""
    out: list[Memory] = []

    def add(
        rows: list[tuple[str, str, str]],
        tenant: str,
        owner: str,
        scope: str = "user",
        scope_ref: str | None = None,
    ) -> None:
        for key, mtype, content in rows:
            out.append((key, tenant, owner, scope, scope_ref or owner, mtype, content))

    add(ALICE, "acme", "alice")
    add(BOB, "acme", "bob")
    add(CAROL, "acme", "carol")
    add(GLOBEX_ALICE, "globex", "alice")
    add(DAN, "globex", "dan")
    add(ENG_TEAM, "acme", "bob", "team", "eng")
    add(FINANCE_TEAM, "acme", "erin", "team", "finance")
    add(ACME_TENANT, "acme", "hr", "tenant", "acme")
    add(GLOBEX_TENANT, "globex", "hr", "tenant", "globex")
    return out


# Team memberships (user scopes) per (tenant, user).
TEAMS = {
    ("acme", "alice"): ["team:eng"],
    ("acme", "bob"): ["team:eng"],
    ("acme", "carol"): [],
    ("acme", "erin"): ["team:finance"],
    ("globex", "alice"): [],
    ("globex", "dan"): [],
}

# (tenant, user, query, keys of the memories that answer it)
QUERIES: list[tuple[str, str, str, list[str]]] = [
    ("acme", "alice", "Book me a flight to Lisbon, which seat should I pick?", ["a_seat"]),
    ("acme", "alice", "Which airline do I usually fly with?", ["a_airline"]),
    ("acme", "alice", "What airport do I usually depart from?", ["a_home_airport"]),
    (
        "acme",
        "alice",
        "Find me a hotel for my trip to the Berlin office",
        ["a_hotel", "a_travel_policy"],
    ),
    ("acme", "alice", "Should I fly or take the train to Paris?", ["a_train"]),
    ("acme", "alice", "When does my passport run out?", ["a_passport"]),
    ("acme", "alice", "Order lunch for me, anything I can't eat?", ["a_diet", "a_allergy"]),
    ("acme", "alice", "Get me a coffee on the way in", ["a_coffee"]),
    (
        "acme",
        "alice",
        "Suggest a restaurant for dinner tonight",
        ["a_restaurant", "a_diet", "a_wine"],
    ),
    ("acme", "alice", "What's the weather going to be like tomorrow?", ["a_units"]),
    ("acme", "alice", "How far is it from my place to the airport?", ["a_units", "a_home_airport"]),
    ("acme", "alice", "What time zone am I in?", ["a_timezone"]),
    ("acme", "alice", "How should you format your answers for me?", ["a_brief", "a_summary"]),
    ("acme", "alice", "Explain how the new caching layer works", ["a_diagrams", "a_summary"]),
    (
        "acme",
        "alice",
        "Draft an email to the design team about the launch",
        ["a_email_tone", "a_signature"],
    ),
    (
        "acme",
        "alice",
        "Schedule a meeting with Priya next week",
        ["a_meeting_time", "a_manager", "a_focus"],
    ),
    ("acme", "alice", "Can I have a meeting on Wednesday afternoon?", ["a_focus"]),
    ("acme", "alice", "Why do I leave early on Fridays?", ["a_friday"]),
    ("acme", "alice", "Who is my boss?", ["a_manager"]),
    ("acme", "alice", "Who is on my team?", ["a_report_bob", "a_report_carol"]),
    ("acme", "alice", "When is my husband's birthday?", ["a_partner"]),
    ("acme", "alice", "How old is my son?", ["a_son"]),
    ("acme", "alice", "Remind me to call my mum", ["a_mother"]),
    ("acme", "alice", "What's my dog's name?", ["a_dog"]),
    ("acme", "alice", "Which evenings do I work out?", ["a_gym"]),
    ("acme", "alice", "What race am I training for?", ["a_running"]),
    ("acme", "alice", "Book an appointment with my doctor", ["a_doctor"]),
    ("acme", "alice", "What computer do I use at work?", ["a_laptop"]),
    ("acme", "alice", "Set up my code editor", ["a_editor", "a_dark"]),
    ("acme", "alice", "Write a small Python function for me", ["a_python"]),
    ("acme", "alice", "Where do I keep my meeting notes?", ["a_notes"]),
    (
        "acme",
        "alice",
        "What project am I leading and when does it launch?",
        ["a_project_atlas", "a_project_budget"],
    ),
    ("acme", "alice", "What is my goal this quarter?", ["a_okr"]),
    ("acme", "alice", "Which customer matters most to me?", ["a_customer", "a_renewal"]),
    ("acme", "alice", "Put on some music for me", ["a_music"]),
    ("acme", "alice", "Recommend a book to read", ["a_books"]),
    ("acme", "alice", "When is my holiday in Lisbon?", ["a_vacation"]),
    ("acme", "alice", "How do I get to work?", ["a_car", "a_commute", "a_bike"]),
    ("acme", "alice", "Which days am I in the office?", ["a_office", "a_remote"]),
    ("acme", "alice", "When do I get my salary?", ["a_payday"]),
    ("acme", "alice", "When is my birthday?", ["a_birthday"]),
    ("acme", "alice", "What gift would I like?", ["a_gift", "a_flowers"]),
    (
        "acme",
        "alice",
        "How should you reach me about something urgent?",
        ["a_phone_calls", "a_slack"],
    ),
    ("acme", "alice", "Which notifications should you send me?", ["a_notify"]),
    ("acme", "alice", "What do my colleagues call me?", ["a_name"]),
    ("acme", "alice", "Is it okay to message me at 10:30 at night?", ["a_sleep"]),
    ("acme", "alice", "When should I submit my expenses?", ["a_expense", "x_expense"]),
    ("acme", "alice", "When does the team deploy to production?", ["t_deploy"]),
    ("acme", "alice", "When is stand-up?", ["t_standup"]),
    ("acme", "alice", "How many approvals does a pull request need?", ["t_review"]),
    ("acme", "alice", "What class can I book for a flight to New York?", ["x_travel"]),
    ("acme", "alice", "What is the guest wifi network?", ["x_wifi"]),
    ("acme", "alice", "Is the office open between Christmas and New Year?", ["x_holidays"]),
    ("acme", "bob", "Which seat do I prefer on a plane?", ["b_seat"]),
    ("acme", "bob", "What's the weather in Frankfurt tomorrow?", ["b_units"]),
    ("acme", "bob", "Order me a coffee", ["b_coffee"]),
    ("acme", "bob", "Who is my manager?", ["b_manager"]),
    ("acme", "bob", "What am I allergic to?", ["b_allergy"]),
    ("acme", "bob", "When is my on-call week?", ["b_oncall", "t_oncall"]),
    ("acme", "bob", "What language should you answer me in?", ["b_language"]),
    ("acme", "bob", "When can we deploy?", ["t_deploy"]),
    ("acme", "carol", "What can I eat at the team dinner?", ["c_diet"]),
    ("acme", "carol", "Which design tool do I use?", ["c_tool"]),
    ("acme", "carol", "When is my trip to Japan?", ["c_holiday"]),
    ("acme", "carol", "What should you call me?", ["c_name"]),
    ("acme", "carol", "What is the company's travel class policy?", ["x_travel"]),
    ("globex", "alice", "Which airline do I usually fly with?", ["g_airline"]),
    ("globex", "alice", "Who is my boss?", ["g_manager"]),
    ("globex", "alice", "What is the travel class policy?", ["y_travel"]),
]

# Questions with no answer among the asker's readable memories: anything returned is noise
# (and the close matches that exist belong to other people).
NO_ANSWER: list[tuple[str, str, str]] = [
    ("acme", "alice", "What is my blood type?"),
    ("acme", "alice", "When does finance close the books?"),
    ("acme", "carol", "When does the engineering team deploy?"),
    ("acme", "bob", "When does my passport expire?"),
    ("globex", "dan", "Who is Alice's husband?"),
]
