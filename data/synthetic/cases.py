"""Synthetic case records whose category, intervention and priority follow from the narrative.

Each narrative is built from three kinds of sentences, and each label is decided by exactly one of them:

- the **issue** (what the caller reports) is written for one sub-category, so `category` follows
  from it. Near-duplicate labels are told apart by what the caller asks: `Legal issues` and
  `School related issues` (Advice and Counselling) are the caller's own situation needing advice,
  `Legal Issues` and `School Related Issues` (Information) are general questions about the law or the
  school system; `Relationships (Student/Teacher)` is a conflict with a teacher, `Student/ Teacher
  Relationship` a teacher crossing personal boundaries; the VANE abuse labels are harm done to the
  child by a carer or person of trust, the GBV labels violence between adults or by partners that
  reaches the child;
- the **risk assessment** says whether the child is in danger now (priority "1"), needs action within
  a day (priority "2") or is safe and the caller wants advice or information (priority "3");
- the counsellor's **action** says what was done, one sentence per intervention (two for the small
  share of multi-valued interventions, written "Counselling, Referral" as in the real data).

The interventions a sub-category can get depend on its main category and priority (tables below).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from ...modeling_attention_fusion.labels_attention_fusion import SUB_TO_MAIN_CATEGORY
from .case_issues import ISSUES, RISK_CUES, SUB_CATEGORY_SPECS
from .ner import render
from .vocab import (
    GENDER_WORDS,
    WEEKDAYS,
    relations_for,
    sample_given_name,
    sample_landmark,
    sample_phone,
    sample_place,
    sample_surname,
)

# (main category, priority) -> interventions the counsellor can choose from.
INTERVENTION_OPTIONS: dict[str, dict[str, list[str]]] = {
    "VANE": {
        "1": ["Police Referral", "Emergency Response", "Child Protection", "Shelter", "Medical Referral"],
        "2": ["Referral", "Home Visit", "Case Conference", "Legal Aid", "Child Protection", "Psychosocial Support"],
        "3": ["Counselling", "Awareness/Information Provided", "Follow-up"],
    },
    "GBV": {
        "1": ["Police Referral", "Emergency Response", "Shelter", "Medical Referral"],
        "2": ["Referral", "Legal Aid", "Psychosocial Support", "Case Conference", "Home Visit"],
        "3": ["Counselling", "Signposting", "Awareness/Information Provided"],
    },
    "Advice and Counselling": {
        "1": ["Emergency Response", "Police Referral", "Medical Referral", "Shelter"],
        "2": ["Referral", "Psychosocial Support", "Mediation", "Follow-up", "Educational Support", "Home Visit"],
        "3": ["Counselling", "Signposting", "Educational Support", "Mediation"],
    },
    "Child Maintenance & Custody": {
        "1": ["Child Protection", "Shelter", "Emergency Response"],
        "2": ["Legal Aid", "Mediation", "Referral", "Home Visit", "Case Conference"],
        "3": ["Signposting", "Counselling", "Awareness/Information Provided", "Mediation"],
    },
    "Disability": {
        "1": ["Medical Referral", "Child Protection"],
        "2": ["Medical Referral", "Referral", "Educational Support", "Home Visit"],
        "3": ["Signposting", "Counselling", "Educational Support", "Awareness/Information Provided"],
    },
    "Information": {
        "3": ["Awareness/Information Provided", "Signposting", "Counselling"],
    },
    "Nutrition": {
        "1": ["Medical Referral", "Emergency Response"],
        "2": ["Nutritional Support", "Medical Referral", "Home Visit", "Follow-up"],
        "3": ["Nutritional Support", "Counselling", "Awareness/Information Provided"],
    },
}
MULTI_INTERVENTION_SHARE = 0.08
PRIORITY_WEIGHTS: dict[str, float] = {"1": 2.0, "2": 1.5, "3": 1.0}

# What the counsellor does, per intervention: first-person (dialogue) and third-person (case note).
ACTIONS: dict[str, tuple[list[str], list[str]]] = {
    "Counselling": (
        [
            "Let us talk through how you can support {child} and what to say to {them} tonight.",
            "I want to spend a few minutes with you on how to cope and how to encourage {child}.",
            "Let me counsel you on handling this calmly; listening to {child} without blame matters most.",
            "We can work through your feelings about this together, and then how to talk with {child}.",
        ],
        [
            "The counsellor counselled the caller on how to support {child}.",
            "Counselling was offered on coping and on how to talk with {child}.",
            "The caller received counselling on handling the situation calmly.",
            "The counsellor worked through the caller's worries and how to encourage {child}.",
        ],
    ),
    "Referral": (
        [
            "I am referring this case to the children's officer in {county}, who will contact you.",
            "I will pass the case to the social welfare office in {town}; they will take it from here.",
            "I am linking {child}'s case to a partner organisation in {county} that handles such matters.",
            "The sub-county children's office in {town} will receive this case from me today.",
        ],
        [
            "The case was referred to the sub-county children's officer in {county}.",
            "The counsellor referred the matter to the social welfare office in {town}.",
            "{child}'s case was referred to a partner organisation working in {county}.",
            "A referral was made to the children's office in {town} for further action.",
        ],
    ),
    "Follow-up": (
        [
            "I will call you again on {weekday} to find out how {child} is doing.",
            "Let us keep in touch; I will check on {child} with you on {weekday}.",
            "I am opening a follow-up on this case and will ring you on {weekday}.",
            "Expect my call on {weekday}, so we see whether things have improved for {child}.",
        ],
        [
            "A follow-up call was scheduled for {weekday} to check on {child}.",
            "The counsellor opened a follow-up and will call the caller on {weekday}.",
            "The case was kept open for follow-up on {weekday}.",
            "The caller agreed to a follow-up call on {weekday} about {child}'s progress.",
        ],
    ),
    "Legal Aid": (
        [
            "I am linking you with a legal aid lawyer who will take up the case at no cost.",
            "A lawyer from a free legal aid clinic will represent you; I am sharing your details now.",
            "You will get free legal representation; the legal aid desk will call you to open the file.",
            "I am booking you with the pro bono lawyers so the matter can go to court properly.",
        ],
        [
            "The caller was linked to a free legal aid lawyer to pursue the matter in court.",
            "The counsellor connected the caller with a legal aid clinic for representation.",
            "Legal aid was arranged: a pro bono lawyer will take up the case.",
            "The caller's details were shared with a legal aid desk to open a court file.",
        ],
    ),
    "Psychosocial Support": (
        [
            "I will connect {child} with a psychologist for regular therapy sessions.",
            "{child} needs ongoing psychosocial support; I am enrolling {them} with a trained therapist.",
            "A psychosocial support group meets near you; I am registering {child} for the sessions.",
            "I am arranging trauma counselling sessions for {child} with our psychologist.",
        ],
        [
            "{child} was enrolled for psychosocial support sessions with a trained therapist.",
            "The counsellor arranged regular therapy for {child} with a psychologist.",
            "{child} was registered with a psychosocial support group.",
            "Trauma counselling sessions were arranged for {child}.",
        ],
    ),
    "Medical Referral": (
        [
            "Take {child} to {health} today; I am notifying them to expect you.",
            "{child} must be examined by a doctor at {health}; I am referring {them} there.",
            "Please go straight to {health} with {child}; the clinicians will be waiting.",
            "I am writing a medical referral so {child} is seen at {health} without delay.",
        ],
        [
            "The counsellor referred {child} for medical examination at {health}.",
            "{child} was referred to {health} for treatment.",
            "A medical referral to {health} was made for {child}.",
            "The caller was directed to take {child} to {health}, which was notified.",
        ],
    ),
    "Home Visit": (
        [
            "A social worker will come to your home this week to see {child}.",
            "I am arranging for our field officer to visit {child} at home.",
            "Someone from the children's office will visit the home and assess how {child} lives.",
            "Expect a home visit from the community social worker in the coming days.",
        ],
        [
            "A home visit by the area social worker was arranged.",
            "The field officer will visit {child}'s home to assess the situation.",
            "The counsellor arranged a home visit to see {child}.",
            "A social worker was assigned to visit the home this week.",
        ],
    ),
    "Case Conference": (
        [
            "I will bring the school, the chief and the children's officer together to agree on a plan.",
            "We need everyone in one room; I am calling a case conference on {child}'s matter.",
            "I am convening the teachers, the area chief and the social worker to plan for {child}.",
            "A case conference will decide the next steps, with the family and the officers present.",
        ],
        [
            "A case conference with the school, the chief and the children's officer was called.",
            "The counsellor convened a case conference to agree on a plan for {child}.",
            "Stakeholders will meet in a case conference on {child}'s situation.",
            "A multi-agency case conference was arranged for the family.",
        ],
    ),
    "Police Referral": (
        [
            "Go to {police} and report this; I am alerting the officers at the gender desk.",
            "This must be reported to the police; {police} is expecting you and {child}.",
            "I am forwarding the case to {police} so that they can arrest the suspect.",
            "Please record a statement at {police}; I have informed the officer in charge.",
        ],
        [
            "The case was referred to {police} for investigation.",
            "The counsellor reported the matter to the gender desk at {police}.",
            "The caller was sent to record a statement at {police}, which was alerted.",
            "The case was forwarded to {police} for action against the suspect.",
        ],
    ),
    "Child Protection": (
        [
            "I am reporting this to the child protection team so {child} can be removed from harm.",
            "The child protection officers in {county} will act today to keep {child} safe.",
            "I am opening a child protection case; the officers will secure {child}.",
            "The child protection unit is being informed right now about {child}.",
        ],
        [
            "The child protection unit was notified to secure {child}'s safety.",
            "A child protection case was opened and the officers in {county} informed.",
            "The counsellor alerted child protection officers to remove {child} from harm.",
            "{child}'s case was escalated to the child protection team.",
        ],
    ),
    "Emergency Response": (
        [
            "I am sending the emergency response team to {child} right now.",
            "Stay on the line; a rescue team is on its way to {child}.",
            "This is an emergency; our response team and the nearest officers are going to {child} now.",
            "I have activated an emergency rescue for {child}; they will be there within the hour.",
        ],
        [
            "An emergency rescue was dispatched to {child}'s location immediately.",
            "The counsellor activated the emergency response team for {child}.",
            "A rescue team was sent to {child} while the caller stayed on the line.",
            "Emergency response was triggered and officers went to {child} at once.",
        ],
    ),
    "Mediation": (
        [
            "I can arrange a meeting where the family sits down with a mediator.",
            "Let us bring both sides together with a neutral mediator to find a solution.",
            "I will set up a mediation session at the children's office for the family.",
            "A mediator can help you and the other party agree; I am booking a session.",
        ],
        [
            "The counsellor arranged mediation between the family members.",
            "A mediation session at the children's office was set up.",
            "Both parties were invited to mediation to resolve the matter.",
            "The family was booked for mediation with a neutral mediator.",
        ],
    ),
    "Shelter": (
        [
            "We will place {child} in a safe house tonight.",
            "I am arranging a place at a rescue centre so {child} does not go back there.",
            "{child} will stay at a shelter until the matter is settled.",
            "I am finding {child} a bed at a children's rescue home today.",
        ],
        [
            "{child} was placed in a rescue centre.",
            "The counsellor arranged a safe house for {child}.",
            "A place at a shelter was secured for {child}.",
            "{child} was moved to a children's rescue home.",
        ],
    ),
    "Nutritional Support": (
        [
            "I will link you with the nutrition officer at {health} for a feeding plan and supplements.",
            "The nutritionist at {health} will give {child} supplements and check {poss} weight.",
            "I am enrolling {child} in the feeding programme run at {health}.",
            "Let me connect you with a nutritionist who will draw up a meal plan for {child}.",
        ],
        [
            "The caller was linked to the nutritionist at {health} for nutritional support.",
            "{child} was enrolled in the feeding programme at {health}.",
            "Supplements and a feeding plan were arranged through {health}.",
            "The counsellor connected the caller with a nutrition officer.",
        ],
    ),
    "Educational Support": (
        [
            "I will contact the education office about a bursary for {child}.",
            "I am asking the education office in {county} to find a suitable school placement for {child}.",
            "The education officer will help {child} get back into class; I am sending the request.",
            "We will link {child} with a school support programme that covers fees and materials.",
        ],
        [
            "The case was linked to the education office for school support.",
            "A bursary request was sent to the education office in {county}.",
            "The counsellor sought a suitable school placement for {child}.",
            "{child} was linked to a school support programme.",
        ],
    ),
    "Signposting": (
        [
            "You can go to the children's office in {town} yourself; take {child}'s documents along.",
            "The office that handles this is in {town}; I will give you the directions and the hours.",
            "Here are the contacts of the office you need; you can visit them on a weekday morning.",
            "The right place for this is the registration office in {town}; they open at eight.",
        ],
        [
            "The caller was given the contacts of the relevant office to approach directly.",
            "The counsellor directed the caller to the office in {town} and its hours.",
            "The caller was signposted to the appropriate service in {town}.",
            "Directions to the responsible office were provided for the caller to pursue.",
        ],
    ),
    "Awareness/Information Provided": (
        [
            "Let me explain what the law says and what your options are.",
            "Here is the information you asked for, step by step.",
            "I will explain how the system works, so you know what to expect.",
            "These are the facts you need; children have rights that protect them in such cases.",
        ],
        [
            "The counsellor explained the relevant information to the caller.",
            "Information on the law and the available options was provided.",
            "The caller was made aware of the rights of children and the procedures.",
            "The counsellor provided the requested information step by step.",
        ],
    ),
}

GREETINGS = [
    "Child helpline, good morning. How can I help?",
    "Hello, you are through to the child helpline. Go ahead.",
    "Habari, this is the child helpline. What is happening?",
    "Good evening, child helpline. I am listening.",
    "Child helpline, you are welcome. Tell me why you are calling.",
]
CALLER_INTROS = [
    "I am {caller}, {a_relation} from {place}. I am calling about {child}, a {gender} aged {age}.",
    "My name is {caller} from {place}. It is about {child}, a {gender} of {age} years.",
    "This is {caller}, calling from {place} as {a_relation}. The child is {child}, {age} years old, a {gender}.",
    "{caller} here, from {place}. I want to talk about {child}; {they} is a {gender} aged {age}.",
    "Hello. I am {caller}, {child}'s {relation}, and we live in {place}. {child} is a {gender} aged {age}.",
]
PROMPTS = [
    "Tell me what is going on.",
    "I am listening. What happened?",
    "Take your time and explain the situation.",
    "What would you like to share about {child}?",
    "Okay. What is the problem?",
]
PROBES = [
    "Where is {child} right now?",
    "Is {child} safe at the moment?",
    "How is {child} doing today?",
    "Who is with {child} now?",
    "What is the situation with {child} at this moment?",
]
# Neutral turns: they say nothing about the category, the risk or the action, only make calls longer.
NEUTRAL_QUESTIONS = [
    "How long have you known {child}?",
    "Who else lives in the home?",
    "Which class is {child} in?",
    "How did you get this number?",
    "Does {child} have brothers or sisters?",
    "How are you feeling about all this?",
    "Which area exactly do you live in?",
    "Is there anything else you noticed?",
    "How does {child} spend the day?",
    "I hear you. Go on.",
]
DIALOGUE_FILLERS = [
    "{child} lives with {poss} family in a small house near {landmark}.",
    "I have known the family for many years.",
    "{child} is the second born in a family of four.",
    "We live in {town}, near {landmark}.",
    "I did not know whom else to ask.",
    "I got this number from a poster at {landmark}.",
    "{child} is a quiet child who does not talk much.",
    "{They} likes football and drawing when {they} gets the chance.",
    "The family moved to {town} about three years ago.",
    "{child} is in class six at the school near {landmark}.",
    "I am worried, I could not sleep last night thinking about it.",
    "We are a small family; I work at the market during the day.",
    "{child}'s grandmother also lives with us.",
    "I tried to talk about it with the neighbours first.",
    "Our phone network is bad here, the call may drop.",
    "I walked to {landmark} to get a signal for this call.",
]
NOTE_FILLERS = [
    "The family lives in a small house near {landmark}.",
    "The caller has known the family for many years.",
    "{child} is the second born in a family of four.",
    "The caller found the helpline number on a poster at {landmark}.",
    "The caller sounded worried but explained clearly.",
    "{child} is described as quiet and shy.",
    "The family moved to {town} about three years ago.",
    "The caller works at the market in {town}.",
    "{child}'s grandmother also lives in the home.",
    "The call was made from near {landmark} because of poor network.",
    "The caller had first spoken to the neighbours.",
    "{child} enjoys football and drawing, according to the caller.",
]
ENDINGS_DIALOGUE = [
    "Okay, I will do that. || Call back any time if anything changes.",
    "Thank you, I feel better now. || You did the right thing by calling. Goodbye.",
    "I understand. || We will stay in touch. Take care.",
    "Asante sana. || Karibu. Goodbye.",
]
ENDINGS_NOTE = [
    "The caller agreed with the plan.",
    "The caller was advised to call back if anything changes.",
    "The call ended with the caller calmer.",
    "",
]


def _people(rng: random.Random, spec: dict[str, Any]) -> dict[str, Any]:
    place = sample_place(rng)
    child_gender = spec.get("gender") or rng.choice(["female", "male"])
    used: set[str] = set()

    def person(gender: str) -> tuple[str, str]:
        given = sample_given_name(rng, gender, avoid=used)
        surname = sample_surname(rng, avoid=used | {given})
        used.update((given, surname))
        return given, surname

    low, high = spec.get("ages", (3, 17))
    people = {
        "place": place,
        "child_gender": child_gender,
        "child": person(child_gender),
        "child_age": rng.randint(low, high),
        "caller_gender": rng.choice(["female", "male"]),
        "counsellor": person(rng.choice(["female", "male"]))[0],
        "perp_role": rng.choice(spec["perps"]) if spec.get("perps") else "",
    }
    people["caller"] = person(people["caller_gender"])
    if people["perp_role"]:
        people["perp_gender"] = "female" if people["perp_role"] in {"stepmother", "mother", "aunt"} else "male"
        people["perp"] = person(people["perp_gender"])
    return people


def _slots(rng: random.Random, people: dict[str, Any]) -> dict[str, tuple[str, None]]:
    place = people["place"]
    female = people["child_gender"] == "female"
    values = {
        "child": people["child"][0],
        "age": str(people["child_age"]),
        "gender": rng.choice(GENDER_WORDS[people["child_gender"]]),
        "they": "she" if female else "he",
        "They": "She" if female else "He",
        "them": "her" if female else "him",
        "poss": "her" if female else "his",
        "caller": " ".join(people["caller"]),
        "relation": rng.choice(relations_for(people["caller_gender"], exclude=people["perp_role"])),
        "place": place.phrase(rng),
        "county": place.county,
        "town": place.town,
        "landmark": sample_landmark(rng, place),
        "health": sample_landmark(rng, place, "health"),
        "police": sample_landmark(rng, place, "police"),
        "weekday": rng.choice(WEEKDAYS),
        "perp": people["perp_role"] or "person responsible",
    }
    values["a_relation"] = ("an " if values["relation"][0] in "aeiou" else "a ") + values["relation"]
    return {name: (value, None) for name, value in values.items()}


def _fill(template: str, slots: dict[str, tuple[str, None]]) -> str:
    return render(template, slots)[0]


def _narrative(rng: random.Random, sub: str, priority: str, interventions: list[str], slots: dict) -> str:
    spec = SUB_CATEGORY_SPECS[sub]
    issues = rng.sample(ISSUES[sub], k=min(len(ISSUES[sub]), rng.choice([1, 1, 2])))
    risk = rng.choice(RISK_CUES[(priority, "harm" if spec.get("perps") else "need")])
    extra = rng.randint(8, 14) if rng.random() < 0.1 else rng.randint(0, 5)  # a tenth are long calls
    if rng.random() < 0.6:  # dialogue
        lines = [("Counsellor", rng.choice(GREETINGS))]
        lines.append(("Caller", rng.choice(CALLER_INTROS)))
        lines.append(("Counsellor", rng.choice(PROMPTS)))
        lines += [("Caller", issue) for issue in issues]
        questions = rng.sample(NEUTRAL_QUESTIONS, k=min(extra, len(NEUTRAL_QUESTIONS)))
        answers = rng.sample(DIALOGUE_FILLERS, k=min(extra, len(DIALOGUE_FILLERS)))
        exchanges = [
            turn for pair in zip(questions, answers) for turn in (("Counsellor", pair[0]), ("Caller", pair[1]))
        ]
        split = rng.randint(0, len(exchanges) // 2) * 2
        lines += exchanges[:split]
        lines += [("Counsellor", rng.choice(PROBES)), ("Caller", risk)]
        lines += exchanges[split:]
        lines += [("Counsellor", rng.choice(ACTIONS[name][0])) for name in interventions]
        for index, part in enumerate(rng.choice(ENDINGS_DIALOGUE).split(" || ")):
            lines.append(("Caller" if index == 0 else "Counsellor", part))
        return "\n".join(f"{speaker}: {_fill(text, slots)}" for speaker, text in lines)
    sentences = [
        "{caller}, {a_relation} from {place}, called about {child}, a {gender} aged {age}.",
        *[f'The caller said: "{issue}"' for issue in issues],
        *rng.sample(NOTE_FILLERS, k=min(extra, len(NOTE_FILLERS))),
        f"Assessment: {risk}",
        *[rng.choice(ACTIONS[name][1]) for name in interventions],
        rng.choice(ENDINGS_NOTE),
    ]
    return " ".join(_fill(sentence, slots) for sentence in sentences if sentence)


def _interventions(rng: random.Random, main: str, priority: str) -> list[str]:
    options = INTERVENTION_OPTIONS[main][priority]
    chosen = rng.choice(options)
    if chosen != "Counselling" and rng.random() < MULTI_INTERVENTION_SHARE:
        return ["Counselling", chosen]
    return [chosen]


def _person_record(given_surname: tuple[str, str], gender: str, **extra: Any) -> dict[str, Any]:
    return {"gender": gender, "first_name": given_surname[0], "last_name": given_surname[1], **extra}


def make_case_record(rng: random.Random, index: int, sub: str, timestamp: int) -> dict[str, Any]:
    """One case record whose `category`, `intervention` and `priority` follow from its `narrative`."""
    spec = SUB_CATEGORY_SPECS[sub]
    main = SUB_TO_MAIN_CATEGORY[sub]
    # Critical and urgent cases are drawn more often than routine ones where a sub-category allows them.
    priority = rng.choices(spec["priorities"], weights=[PRIORITY_WEIGHTS[p] for p in spec["priorities"]])[0]
    interventions = _interventions(rng, main, priority)
    people = _people(rng, spec)
    slots = _slots(rng, people)
    country = people["place"].country
    perpetrator: dict[str, Any] | str = ""
    if people.get("perp"):
        perpetrator = _person_record(people["perp"], people["perp_gender"], relationship=people["perp_role"])
    day = 1 + index % 28
    return {
        "uniqueid": f"{timestamp}.{rng.randrange(10_000):04d}",
        "startdate": f"{day:02d} {['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'][index % 6]} 2025",
        "starttime": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
        "category": sub,
        "victim": _person_record(people["child"], people["child_gender"], age=str(people["child_age"])),
        "reporter": _person_record(
            people["caller"],
            people["caller_gender"],
            phone_number=sample_phone(rng, country),
            relationship=slots["relation"][0],
        ),
        "perpetrator": perpetrator,
        "county": people["place"].county,
        "counselor": people["counsellor"],
        "intervention": ", ".join(interventions),
        "priority": priority,
        "narrative": _narrative(rng, sub, priority, interventions, slots),
    }


def generate_cases(rng: random.Random, n: int) -> Iterator[dict[str, Any]]:
    """`n` case records; sub-categories are drawn in shuffled rounds so every one occurs once `n` >= 66."""
    subs = sorted(SUB_CATEGORY_SPECS)
    timestamp = 1_735_700_000
    order: list[str] = []
    for index in range(n):
        if not order:
            order = rng.sample(subs, k=len(subs))
        timestamp += rng.randint(60, 3_600)  # strictly increasing, so uniqueids never collide
        yield make_case_record(rng, index, order.pop(), timestamp)


def case_variety() -> dict[str, int]:
    """Template counts, for `describe()`."""
    return {
        "case_sub_categories": len(SUB_CATEGORY_SPECS),
        "case_issue_templates": sum(len(templates) for templates in ISSUES.values()),
        "case_risk_cue_templates": sum(len(templates) for templates in RISK_CUES.values()),
        "case_interventions": len(ACTIONS),
        "case_action_templates": sum(len(first) + len(third) for first, third in ACTIONS.values()),
    }
