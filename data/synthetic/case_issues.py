"""What callers report, per sub-category, and how the risk to the child is described, per priority.

`ISSUES[sub]` are the sentences that make a narrative belong to one sub-category; `RISK_CUES` are the
sentences that make it priority "1" (danger now), "2" (action within a day) or "3" (no immediate risk),
for cases with a perpetrator ("harm") and without ("need"). Slots: {child}, {they}/{They}, {them},
{poss}, {perp}, {town}, {landmark}, {age}.
"""

from __future__ import annotations

from typing import Any

_ABUSERS_M = ["stepfather", "uncle", "neighbour", "father", "grandfather", "older cousin"]
_CARERS = ["mother", "father", "stepmother", "stepfather", "aunt", "uncle", "guardian"]
_PARTNERS = ["father", "stepfather", "mother's partner", "uncle"]

# sub-category -> priorities it can take, perpetrator roles (absent: no perpetrator), child gender/ages.
SUB_CATEGORY_SPECS: dict[str, dict[str, Any]] = {
    # Advice and Counselling
    "Bullying": {"priorities": ["2", "3"], "perps": ["classmate", "older pupil", "prefect"], "ages": (7, 17)},
    "Child in Conflict with the Law": {"priorities": ["2", "3"], "ages": (10, 17)},
    "Discrimination": {"priorities": ["2", "3"]},
    "Drug/Alcohol Abuse": {"priorities": ["1", "2", "3"], "ages": (11, 17)},
    "Family Relationship": {"priorities": ["2", "3"]},
    "HIV/AIDS": {"priorities": ["2", "3"]},
    "Homelessness": {"priorities": ["1", "2"]},
    "Legal issues": {"priorities": ["2", "3"]},
    "Missing Child": {"priorities": ["1", "2"]},
    "Peer Relationships": {"priorities": ["3"], "ages": (8, 17)},
    "Physical Health": {"priorities": ["1", "2", "3"]},
    "Psychosocial/Mental Health": {"priorities": ["1", "2", "3"], "ages": (9, 17)},
    "Relationships (Boy/Girl)": {"priorities": ["3"], "ages": (13, 17)},
    "Relationships (Parent/Child)": {"priorities": ["2", "3"], "ages": (8, 17)},
    "Relationships (Student/Teacher)": {"priorities": ["3"], "ages": (7, 17)},
    "School related issues": {"priorities": ["2", "3"], "ages": (7, 17)},
    "Self Esteem": {"priorities": ["3"], "ages": (8, 17)},
    "Sexual & Reproductive Health": {"priorities": ["3"], "ages": (11, 17)},
    "Student/ Teacher Relationship": {"priorities": ["2", "3"], "perps": ["teacher"], "ages": (10, 17)},
    "Teen Pregnancy": {"priorities": ["2", "3"], "gender": "female", "ages": (13, 17)},
    # Child Maintenance & Custody
    "Adoption": {"priorities": ["3"]},
    "Birth Registration": {"priorities": ["3"]},
    "Custody": {"priorities": ["2", "3"]},
    "Foster Care": {"priorities": ["2", "3"]},
    "Maintenance": {"priorities": ["2", "3"]},
    "No Care Giver": {"priorities": ["1", "2"]},
    "Other": {"priorities": ["3"]},
    # Disability
    "Albinism": {"priorities": ["1", "2", "3"]},
    "Hearing impairment": {"priorities": ["2", "3"]},
    "Hydrocephalus": {"priorities": ["2", "3"], "ages": (1, 12)},
    "Mental impairment": {"priorities": ["2", "3"]},
    "Multiple disabilities": {"priorities": ["2", "3"]},
    "Physical impairment": {"priorities": ["2", "3"]},
    "Speech impairment": {"priorities": ["2", "3"], "ages": (4, 17)},
    "Spinal bifida": {"priorities": ["2", "3"], "ages": (1, 14)},
    "Visual impairment": {"priorities": ["2", "3"]},
    # GBV
    "Emotional/Psychological Violence": {"priorities": ["2", "3"], "perps": _PARTNERS},
    "Financial/Economic Violence": {"priorities": ["2", "3"], "perps": _PARTNERS},
    "Forced Marriage Violence": {
        "priorities": ["1", "2"],
        "perps": ["husband", "father", "uncle"],
        "gender": "female",
        "ages": (13, 17),
    },
    "Harmful Practice": {
        "priorities": ["1", "2", "3"],
        "perps": ["father", "uncle", "grandmother", "aunt"],
        "gender": "female",
        "ages": (8, 17),
    },
    "Physical Violence": {"priorities": ["1", "2"], "perps": _PARTNERS},
    "Sexual Violence": {
        "priorities": ["1", "2"],
        "perps": ["stranger", "boyfriend", "group of youths", "motorbike rider"],
        "ages": (11, 17),
    },
    # Information
    "Child Abuse": {"priorities": ["3"]},
    "Child Rights": {"priorities": ["3"]},
    "Info on Helpline": {"priorities": ["3"]},
    "Legal Issues": {"priorities": ["3"]},
    "School Related Issues": {"priorities": ["3"], "ages": (5, 17)},
    # Nutrition
    "Balanced Diet": {"priorities": ["3"]},
    "Breastfeeding": {"priorities": ["3"], "ages": (1, 2)},
    "Feeding & Food preparation": {"priorities": ["3"], "ages": (1, 6)},
    "Malnutrition": {"priorities": ["1", "2", "3"], "ages": (1, 10)},
    "Obesity": {"priorities": ["3"]},
    "Stagnation": {"priorities": ["2", "3"], "ages": (1, 8)},
    "Underweight": {"priorities": ["2", "3"], "ages": (1, 12)},
    # VANE
    "Child Abduction": {"priorities": ["1", "2"], "perps": ["stranger", "father", "relative", "former house help"]},
    "Child Labor": {
        "priorities": ["1", "2", "3"],
        "perps": ["employer", "guardian", "uncle", "stepmother"],
        "ages": (7, 17),
    },
    "Child Marriage": {
        "priorities": ["1", "2"],
        "perps": ["father", "uncle", "grandfather", "mother"],
        "gender": "female",
        "ages": (11, 17),
    },
    "Child Neglect": {"priorities": ["1", "2", "3"], "perps": _CARERS},
    "Child Trafficking": {
        "priorities": ["1", "2"],
        "perps": ["recruiting agent", "broker", "relative"],
        "ages": (8, 17),
    },
    "Emotional Abuse": {"priorities": ["2", "3"], "perps": _CARERS},
    "Female Genital Mutilation": {
        "priorities": ["1", "2"],
        "perps": ["grandmother", "mother", "aunt", "father"],
        "gender": "female",
        "ages": (6, 15),
    },
    "OCSEA": {
        "priorities": ["1", "2"],
        "perps": ["contact met online", "stranger on social media", "grown man"],
        "ages": (10, 17),
    },
    "Physical Abuse": {"priorities": ["1", "2"], "perps": _CARERS + ["teacher"]},
    "Sexual Abuse": {"priorities": ["1", "2"], "perps": _ABUSERS_M + ["teacher", "pastor"]},
    "Traditional Practice": {"priorities": ["1", "2", "3"], "perps": ["traditional healer", "clan elder", "uncle"]},
    "Unlawful Confinement": {"priorities": ["1", "2"], "perps": _CARERS + ["employer"]},
}

