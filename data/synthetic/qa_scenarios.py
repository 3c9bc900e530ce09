"""What the callers of the synthetic call-quality transcripts talk about (13 scenarios).

These sentences carry none of the scored counsellor behaviours: they are the caller's side of the call
and the slot values ({issue_short}, {extra_issue}, {detail}) of the behaviour templates in
`qa_templates`; the caller lines at the end are notation of `qa_compose` (`(a|b)`, `[optional]`). Slots: {child}, {age}, {they}, {them}, {poss}, {caller}, {place}.
"""

from __future__ import annotations

# What the caller talks about. `issue_short` completes a paraphrase ("So, ... , {issue_short}.");
# `extra` is a second problem the caller raises; `details` feed {detail} and the caller's filler turns.
SCENARIOS: dict[str, dict[str, list[str]]] = {
    "child_abuse_report": {
        "problems": [
            "I am calling because {child}, who is {age}, is being beaten at home by {poss} stepfather.",
            "My neighbour's child, {child}, has bruises again, and I heard screaming last night.",
            "{child} told me that an older relative touches {them} when the parents are away.",
        ],
        "details": [
            "The beatings happen mostly when the stepfather comes home drunk.",
            "Last week {child} came to school with a swollen eye.",
            "{child} is afraid to go home in the evening.",
            "The mother says nothing because she is also scared.",
        ],
        "issue_short": [
            "{child} is being hurt at home and you fear it will happen again",
            "you have seen signs that {child} is being abused by someone in the family",
            "{child} is not safe at home and nobody there is protecting {them}",
        ],
        "extra": [
            "{poss} younger brother also stopped going to school",
            "the family may be evicted at the end of the month",
            "the mother has no identity card and cannot get help",
        ],
    },
    "bullying": {
        "problems": [
            "My child {child} is being bullied at school and comes home crying.",
            "Some older pupils take {child}'s money and push {them} around every day.",
            "{child}, who is {age}, is mocked in class and now refuses to go to school.",
        ],
        "details": [
            "They call {child} names because of {poss} torn uniform.",
            "{child} has started pretending to be sick in the mornings.",
            "The class teacher said children will be children.",
            "Yesterday they threw {poss} books into the latrine.",
        ],
        "issue_short": [
            "{child} is bullied by other pupils and is now afraid of school",
            "other children torment {child} and the school has not stopped it",
            "{child} is being picked on every day and it is affecting {poss} schooling",
        ],
        "extra": [
            "{child} also has trouble reading and needs extra help",
            "we cannot afford a new uniform this term",
            "{child} has had headaches for weeks",
        ],
    },
    "neglect": {
        "problems": [
            "There is a child, {child}, aged {age}, who is left alone for days without food.",
            "The parents of {child} drink all day, and the children go hungry.",
            "{child} sleeps outside most nights because nobody opens the door for {them}.",
        ],
        "details": [
            "{child} comes to our house asking for food almost every day.",
            "The clothes {child} wears are torn and dirty.",
            "The mother left months ago and the father works far away.",
            "The small ones are looked after by {child}, who is only a child too.",
        ],
        "issue_short": [
            "{child} is not being fed or cared for by the adults at home",
            "the parents are not looking after {child} and {they} goes hungry",
            "{child} is left on {poss} own without food or shelter",
        ],
        "extra": [
            "the children have also not been immunised",
            "{child} has a wound that is not healing",
            "the house roof leaks badly",
        ],
    },
    "runaway": {
        "problems": [
            "{child}, who is {age}, ran away from home three days ago and we cannot find {them}.",
            "My son's friend {child} has been sleeping at the bus park since leaving home.",
            "{child} keeps running away after every quarrel with {poss} father.",
        ],
        "details": [
            "Someone saw {child} near the market yesterday evening.",
            "{child} took only a small bag and a jacket.",
            "The father says {child} will come back when hungry.",
            "This is the third time this year.",
        ],
        "issue_short": [
            "{child} has left home and is now living on the street",
            "{child} ran away and you do not know where {they} is sleeping",
            "{child} keeps leaving home because of the conflict with the father",
        ],
        "extra": [
            "{child} has missed the whole term of school",
            "the mother is unwell and cannot search",
            "{child} may have started using drugs",
        ],
    },
    "school_issues": {
        "problems": [
            "{child} was sent home from school because of unpaid fees.",
            "The school wants to expel {child}, who is {age}, for poor performance.",
            "{child} is struggling in class and the teachers say {they} is lazy.",
        ],
        "details": [
            "We owe the school a large amount for last term.",
            "{child} used to be among the top pupils.",
            "The head teacher refuses to meet us.",
            "{child} studies by a kerosene lamp at night.",
        ],
        "issue_short": [
            "{child} is out of school because the fees are unpaid",
            "the school is pushing {child} out and you want {them} to keep learning",
            "{child} is falling behind and the school is not supporting {them}",
        ],
        "extra": [
            "{child} needs glasses to see the board",
            "we also have no birth certificate for the exam registration",
            "the younger sibling has not been admitted anywhere",
        ],
    },
    "child_labour": {
        "problems": [
            "{child}, who is {age}, works at the quarry every day instead of going to school.",
            "A relative brought {child} from the village to work as a house help.",
            "{child} herds cattle from morning to night and is never paid.",
        ],
        "details": [
            "{child} wakes up at five to fetch water for the whole compound.",
            "The employer keeps the money that should go to the parents.",
            "{child} has blisters on {poss} hands.",
            "{child} has not been in a classroom for a year.",
        ],
        "issue_short": [
            "{child} is being made to work instead of going to school",
            "{child} is working like an adult and is not being paid or protected",
            "{child} has been taken out of school to do heavy work",
        ],
        "extra": [
            "{child} has a cough that will not go away",
            "{child} wants to go back to the family in the village",
            "the employer took {poss} documents",
        ],
    },
    "early_marriage": {
        "problems": [
            "The family of {child}, who is only {age}, wants to marry {them} off to an older man.",
            "{child} was taken out of school because a marriage is being arranged.",
            "{child} called me in tears; the wedding is planned for next month.",
        ],
        "details": [
            "The dowry has already been partly paid.",
            "{child} wants to finish school and become a nurse.",
            "The elders say it is the custom.",
            "The man is older than {child}'s father.",
        ],
        "issue_short": [
            "{child} is being forced into marriage while still a child",
            "the family is arranging for {child} to marry and {they} does not want it",
            "{child} may be married off soon and wants to stay in school",
        ],
        "extra": [
            "{child}'s younger sister may be next",
            "{child} has been threatened for telling a teacher",
            "the family has no food since the harvest failed",
        ],
    },
    "custody_dispute": {
        "problems": [
            "My ex-husband took {child} and refuses to bring {them} back.",
            "The grandmother wants custody of {child}, but the father says no.",
            "We separated and now we are fighting over where {child} should live.",
        ],
        "details": [
            "{child} has been with the father for two weeks now.",
            "There was a court case but it never finished.",
            "{child} says {they} wants to live with both of us.",
            "The father stopped sending money for food.",
        ],
        "issue_short": [
            "you and the other parent disagree about who should care for {child}",
            "{child} is caught in a custody fight between the parents",
            "the father is keeping {child} from you and you want the matter settled",
        ],
        "extra": [
            "the father is not paying any maintenance",
            "{child}'s school is far from where the father lives",
            "I have no lawyer and no money for one",
        ],
    },
    "mental_health": {
        "problems": [
            "{child}, who is {age}, has stopped eating and talks about not wanting to live.",
            "Since {poss} mother died, {child} does not talk to anyone.",
            "I found cuts on {child}'s arm and {they} will not say why.",
        ],
        "details": [
            "{child} stays in bed the whole day.",
            "{child} gave away {poss} favourite things last week.",
            "The teachers noticed {child} crying in class.",
            "{child} used to love football and now refuses to play.",
        ],
        "issue_short": [
            "{child} is very low and may be thinking of hurting {them}self",
            "{child} has been deeply sad since the loss and has withdrawn",
            "{child} is harming {them}self and will not talk about it",
        ],
        "extra": [
            "I am also struggling to cope myself",
            "{child}'s younger sibling has started wetting the bed",
            "we were told counselling costs money we do not have",
        ],
    },
    "teen_pregnancy": {
        "problems": [
            "{child}, who is {age}, is pregnant and afraid to tell {poss} parents.",
            "My niece {child} is expecting and the school told her to leave.",
            "{child} found out she is pregnant and the man has disappeared.",
        ],
        "details": [
            "{child} is about four months along.",
            "She has not been to any clinic yet.",
            "The man is a motorbike rider from the next village.",
            "{child}'s father has threatened to throw her out.",
        ],
        "issue_short": [
            "{child} is pregnant, scared and not getting care",
            "{child} is pregnant and the school is pushing her out",
            "{child} is expecting a baby and the man responsible has vanished",
        ],
        "extra": [
            "{child} wants to know if she can sit her exams",
            "there is no money for clinic visits",
            "her mother is also sick at home",
        ],
    },
    "online_abuse": {
        "problems": [
            "Someone online is asking {child}, who is {age}, for pictures and threatening {them}.",
            "{child} met a man on social media who now wants to meet {them} alone.",
            "Photos of {child} were shared in a group chat without consent.",
        ],
        "details": [
            "The messages come late at night.",
            "The man sent {child} airtime and money.",
            "{child} deleted the account but he opened a new one.",
            "{child} is too ashamed to go to school now.",
        ],
        "issue_short": [
            "a stranger online is pressuring and threatening {child}",
            "{child} is being groomed by someone on social media",
            "private pictures of {child} are being spread online",
        ],
        "extra": [
            "{child} also owes money to a classmate for data bundles",
            "the phone belongs to {poss} older sister",
            "{child} is being teased at school about it",
        ],
    },
    "substance_abuse": {
        "problems": [
            "{child}, who is {age}, comes home drunk most evenings.",
            "We found bhang in {child}'s bag and {they} has started stealing.",
            "{child} sniffs glue with street boys near the market.",
        ],
        "details": [
            "{child} sells things from the house to buy more.",
            "The older youths give it to {child} for free at first.",
            "{child} becomes violent when {they} has not had any.",
            "{child} was suspended from school last month.",
        ],
        "issue_short": [
            "{child} is using drugs or alcohol and it is getting worse",
            "{child} has started taking substances and stealing to pay for them",
            "{child} is drinking heavily and it is affecting school and home",
        ],
        "extra": [
            "{child} also has a court case for a stolen phone",
            "I am afraid of {child} when {they} gets angry",
            "{child} has not eaten properly for days",
        ],
    },
    "nutrition_advice": {
        "problems": [
            "My baby {child} is not gaining weight and I do not know what to feed {them}.",
            "{child}, who is {age}, is very thin and the clinic said {they} is underweight.",
            "I want to know what food is good for {child} now that {they} has stopped breastfeeding.",
        ],
        "details": [
            "We mostly eat ugali and sukuma wiki.",
            "{child} refuses porridge in the morning.",
            "The clinic card shows the weight has not changed.",
            "Money is short since the harvest failed.",
        ],
        "issue_short": [
            "{child} is not growing well and you want to feed {them} better",
            "{child} is underweight and you need advice on the right foods",
            "you want to know how to give {child} a good diet with what you have",
        ],
        "extra": [
            "{child} also has diarrhoea on and off",
            "the older one has not been dewormed",
            "we have no clean water nearby",
        ],
    },
}

