"""Synthetic NER call transcripts with exact character spans for all nine entity types.

A call is a list of turns; each turn is a template whose `{slot}`s are filled from the call's cast
(counsellor, caller, victim, perpetrator, places, landmarks, phone number...). Every slot carries its
entity label (or none), and spans are recorded while the text is assembled, so `text[start:end]` is
the entity by construction and spans never overlap. Entity strings only ever enter the text through
a slot, so the same string is labelled the same way wherever it appears in a call.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from typing import Any

from .vocab import (
    GENDER_WORDS,
    age_text,
    relations_for,
    sample_given_name,
    sample_landmark,
    sample_phone,
    sample_place,
    sample_surname,
)

SLOT_PATTERN = re.compile(r"\{(\w+)\}")
Slots = dict[str, tuple[str, str | None]]
Span = tuple[int, int, str]

# ----------------------------------------------------------------------------- templates
GREETINGS: list[str] = [
    "Hello, this is the child helpline, you are speaking with {counsellor}. How can I help you today?",
    "Good morning, child helpline, {counsellor} speaking. What would you like to share with me?",
    "Habari, you have reached the child helpline. My name is {counsellor}, how may I assist?",
    "Child helpline, good evening. I am {counsellor}. Go ahead, I am listening.",
    "Hello, you are through to the helpline for children. {counsellor} here, what is happening?",
    "Karibu, this is {counsellor} at the child helpline. Tell me how I can help.",
    "Good afternoon, my name is {counsellor} from the child helpline. Feel free to talk to me.",
    "Hujambo, child helpline here. You are talking to {counsellor}. What is troubling you?",
    "Child helpline, {counsellor} on the line. Everything you tell me stays confidential.",
    "Hello caller, welcome to the child helpline. I am {counsellor}, and I have time for you.",
]
CALLER_INTROS: list[str] = [
    "My name is {caller} and I am calling from {location}.",
    "I am {caller}, a {relation} from {location}.",
    "This is {caller}. I live in {location}.",
    "Hello {counsellor}, I am {caller} from {location}.",
    "{caller} here, calling from {location}. I need some advice.",
    "My name is {caller}. I stay in {location}, not far from {landmark}.",
    "Habari {counsellor}. I am called {caller} and I am in {location}.",
    "I am {caller}, I work near {landmark} in {location}.",
    "Good day. I am {caller}, the {relation} of a child here in {location}.",
    "It is {caller} speaking, from {location}. Somebody gave me this number.",
    "You are speaking to {caller}. We live in {location}.",
]
CHILD_INTROS: list[str] = [
    "I am calling about {victim}, a {age}-year-old {gender} who lives next to us.",
    "There is a {gender} called {victim}, {age} years old, in our area.",
    "{victim} is {age} years old, a {gender} who stays with {poss} family near {landmark}.",
    "The child is {victim}, a {gender} aged {age}.",
    "It concerns {victim}. {They} is a {gender} of {age} years and goes to {school}.",
    "{victim} is a {age}-year-old {gender}. I have known {them} since {they} was born.",
    "I want to report about a {gender} by the name {victim}; {they} is about {age}.",
    "My worry is {victim}, who is only {age}. {They} is a {gender} in class at {school}.",
    "We have a {gender} here, {victim}, aged {age}, who needs help.",
    "The one I am calling about is {victim}, a {gender}, {age} years old.",
    "{victim}, a {gender} of {age}, lives with {poss} family near {landmark}.",
    "There is this {age}-year-old {gender}, {victim}, who sells groundnuts at {landmark}.",
]

# Incident kinds: the INCIDENT_TYPE phrases, the perpetrator roles that fit, and kind-specific turns.
INCIDENT_KINDS: dict[str, dict[str, Any]] = {
    "sexual_abuse": {
        "phrases": ["sexual abuse", "defilement", "sexual assault", "rape", "indecent touching"],
        "perps": [
            "stepfather",
            "uncle",
            "neighbour",
            "teacher",
            "boda boda rider",
            "pastor",
            "shopkeeper",
            "older cousin",
            "landlord",
            "herdsman",
        ],
        "turns": [
            "{victim} told me that {poss} {perp} has been touching {them} at night. I believe it is {incident}.",
            "The {perp} waits for {victim} near {landmark} after school. We suspect {incident}.",
            "{victim} came home crying and bleeding. {They} says the {perp} did it. That is {incident}.",
            "I think the {perp} is committing {incident} against {victim}; {they} is afraid to go home.",
        ],
    },
    "physical_abuse": {
        "phrases": ["physical abuse", "severe beating", "corporal punishment", "assault", "burns"],
        "perps": ["stepmother", "father", "mother", "uncle", "teacher", "guardian", "aunt", "employer"],
        "turns": [
            "The {perp} beats {victim} with a stick almost every day. It is {incident}.",
            "{victim} has marks on {poss} arms and back. The {perp} is behind this {incident}.",
            "Yesterday the {perp} hit {victim} so hard that {they} could not walk to {school}.",
            "Neighbours hear {victim} screaming at night. We all know the {perp} is doing {incident}.",
        ],
    },
    "neglect": {
        "phrases": ["neglect", "child neglect", "abandonment", "lack of care"],
        "perps": ["mother", "father", "guardian", "grandmother", "stepmother", "aunt"],
        "turns": [
            "{victim} is left alone for days. The {perp} went to work in town and never came back. That is {incident}.",
            "The {perp} does not give {victim} food; {they} eats leftovers at {landmark}. It is {incident}.",
            "{victim} sleeps outside and has no clothes for school. I call it {incident} by the {perp}.",
            "Since the {perp} started drinking, {victim} suffers {incident}; nobody bathes or feeds {them}.",
        ],
    },
    "child_labour": {
        "phrases": ["child labour", "child labor", "forced work", "domestic servitude"],
        "perps": ["employer", "stepmother", "uncle", "herdsman", "shopkeeper", "guardian"],
        "turns": [
            "{victim} works at the quarry near {landmark} every day instead of going to school. It is {incident}.",
            "The {perp} makes {victim} sell water at {landmark} from dawn. This is {incident}.",
            "{victim} was brought from the village to be a house help for the {perp}. That is {incident}.",
            "The {perp} sends {victim} to the tea farms and keeps the money. It is pure {incident}.",
        ],
    },
    "child_marriage": {
        "phrases": ["early marriage", "child marriage", "forced marriage"],
        "perps": ["father", "uncle", "grandfather", "mother", "guardian"],
        "min_age": 10,
        "turns": [
            "The {perp} has received cows and wants {victim} to be married off. That is {incident}.",
            "{victim} was taken out of {school} because the {perp} arranged {incident} to an old man.",
            "They are preparing {victim} for {incident} this December, and the {perp} will not listen.",
        ],
    },
    "fgm": {
        "phrases": ["FGM", "female genital mutilation", "the cut"],
        "perps": ["grandmother", "mother", "aunt", "father"],
        "only_gender": "female",
        "min_age": 6,
        "turns": [
            "The {perp} plans to take {victim} for {incident} during the school holiday.",
            "{victim} told {poss} teacher that the {perp} is arranging {incident} for {them}.",
            "There is a ceremony next week and {victim} is to undergo {incident}; the {perp} insists.",
        ],
    },
    "bullying": {
        "phrases": ["bullying", "cyberbullying", "harassment at school"],
        "perps": ["classmate", "prefect", "older pupil", "teacher"],
        "turns": [
            "A {perp} at {school} takes {victim}'s lunch and mocks {them}. That is {incident}.",
            "{victim} refuses to go to {school} because of {incident} by a {perp}.",
            "The {perp} posts insults about {victim} on the class group. It is {incident}.",
        ],
    },
    "emotional_abuse": {
        "phrases": ["emotional abuse", "verbal abuse", "threats and insults"],
        "perps": ["stepmother", "father", "mother", "aunt", "guardian"],
        "turns": [
            "The {perp} calls {victim} useless in front of everyone. That is {incident}.",
            "{victim} is told every day by the {perp} that {they} should never have been born. It is {incident}.",
            "Since the {perp} moved in, {victim} lives with constant {incident} and has stopped talking.",
        ],
    },
    "trafficking": {
        "phrases": ["child trafficking", "trafficking", "sale of a child"],
        "perps": ["recruiting agent", "broker", "uncle", "employer"],
        "turns": [
            "A {perp} promised {victim} a job in the city and took {them} from {landmark}. We fear {incident}.",
            "{victim} was put on a bus at {landmark} by a {perp}. It looks like {incident}.",
            "The {perp} is collecting children from our village; {victim} is the latest. That is {incident}.",
        ],
    },
    "online_exploitation": {
        "phrases": ["online sexual exploitation", "sextortion", "online grooming"],
        "perps": ["stranger on social media", "online contact", "older man", "older cousin"],
        "turns": [
            "A {perp} has been asking {victim} for pictures on the phone. We think it is {incident}.",
            "{victim} is being threatened by a {perp} who has {poss} photos. That is {incident}.",
            "The {perp} sends {victim} money and messages at night. I suspect {incident}.",
        ],
    },
    "abduction": {
        "phrases": ["abduction", "kidnapping", "a missing child"],
        "perps": ["father", "stranger", "relative", "boda boda rider"],
        "turns": [
            "{victim} disappeared on the way home from {landmark}. We think the {perp} took {them}; it is {incident}.",
            "The {perp} came to {school} and left with {victim} without telling anyone. It is {incident}.",
            "It has been several days; {victim} is {incident} and the {perp} is not picking calls.",
        ],
    },
    "drug_abuse": {
        "phrases": ["drug abuse", "substance abuse", "alcohol abuse", "bhang smoking"],
        "perps": ["peddler", "bar owner", "older friend", "neighbour"],
        "turns": [
            "{victim} spends evenings at {landmark} with a {perp}. The problem is {incident}.",
            "A {perp} gives {victim} cheap liquor and now {they} steals to buy more. It is {incident}.",
            "{victim} has started {incident}; a {perp} near {landmark} supplies the youth.",
        ],
    },
    "teen_pregnancy": {
        "phrases": ["teenage pregnancy", "early pregnancy"],
        "perps": ["boda boda rider", "teacher", "neighbour", "shopkeeper", "older man"],
        "only_gender": "female",
        "min_age": 13,
        "turns": [
            "{victim} is a few months pregnant. The {perp} who did it says it is not his problem. It is {incident}.",
            "We found out about the {incident}; the {perp} used to give {victim} rides to {school}.",
            "{victim} dropped out because of {incident} and the {perp} has run away.",
        ],
    },
    "denied_education": {
        "phrases": ["denial of education", "school dropout", "being kept out of school"],
        "perps": ["father", "stepmother", "guardian", "uncle"],
        "turns": [
            "The {perp} refuses to pay fees and keeps {victim} home. That is {incident}.",
            "{victim} was sent away from {school} and the {perp} does not care. It is {incident}.",
            "{victim} now herds goats because the {perp} says school is a waste. That is {incident}.",
        ],
    },
    "runaway": {
        "phrases": ["running away from home", "living on the street", "homelessness"],
        "perps": ["stepfather", "stepmother", "father", "guardian"],
        "turns": [
            "{victim} has been sleeping at {landmark} for a week, {incident} because of the {perp}.",
            "After quarrels with the {perp}, {victim} ended up {incident} near {landmark}.",
            "We see {victim} begging at {landmark}; {incident} started when the {perp} chased {them} away.",
        ],
    },
    "mental_health": {
        "phrases": ["depression", "self-harm", "suicidal thoughts"],
        "perps": [],
        "turns": [
            "{victim} has stopped eating and talks about ending things. I fear {incident}.",
            "I found cuts on {victim}'s arms. It looks like {incident}.",
            "Since {poss} mother died, {victim} sits alone at {landmark}. The teachers mention {incident}.",
        ],
    },
}

# Generic turns, usable for any incident as long as the call has the slots they name.
QUESTIONS: list[str] = [
    "Since when has this been happening, {caller_first}?",
    "Where is {victim} right now?",
    "Does anyone else know about the {incident}?",
    "Is {victim} safe tonight?",
    "Who else lives in the home with {victim}?",
    "Has {victim} been taken to hospital?",
    "Have you reported the {incident} to anyone in {county}?",
    "How old is the {perp}?",
    "Does {victim} still go to {school}?",
    "What would you like us to do, {caller_first}?",
    "Can you tell me more about the {perp}?",
    "I hear you, {caller_first}. When did you first notice this?",
]
ANSWERS: list[str] = [
    "{victim} is at home now, but the {perp} comes back in the evening.",
    "This started a couple of months back.",
    "The {perp} is about {perp_age} years old.",
    "Only me and {other}, our neighbour, know about it.",
    "The head teacher, {other}, also noticed the change.",
    "{victim} is with me for now, near {landmark}.",
    "We went to {help_landmark} but they told us to come back later.",
    "The {perp}'s name is {perp_name}; everybody here knows that name.",
    "{victim} no longer goes to {school}.",
    "I do not know what to do, that is why I called.",
    "My {relation} told me to call this line after {other} refused to help.",
    "We are afraid of the {perp}; {perp_name} has threatened people before.",
    "It started when {victim} was {age2} and it has never stopped.",
]
FILLERS: list[str] = [
    "{victim} used to be very cheerful, but now {they} keeps to {themselves}.",
    "I am sorry to hear that, {caller_first}. You did the right thing by calling.",
    "{victim}'s guardian, {other}, is old and cannot protect {them}.",
    "The chief in {town} has not done anything so far.",
    "I understand. Let us take it one step at a time.",
    "{They} has been missing classes at {school} since last term.",
    "People at {landmark} talk about it, but nobody acts.",
    "You mentioned {county}; which ward exactly?",
    "It is near {landmark}, the road that goes to {town}.",
    "{victim} asked me not to tell anyone, but I could not keep quiet.",
    "Our pastor, {other}, advised us to seek help.",
    "{victim}'s younger sibling is also at risk, I think.",
    "The {perp} uses the number {perp_phone}, in case the police need it.",
    "The family moved here from {county2} last year.",
    "We have tried talking to the {perp}, but it only made things worse.",
    "I can hear that you are worried. That is understandable.",
    "Mmh, okay, go on. I am still here with you.",
    "Let me write this down properly so that nothing is missed.",
    "{victim} told {other} at church about it first.",
]
PHONE_ASKS: list[str] = [
    "Can I get a number where we can reach you?",
    "Do you have a phone number we can use to follow up?",
    "Which number should the officer call?",
    "Let me take your contact, in case the line cuts.",
    "What is the best number to reach you on, {caller_first}?",
]
PHONE_TURNS: list[str] = [
    "Yes, it is {phone}.",
    "My number is {phone}, you can call me any time.",
    "You can reach me on {phone}.",
    "Please note my number: {phone}.",
    "Call me back on {phone}; it is my {relation}'s phone.",
    "I am on {phone}, but the network here near {landmark} is poor.",
    "Write down {phone}; that is {other}'s line, another way to reach us.",
]
ACTIONS: list[str] = [
    "I will refer this case to {help_landmark} in {town} today.",
    "If anything happens, call the children's officer on {officer_phone}.",
    "The officer in {county} will reach you; the direct line is {officer_phone}.",
    "Please take {victim} to {health_landmark} for a check-up as soon as possible.",
    "Report the {incident} at {police_landmark}; they have a gender desk there.",
    "I am alerting the children's officer in {county} about {victim}.",
    "The officers at {police_landmark} will follow up, and I will call you back.",
    "We will arrange for {victim} to be seen at {health_landmark} and counselled.",
    "Go with {victim} to {police_landmark} and ask for the officer in charge.",
    "I will share this with our partners in {county} so that someone visits {victim}.",
    "Keep {victim} away from the {perp} and go to {help_landmark} tomorrow morning.",
    "The {incident} must be reported; {police_landmark} is the nearest place.",
]
CLOSINGS: list[str] = [
    "Thank you for calling, {caller_first}. Take care of {victim}.",
    "You did well to call. Call us again if anything changes. Goodbye.",
    "Stay safe, {caller_first}. We will be in touch.",
    "Goodbye, {caller_first}. || Thank you, {counsellor}. I feel better now.",
    "Kwaheri, {caller_first}, take care. || Asante sana. Kwaheri.",
    "We will follow up on {victim}. Have a good day.",
    "Remember, this line is free. Goodbye, and look after {victim}.",
    "Do that and call us back. || Okay, {counsellor}, I will do that. Thank you.",
]

PERPETRATOR_AGES: dict[str, tuple[int, int]] = {
    "grandfather": (55, 80),
    "grandmother": (50, 78),
    "classmate": (9, 17),
    "prefect": (14, 18),
    "older pupil": (12, 18),
    "older cousin": (17, 26),
    "older friend": (16, 24),
    "boda boda rider": (19, 35),
}
FEMALE_ROLES = {"stepmother", "mother", "aunt", "grandmother", "house help", "co-wife"}

TURN_GROUPS: dict[str, list[str]] = {
    "greeting": GREETINGS,
    "caller_intro": CALLER_INTROS,
    "child_intro": CHILD_INTROS,
    "question": QUESTIONS,
    "answer": ANSWERS,
    "filler": FILLERS,
    "phone_ask": PHONE_ASKS,
    "phone": PHONE_TURNS,
    "action": ACTIONS,
    "closing": CLOSINGS,
}


# ----------------------------------------------------------------------------- rendering
def render(template: str, slots: Slots) -> tuple[str, list[Span]]:
    """Fill `template` from `slots` (name -> (value, label or None)), returning the text and its spans.

    Example:
        >>> render("I am {caller}.", {"caller": ("Achieng Otieno", "NAME")})
        ('I am Achieng Otieno.', [(5, 19, 'NAME')])
    """
    pieces: list[str] = []
    spans: list[Span] = []
    length = 0
    position = 0
    for match in SLOT_PATTERN.finditer(template):
        literal = template[position : match.start()]
        pieces.append(literal)
        length += len(literal)
        value, label = slots[match.group(1)]
        if label is not None:
            spans.append((length, length + len(value), label))
        pieces.append(value)
        length += len(value)
        position = match.end()
    pieces.append(template[position:])
    return "".join(pieces), spans


def _fits(template: str, slots: Slots) -> bool:
    return all(name in slots for name in SLOT_PATTERN.findall(template))


def _cast(rng: random.Random) -> tuple[Slots, str]:
    """Sample the people, places and incident of one call; return the slots and the incident kind."""
    kind = rng.choice(sorted(INCIDENT_KINDS))
    spec = INCIDENT_KINDS[kind]
    perp = rng.choice(spec["perps"]) if spec["perps"] else ""
    place = sample_place(rng)
    victim_gender = spec.get("only_gender") or rng.choice(["female", "male"])
    person = _person_sampler(rng)
    victim = person(victim_gender)
    counsellor = person()
    caller_gender = rng.choice(["female", "male"])
    caller_full = person(caller_gender, full=True)
    caller_first = caller_full.split(" ")[0]
    caller = caller_full if rng.random() < 0.6 else caller_first
    other = person(full=rng.random() < 0.3)
    they, them, poss, themselves = (
        ("she", "her", "her", "herself") if victim_gender == "female" else ("he", "him", "his", "himself")
    )
    other_place = sample_place(rng, place.country)
    while other_place.county == place.county:
        other_place = sample_place(rng, place.country)
    slots: Slots = {
        "counsellor": (counsellor, "NAME"),
        "caller": (caller, "NAME"),
        "caller_first": (caller_first, "NAME"),
        "other": (other, "NAME"),
        "victim": (victim, "VICTIM"),
        "age": (age_text(rng, rng.randint(spec.get("min_age", 2), 17)), "AGE"),
        "age2": (age_text(rng, rng.randint(2, 9)), "AGE"),
        "gender": (rng.choice(GENDER_WORDS[victim_gender]), "GENDER"),
        "location": (place.phrase(rng), "LOCATION"),
        "county": (place.county, "LOCATION"),
        "county2": (other_place.county, "LOCATION"),
        "town": (place.town, "LOCATION"),
        "landmark": (sample_landmark(rng, place), "LANDMARK"),
        "school": (sample_landmark(rng, place, "school"), "LANDMARK"),
        "help_landmark": (sample_landmark(rng, place, rng.choice(["police", "health"])), "LANDMARK"),
        "health_landmark": (sample_landmark(rng, place, "health"), "LANDMARK"),
        "police_landmark": (sample_landmark(rng, place, "police"), "LANDMARK"),
        "incident": (rng.choice(spec["phrases"]), "INCIDENT_TYPE"),
        "phone": (sample_phone(rng, place.country), "PHONE_NUMBER"),
        "officer_phone": (sample_phone(rng, place.country), "PHONE_NUMBER"),
        "relation": (rng.choice(relations_for(caller_gender, exclude=perp)), None),
        "they": (they, None),
        "They": (they.capitalize(), None),
        "them": (them, None),
        "poss": (poss, None),
        "themselves": (themselves, None),
    }
    if spec["perps"]:
        _add_perpetrator(rng, slots, perp, place.country, person)
    return slots, kind


def _person_sampler(rng: random.Random) -> Callable[..., str]:
    """`person(gender=None, full=False)`: a given name (and surname with `full`) not yet used in this call."""
    used: set[str] = set()

    def person(gender: str | None = None, full: bool = False) -> str:
        given = sample_given_name(rng, gender or rng.choice(["female", "male"]), avoid=used)
        used.add(given)
        if not full:
            return given
        surname = sample_surname(rng, avoid=used)
        used.add(surname)
        return f"{given} {surname}"

    return person


def _add_perpetrator(rng: random.Random, slots: Slots, perp: str, country: str, person: Callable[..., str]) -> None:
    """The perpetrator's role, age, phone and name slots."""
    slots["perp"] = (perp, "PERPETRATOR")
    low, high = PERPETRATOR_AGES.get(slots["perp"][0], (22, 60))
    slots["perp_age"] = (str(rng.randint(low, high)), "AGE")
    slots["perp_phone"] = (sample_phone(rng, country), "PHONE_NUMBER")
    slots["perp_name"] = (person("female" if slots["perp"][0] in FEMALE_ROLES else "male"), "PERPETRATOR")