ISSUES: dict[str, list[str]] = {
    "Bullying": [
        "A {perp} pushes {child} around and takes {poss} lunch every single day at school.",
        "{child} is mocked about {poss} old uniform by a {perp} and now refuses to go to class.",
        "A {perp} and friends wait for {child} on the way home and slap {them} for fun.",
    ],
    "Child in Conflict with the Law": [
        "{child} was arrested for stealing a phone and is being held at the police station.",
        "{child} has been charged with fighting and must appear in the children's court next week.",
        "Police picked {child} up with youths suspected of breaking into a shop, and we need advice.",
    ],
    "Discrimination": [
        "Because {child} is a refugee, the school keeps {them} out of sports and class activities.",
        "The other pupils will not sit with {child} because {they} comes from a different community.",
        "The relatives give {child} less food than the other children because {they} was born outside marriage.",
    ],
    "Drug/Alcohol Abuse": [
        "{child} has started sniffing glue with friends behind {landmark}.",
        "We found bhang in {poss} school bag, and {child} comes home drunk most evenings.",
        "{child} drinks local brew with older youths and has stopped going to school.",
    ],
    "Family Relationship": [
        "There is constant quarrelling at home between the parents, and {child} is caught in the middle.",
        "{child} does not get along with {poss} step-siblings, and the whole home is tense.",
        "Since the parents separated, {child} is torn between the two families and asks for advice.",
    ],
    "HIV/AIDS": [
        "{child} was recently told {they} is HIV positive and refuses to take the medicine.",
        "I need guidance on supporting {child}, who is living with HIV, as {they} becomes a teenager.",
        "{child} keeps missing clinic days for {poss} ARVs and the nurses are worried.",
    ],
    "Homelessness": [
        "{child} has been sleeping at {landmark} since the family was evicted.",
        "{child} and {poss} mother have nowhere to live after the landlord threw them out.",
        "{child} lives on the streets of {town} and sleeps in shop corridors at night.",
    ],
    "Legal issues": [
        "I need advice on how to protect {child}'s share of the land now that {poss} father has died.",
        "The other family has taken us to court over {child}'s surname, and I do not know how to respond.",
        "I want advice on what to do because {child}'s inheritance papers were taken by a relative.",
    ],
    "Missing Child": [
        "{child} has not come home since Sunday and nobody knows where {they} is.",
        "{child} went to fetch water in the evening and never returned.",
        "{child} left for school two days ago and did not come back; {poss} phone is off.",
    ],
    "Peer Relationships": [
        "{child} has joined a group of friends who pressure {them} into skipping class.",
        "{child} lost {poss} best friend and now feels left out by all {poss} age mates.",
        "{child} keeps quarrelling with friends and has become lonely at school.",
    ],
    "Physical Health": [
        "{child} has had a persistent cough and fever for weeks.",
        "{child} complains of stomach pains, and the family cannot afford a doctor.",
        "{child} has a wound on {poss} leg that is not healing.",
    ],
    "Psychosocial/Mental Health": [
        "{child} has become withdrawn, cries a lot and talks about wanting to die.",
        "{child} has panic attacks and cannot sleep since the accident.",
        "{child} has been very sad since {poss} father passed away and hardly speaks.",
    ],
    "Relationships (Boy/Girl)": [
        "{child} is in a relationship with a classmate, and {they} wants advice on handling it.",
        "{child} was heartbroken after a break-up and stopped eating.",
        "{child} asks how to end a relationship with someone from the next village who is too controlling.",
    ],
    "Relationships (Parent/Child)": [
        "{child} and {poss} mother argue all the time, and {child} feels unloved.",
        "{child} says {poss} father never listens and only shouts at {them}.",
        "As a parent, I no longer know how to talk to {child}; we do not understand each other.",
    ],
    "Relationships (Student/Teacher)": [
        "{child} feels one teacher picks on {them} and punishes {them} unfairly.",
        "{child} had a disagreement with the class teacher and is now afraid of the lessons.",
        "A teacher keeps embarrassing {child} in front of the class over {poss} handwriting.",
    ],
    "School related issues": [
        "{child} is performing poorly and now wants to drop out; I need advice.",
        "{child} was sent home over unpaid fees and is losing hope.",
        "{child} is very stressed about the coming national exams and cannot study.",
    ],
    "Self Esteem": [
        "{child} believes {they} is ugly and worthless.",
        "{child} never speaks in class because {they} thinks {they} is stupid.",
        "{child} hides away because of a skin condition and feels nobody likes {them}.",
    ],
    "Sexual & Reproductive Health": [
        "{child} has questions about periods and the changes in {poss} body.",
        "{child} wants to know about contraception and infections before {they} makes any decision.",
        "{child} has not started puberty like {poss} friends and is worried something is wrong.",
    ],
    "Student/ Teacher Relationship": [
        "A {perp} has been sending {child} private messages and gifts.",
        "The {perp} asks {child} to stay behind alone after class and to visit his house.",
        "{child} says a {perp} calls {them} at night and wants them to be special friends.",
    ],
    "Teen Pregnancy": [
        "{child} is pregnant and afraid to tell {poss} parents.",
        "{child} found out she is expecting and the school wants her to leave.",
        "{child} is expecting a baby and wants to return to school after delivery.",
    ],
    "Adoption": [
        "I want to adopt {child}, an orphan from the neighbourhood, and I want to know the process.",
        "A relative wants to formally adopt {child}, whose parents died last year.",
        "How does adoption work for a child like {child}, who was left at the hospital?",
    ],
    "Birth Registration": [
        "{child} has no birth certificate and cannot register for exams.",
        "How do I get a late birth certificate for {child}?",
        "{child}'s birth was never registered because the father refused to be named.",
    ],
    "Custody": [
        "The parents have separated, and both want custody of {child}.",
        "The grandmother wants custody of {child} because the mother is not coping.",
        "{child}'s father wants to take {them} to live with him, and the mother disagrees.",
    ],
    "Foster Care": [
        "I am fostering {child} and need support with {poss} behaviour.",
        "How can I become a foster parent for {child}?",
        "{child}'s foster placement is breaking down and the family wants to give up.",
    ],
    "Maintenance": [
        "{child}'s father stopped paying for food and school fees.",
        "The mother cannot feed {child} because the father refuses to support them.",
        "I want to claim child support for {child} from {poss} father.",
    ],
    "No Care Giver": [
        "{child} was left alone after {poss} grandmother died, and nobody looks after {them}.",
        "{child}'s parents are both in prison, and nobody takes care of {them}.",
        "{child} and the younger siblings live alone since their mother left.",
    ],
    "Other": [
        "I want to change {child}'s surname after the father denied paternity.",
        "Can {child} travel abroad with the consent of only one parent?",
        "Who should keep {child}'s documents now that the guardian is moving away?",
    ],
    "Albinism": [
        "{child} has albinism and is being teased and threatened in the village.",
        "{child}, who has albinism, needs sunscreen and eye care that the family cannot afford.",
        "Strangers have been asking questions about {child}, who has albinism, and the family is scared.",
    ],
    "Hearing impairment": [
        "{child} cannot hear well and is falling behind at school.",
        "{child} is deaf, and the school has no sign language teacher.",
        "{child} needs a hearing aid, and we do not know where to get one.",
    ],
    "Hydrocephalus": [
        "{child} was born with hydrocephalus and {poss} head keeps growing.",
        "{child} has a shunt for hydrocephalus, and the family needs help with the check-ups.",
        "I need support to care for {child}, who has hydrocephalus.",
    ],
    "Mental impairment": [
        "{child} has an intellectual disability and is kept indoors all day.",
        "{child} learns very slowly, and the school says it cannot handle {them}.",
        "{child} has a mental disability and needs a special school.",
    ],
    "Multiple disabilities": [
        "{child} cannot walk or speak and needs full-time care.",
        "{child} has cerebral palsy with hearing and sight problems.",
        "{child} has several disabilities, and the mother has no support at all.",
    ],
    "Physical impairment": [
        "{child} lost a leg in an accident and needs a wheelchair.",
        "{child} cannot walk to school because of a physical disability.",
        "{child} has a deformed foot and needs corrective surgery.",
    ],
    "Speech impairment": [
        "{child} stammers badly and is mocked whenever {they} speaks.",
        "{child} is {age} and still cannot speak clearly.",
        "{child} needs speech therapy, but we cannot find any near us.",
    ],
    "Spinal bifida": [
        "{child} was born with spina bifida and needs regular care.",
        "{child} has spina bifida, and the family cannot afford the catheters.",
        "I need advice on caring for {child}, who has spina bifida.",
    ],
    "Visual impairment": [
        "{child} cannot see the blackboard and needs glasses.",
        "{child} is blind and has no braille materials at school.",
        "{child}'s eyesight is getting worse every month.",
    ],
    "Emotional/Psychological Violence": [
        "The {perp} insults and threatens {child}'s mother every day, and {child} is terrified.",
        "The {perp} controls everyone at home with threats, and {child} watches the mother being humiliated.",
        "The {perp} keeps telling {child}'s mother he will kill her, and {child} cannot sleep.",
    ],
    "Financial/Economic Violence": [
        "The {perp} takes all the household money and leaves {child} and the mother without food.",
        "The {perp} refuses to let the mother work and withholds money for {child}'s needs.",
        "The {perp} sold the family's cows and left {child} and the mother with nothing.",
    ],
    "Forced Marriage Violence": [
        "{child} was married off against {poss} will, and the {perp} beats {them}.",
        "{child} escaped from a forced marriage, and the {perp} is trying to drag {them} back.",
        "{child} is kept as a wife by force, and the {perp} threatens {them} when {they} tries to leave.",
    ],
    "Harmful Practice": [
        "The {perp} wants {child} to undergo beading by the older men of the clan.",
        "The {perp} has been ironing {child}'s chest with hot stones to delay {poss} growth.",
        "After her father died, the {perp} wants {child} inherited by a clan member as a wife.",
    ],
    "Physical Violence": [
        "The {perp} beats {child}'s mother, and {child} was injured trying to stop it.",
        "{child} was slapped and kicked by the {perp} during a fight with the mother.",
        "The {perp} attacks the mother with a panga, and {child} was cut on the arm.",
    ],
    "Sexual Violence": [
        "{child} was raped by a {perp} on the way home from {landmark}.",
        "A {perp} forced {child} into sex after a party.",
        "{child} was sexually assaulted by a {perp} near {landmark} last night.",
    ],
    "Child Abuse": [
        "What counts as child abuse, and how do I recognise the signs?",
        "I want to know where suspected abuse of a child like {child} should be reported.",
        "Can you explain the different forms of child abuse so I can teach my community?",
    ],
    "Child Rights": [
        "What rights does a child like {child} have under the law?",
        "Does a child have a right to be heard in family decisions?",
        "I want information on children's rights for a talk at {landmark}.",
    ],
    "Info on Helpline": [
        "What does this helpline do, and are the calls free?",
        "At what hours can a child call this number?",
        "Can children call this line themselves, without an adult?",
    ],
    "Legal Issues": [
        "What does the law say about the age at which a child can be employed?",
        "What is the legal age of marriage in this country?",
        "What punishment does the law give for defilement?",
    ],
    "School Related Issues": [
        "How do I transfer {child} to another school in the middle of the year?",
        "What bursaries are available for a pupil like {child}?",
        "What are the rules for re-admission of a pupil after a long absence?",
    ],
    "Balanced Diet": [
        "Which foods should {child} eat to be healthy?",
        "How do I plan balanced meals for {child} on a small budget?",
        "Is it enough to give {child} ugali and sukuma every day?",
    ],
    "Breastfeeding": [
        "How often should I breastfeed {child}, who is a baby?",
        "I have trouble breastfeeding {child} and the milk is not enough.",
        "Until what age should {child} be breastfed?",
    ],
    "Feeding & Food preparation": [
        "How do I prepare weaning porridge for {child}?",
        "How should food for {child} be prepared safely and stored?",
        "What foods can I start giving {child} after six months?",
    ],
    "Malnutrition": [
        "{child} is very thin, with swollen feet and thin hair.",
        "{child} has not been eating enough for months and looks weak.",
        "The clinic says {child} is malnourished, and the family has little food.",
    ],
    "Obesity": [
        "{child} is overweight and gets tired quickly.",
        "{child} eats a lot of sweets and chips and keeps gaining weight.",
        "The doctor said {child} is obese, and we want to help {them}.",
    ],
    "Stagnation": [
        "{child} has stopped growing and is much shorter than {poss} age mates.",
        "At the clinic, {child}'s weight has not changed in months.",
        "{child}'s growth chart has been flat since last year.",
    ],
    "Underweight": [
        "{child} weighs much less than other children of {poss} age.",
        "{child} is underweight even though {they} eats three times a day.",
        "The nurse said {child} is below the normal weight for {poss} age.",
    ],
    "Child Abduction": [
        "{child} was taken by a {perp} from outside the school gate.",
        "The {perp} took {child} away without the parents' consent and switched off the phone.",
        "A {perp} lured {child} into a car near {landmark}.",
    ],
    "Child Labor": [
        "{child} works on the {perp}'s farm all day instead of going to school.",
        "The {perp} makes {child} break stones at the quarry for a few shillings.",
        "{child} works as a house help for the {perp} and is never paid.",
    ],
    "Child Marriage": [
        "The {perp} has accepted a dowry, and {child} is to be married to an old man.",
        "{child} was pulled out of school because the {perp} is arranging {poss} marriage.",
        "The {perp} says {child} is ready for marriage, and the wedding is next month.",
    ],
    "Child Neglect": [
        "The {perp} leaves {child} alone for days without food.",
        "{child} goes without food, clothes or medical care because the {perp} does not care.",
        "The {perp} drinks all day, and {child} is left dirty and hungry.",
    ],
    "Child Trafficking": [
        "A {perp} promised {child} a job in the city and took {them} away.",
        "A {perp} collected {child} and other children and put them on a bus at night.",
        "{child} was sold to a family in town by a {perp}.",
    ],
    "Emotional Abuse": [
        "The {perp} calls {child} useless and stupid in front of everyone.",
        "The {perp} tells {child} every day that {they} should never have been born.",
        "The {perp} constantly threatens to send {child} away and never shows {them} any love.",
    ],
    "Female Genital Mutilation": [
        "The {perp} plans to take {child} for the cut during the school holiday.",
        "{child} told {poss} teacher that the {perp} is arranging female genital mutilation for her.",
        "{child} was cut last week on the {perp}'s orders and is still in pain.",
    ],
    "OCSEA": [
        "A {perp} has been asking {child} for nude pictures on the phone.",
        "A {perp} who has {child}'s photos is threatening to post them unless {child} sends more.",
        "{child} was groomed online by a {perp} who now wants to meet in person.",
    ],
    "Physical Abuse": [
        "The {perp} beats {child} with a stick almost every day.",
        "{child} has burns on {poss} hands because the {perp} punished {them} with a hot pan.",
        "The {perp} hit {child} so hard that {they} could not walk.",
    ],
    "Sexual Abuse": [
        "The {perp} has been sexually abusing {child} at home for months.",
        "{child} told me the {perp} touches {them} at night when everyone is asleep.",
        "The {perp} defiled {child} and told {them} to keep it a secret.",
    ],
    "Traditional Practice": [
        "The {perp} accuses {child} of witchcraft and wants {them} cleansed.",
        "A {perp} made cuts on {child}'s body to remove a curse.",
        "The {perp} insists {child} must go through a rite in the forest despite being sick.",
    ],
    "Unlawful Confinement": [
        "The {perp} locks {child} in a room for days.",
        "{child} is chained in the house by the {perp} so that {they} cannot go out.",
        "The {perp} keeps {child} locked in the store and never lets {them} go to school.",
    ],
}