CALLER_INTROS: list[str] = [
    "Caller: Hello, my name is {caller}, and I am calling from {place}.",
    "Caller: It is {caller} here, from {place}.",
    "Caller: Habari. I am {caller}; we live in {place}.",
    "Caller: My name is {caller}. I got this number at the chief's office in {place}.",
    "Caller: Good morning, this is {caller} calling from {place}.",
    "Caller: I am {caller}, a parent in {place}.",
    "Caller: Niaje. Ni {caller} hapa, from {place}.",
    "Caller: Habari yako. Mimi ni {caller}, I live in {place}.",
    "Caller: Sasa. My name is {caller}, niko {place}.",
    "Caller: Um, yes, I am {caller}, calling from {place}.",
]

# The caller speaks first on some calls, before the counsellor's opening.
CALLER_FIRST: list[str] = [
    "(Hello|Hallo)[?] (Hello?|Is this the helpline?|Can you hear me?)",
    "(Niaje|Sasa|Habari)[,] (is this the child line|am I through)?",
    "[Eeh, ](hello|hi)[, hello]?",
]

# Short caller acknowledgements between two counsellor turns, some in Swahili or Sheng.
BACKCHANNELS: list[str] = [
    "(Okay|Yes|I see|Alright|Mm-hmm|Sawa|Ndio|Eeh|Poa|Sawa sawa)[.]",
    "(Yes, I understand|Okay, go on|Ndio, nimeskia|Poa poa).",
]