_FITTING: dict[tuple[int, str], list[str]] = {}


def _pick(rng: random.Random, group: list[str], slots: Slots, used: set[str]) -> str:
    """A template of `group` that the call's slots can fill, avoiding repeats while unused ones remain.

    A template whose fixed words contain the perpetrator's role ("the head teacher" when the
    perpetrator is a teacher) is skipped: the role must only ever appear as a PERPETRATOR span.
    """
    role = slots.get("perp", ("", None))[0]
    key = (id(group), role)
    fitting = _FITTING.get(key)
    if fitting is None:
        # Slot availability only depends on whether the call has a perpetrator (role != "").
        fitting = [t for t in group if _fits(t, slots) and not (role and _mentions(SLOT_PATTERN.sub(" ", t), role))]
        _FITTING[key] = fitting
    fresh = [template for template in fitting if template not in used] or fitting
    template = rng.choice(fresh)
    used.add(template)
    return template


def _mentions(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, flags=re.IGNORECASE) is not None


def _speaker_prefixes(rng: random.Random, slots: Slots) -> tuple[tuple[str, list[Span]], tuple[str, list[Span]]]:
    style = rng.random()
    if style < 0.5:
        return ("", []), ("", [])
    if style < 0.8:
        return ("Counsellor: ", []), ("Caller: ", [])
    counsellor, caller = slots["counsellor"][0], slots["caller_first"][0]
    return (f"{counsellor}: ", [(0, len(counsellor), "NAME")]), (f"{caller}: ", [(0, len(caller), "NAME")])