RISK_CUES: dict[tuple[str, str], list[str]] = {
    ("1", "harm"): [
        "{child} is still in the same house as the {perp} tonight, and nobody there can protect {them}.",
        "The {perp} has threatened to do it again today, and {child} has nowhere else to go.",
        "{child} is injured and has not been seen by a doctor; the {perp} is around.",
        "It is happening right now; the caller can hear {child} screaming.",
        "The {perp} is looking for {child} at this moment, and {child} is hiding.",
        "{child} is in immediate danger, as the {perp} is due back within the hour.",
    ],
    ("1", "need"): [
        "{child} is in danger right now and cannot wait until tomorrow.",
        "{child} is too weak to stand and needs help today.",
        "The caller fears {child} will not survive the night without help.",
        "{child} is alone tonight with nobody to look after {them}.",
        "{child}'s life is at risk at this very moment.",
        "There is an emergency: {child} needs urgent help immediately.",
    ],
    ("2", "harm"): [
        "{child} is staying with a relative for now, but the {perp} lives nearby and action is needed within the day.",
        "It happened last week; {child} is safe at the moment, but nothing has been reported yet.",
        "The {perp} is away until tomorrow, so the matter must be handled before then.",
        "{child} is safe tonight, but the {perp} still has access to {them}.",
        "There is no danger this minute, but it will happen again soon if nobody acts.",
        "{child} is at a neighbour's place today; the case needs attention within 24 hours.",
    ],
    ("2", "need"): [
        "{child} is not in danger tonight, but the situation needs action within the next day.",
        "It is not an emergency, but it should be handled by tomorrow.",
        "{child} is coping for now, but things will get worse if nobody acts soon.",
        "There is no immediate danger, but {child} needs help within 24 hours.",
        "{child} is safe today; the problem still needs attention by tomorrow.",
        "The matter is pressing, though {child} is not at risk this minute.",
    ],
    ("3", "harm"): [
        "{child} no longer has contact with the {perp} and is safe; the caller wants advice.",
        "The {perp} moved away long ago; {child} is safe and the caller only wants guidance.",
        "There is no risk to {child} at the moment; the caller wants to understand the options.",
        "{child} is well cared for now, and the caller is asking for advice only.",
    ],
    ("3", "need"): [
        "There is no immediate risk; the caller mainly wanted advice.",
        "{child} is safe and well cared for; the caller only wanted information.",
        "Nothing urgent: the caller is planning ahead and asking for guidance.",
        "{child} is doing fine otherwise; this is a routine question.",
        "There is no danger to {child}; the caller wants to know what to do.",
        "This is not urgent; the caller wanted general information.",
    ],
}