# Words a caller puts before a sentence: fillers and code-switched discourse words.
CALLER_OPENERS: list[str] = ["Um, ", "Eeh, ", "Aki, ", "Si unajua, ", "Kwani, ", "So, ", "Like, ", "Hata sijui, "]

# Caller lines that carry nothing of the counsellor's behaviour: code-switched asides and small talk.
CALLER_ASIDES: list[str] = [
    "(Aki|Eeh), (ni ngumu sana|hii ni shida kubwa)[, you know].",
    "(Si unajua|Unajua) (how it is here|hii maneno ni ngumu)[, madam|, boss].",
    "(Sorry|Pole), (the network is bad here|my phone is almost off|I am walking)[, can you hear me]?",
    "(Niko|I am) (at the market|on the road|outside the house) (sasa hivi|right now).",
]

# The caller breaking into a counsellor's turn (the counsellor is interrupted, not the caller).
CALLER_INTERRUPTIONS: list[str] = [
    "(Sorry|Wait|Eeh), (the network is breaking|someone is coming|I did not hear you)[, say again].",
    "(Hello? Hello?|Are you there?)[ I lost you].",
]

# The caller's last word after the counsellor's closing (callers may say "asante": the reserved politeness words
# only count in counsellor turns).
CALLER_FAREWELLS: list[str] = [
    "(Okay|Sawa|Alright)[,] (bye|asante|thank you)[ sana].",
    "(Asante|Thank you) (sana|very much)[, bye].",
    "(Poa|Sawa), (tutaonana|kwaheri).",
]