def make_ner_record(rng: random.Random, index: int) -> dict[str, Any]:
    """One synthetic transcript: `{"id", "text", "entities": [{"start", "end", "label"}]}`."""
    slots, kind = _cast(rng)
    long_call = rng.random() < 0.1
    target = rng.randint(2600, 4200) if long_call else rng.randint(300, 1200)
    kind_turns = INCIDENT_KINDS[kind]["turns"]
    used: set[str] = set()

    # (speaker, template): 0 = counsellor, 1 = caller. The skeleton first, then fillers up to the target length.
    head: list[tuple[int, str]] = []
    if target > 450 or rng.random() < 0.5:
        head.append((0, _pick(rng, GREETINGS, slots, used)))
    if target > 380 or rng.random() < 0.5:
        head.append((1, _pick(rng, CALLER_INTROS, slots, used)))
    head += [(1, _pick(rng, CHILD_INTROS, slots, used)), (1, _pick(rng, kind_turns, slots, used))]
    tail: list[tuple[int, str]] = []
    if rng.random() < 0.65:
        if rng.random() < 0.6:
            tail.append((0, _pick(rng, PHONE_ASKS, slots, used)))
        tail.append((1, _pick(rng, PHONE_TURNS, slots, used)))
    if rng.random() < 0.7:
        tail.append((0, _pick(rng, ACTIONS, slots, used)))
    if target > 500 or rng.random() < 0.3:
        tail.append((0, _pick(rng, CLOSINGS, slots, used)))

    estimate = sum(len(template) + 12 for _, template in head + tail)
    middle: list[tuple[int, str]] = []
    while estimate < target:
        choice = rng.random()
        if choice < 0.45:
            pair = [(0, _pick(rng, QUESTIONS, slots, used)), (1, _pick(rng, ANSWERS, slots, used))]
        elif choice < 0.85:
            pair = [(rng.randrange(2), _pick(rng, FILLERS, slots, used))]
        else:
            pair = [(1, _pick(rng, kind_turns, slots, used))]
        middle += pair
        estimate += sum(len(template) + 12 for _, template in pair)

    prefixes = _speaker_prefixes(rng, slots)
    separator = " " if not prefixes[0][0] else "\n"
    text_parts: list[str] = []
    entities: list[dict[str, Any]] = []
    offset = 0
    turns = [
        (speaker ^ (part_index % 2), part)
        for speaker, template in head + middle + tail
        for part_index, part in enumerate(template.split(" || "))
    ]
    for turn_index, (speaker, template) in enumerate(turns):
        if turn_index:
            text_parts.append(separator)
            offset += len(separator)
        prefix, prefix_spans = prefixes[speaker]
        body, body_spans = render(template, slots)
        for start, end, label in prefix_spans + [(s + len(prefix), e + len(prefix), lab) for s, e, lab in body_spans]:
            entities.append({"start": offset + start, "end": offset + end, "label": label})
        text_parts.append(prefix + body)
        offset += len(prefix) + len(body)
    return {"id": f"ner-{index:06d}", "text": "".join(text_parts), "entities": entities}


def generate_ner(rng: random.Random, n: int) -> Iterator[dict[str, Any]]:
    for index in range(n):
        yield make_ner_record(rng, index)


def ner_variety() -> dict[str, int]:
    """Template counts, for `describe()`."""
    counts = {f"ner_{name}_templates": len(group) for name, group in TURN_GROUPS.items()}
    counts["ner_incident_kinds"] = len(INCIDENT_KINDS)
    counts["ner_incident_turn_templates"] = sum(len(spec["turns"]) for spec in INCIDENT_KINDS.values())
    counts["ner_incident_phrases"] = sum(len(spec["phrases"]) for spec in INCIDENT_KINDS.values())
    counts["ner_perpetrator_roles"] = len({role for spec in INCIDENT_KINDS.values() for role in spec["perps"]})
    return counts
